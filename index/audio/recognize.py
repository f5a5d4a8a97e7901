"""Speech to word-timed text with faster-whisper (CTranslate2), greedy decoding on the CPU.

Every word keeps the time Whisper aligned it to, so sentences are timed from their first word rather than
interpolated. Voice activity detection (Silero, shipped inside faster-whisper) cuts out long silences and
music before decoding: Whisper invents text for them otherwise, and the cut-out stretches cost no time.
Timestamps stay on the original timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.audio.decode import SAMPLE_RATE
from index.audio.model import WhisperModel
from index.errors import AudioError
from index.links import format_clock

RECOGNIZER_VERSION = 1  # bump when the transcripts made from the same audio and settings change
# Decoding settings, part of every cache key. Greedy (beam 1) is what makes tiny.en run >10x real time on two
# cores; not conditioning on the previous text stops the repetition loops small models fall into on long audio.
DECODING: dict[str, Any] = {"beam_size": 1, "best_of": 1, "condition_on_previous_text": False}
# Silences up to 2 s stay inside a passage of speech; padding keeps word starts from being clipped.
VAD: dict[str, Any] = {"threshold": 0.5, "min_silence_duration_ms": 2000, "speech_pad_ms": 400}


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class MachineTranscript:
    """What speech recognition heard in one episode, and what it cost."""

    words: tuple[Word, ...]
    duration: float  # seconds of audio
    speech: float  # seconds voice activity detection kept
    seconds: float  # wall-clock seconds spent decoding and transcribing

    @property
    def speed(self) -> float:
        """Real-time factor: seconds of audio transcribed per second of work."""
        return self.duration / self.seconds if self.seconds > 0 else float("inf")


class Recognizer:
    """One Whisper model, loaded on first use (a run with every transcript cached never loads it)."""

    def __init__(
        self, model: WhisperModel, *, compute_type: str = "int8", word_timestamps: bool = True, threads: int = 0
    ) -> None:
        self.model = model
        self.compute_type = compute_type
        self.word_timestamps = word_timestamps
        self.threads = threads
        self._whisper: Any = None

    @property
    def settings(self) -> dict[str, object]:
        """Everything a transcript depends on besides the audio: the cache key's other half."""
        return {
            "model": self.model.model_id,
            "compute_type": self.compute_type,
            "word_timestamps": self.word_timestamps,
            "decoding": DECODING,
            "vad": VAD,
            "version": RECOGNIZER_VERSION,
        }

    def load(self) -> None:
        if self._whisper is None:
            from faster_whisper import WhisperModel as FasterWhisper  # imported here: loading it costs a second

            try:
                self._whisper = FasterWhisper(
                    str(self.model.path),
                    device="cpu",
                    compute_type=self.compute_type,
                    cpu_threads=self.threads,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise AudioError(str(self.model.path), f"cannot load the Whisper model ({exc})") from exc

    def transcribe(
        self, samples: np.ndarray, source: str, *, progress: Callable[[float], None] | None = None
    ) -> MachineTranscript:
        """The words in `samples` (16 kHz mono); `progress` hears how far into the audio decoding has got.

        Raises AudioError when voice activity detection finds no speech at all.
        """
        self.load()
        began = time.perf_counter()
        duration = samples.size / SAMPLE_RATE
        segments, info = self._whisper.transcribe(
            samples,
            language=None if self._whisper.model.is_multilingual else "en",
            word_timestamps=self.word_timestamps,
            vad_filter=True,
            vad_parameters=VAD,
            **DECODING,
        )
        words: list[Word] = []
        for segment in segments:
            if self.word_timestamps:
                words += _words(segment.words or ())
            else:  # benchmarks only: one "word" per segment, timed by the segment
                words.append(Word(float(segment.start), float(segment.end), segment.text.strip()))
            if progress is not None:
                progress(min(float(segment.end), duration))
        words = [w for w in words if w.text]
        if not words:
            raise AudioError(
                source, f"no speech found in {format_clock(duration)} of audio (voice activity detection): skipped"
            )
        if progress is not None:
            progress(duration)
        speech = float(info.duration_after_vad) if info.duration_after_vad is not None else duration
        return MachineTranscript(tuple(words), duration, speech, time.perf_counter() - began)


def _words(aligned: Sequence[Any]) -> list[Word]:
    """Whisper's words of one segment; a piece without a leading space continues the word before it."""
    words: list[Word] = []
    for piece in aligned:
        text = piece.word
        if words and text and not text[0].isspace():
            last = words[-1]
            words[-1] = Word(last.start, float(piece.end), last.text + text.strip())
        else:
            words.append(Word(float(piece.start), float(piece.end), text.strip()))
    return words
