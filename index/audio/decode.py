"""Any audio file PyAV (bundled FFmpeg) reads, as the 16 kHz mono float samples Whisper takes.

Sample rate and channel layout are converted here (44.1 kHz stereo MP3, 8 kHz mono WAV, Ogg, AAC); what cannot
be decoded becomes an AudioError naming the file, never a half-read episode.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from faster_whisper.audio import decode_audio

from index.errors import AudioError, TruncatedAudio
from index.links import format_clock

SAMPLE_RATE = 16_000
# A file this much shorter than the feed says was cut short (feeds round their durations, so leave room).
TRUNCATED_BELOW = 0.9
TRUNCATED_MIN_SECONDS = 10.0


def decode(path: Path, source: str, *, expected: float | None = None) -> np.ndarray:
    """16 kHz mono samples of the audio in `path`; `source` names it in errors.

    `expected` (seconds, the feed's `<itunes:duration>`) catches a file that decodes but was cut short: an MP3
    truncated at its source has no other sign of it.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(source, f"cannot read the audio ({exc.strerror or exc})") from exc
    if size == 0:
        raise AudioError(source, "empty file: no audio")
    try:
        samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise AudioError(source, f"not audio that can be decoded ({reason})") from exc
    except IndexError as exc:  # container.decode(audio=0) on a file without an audio stream
        raise AudioError(source, "the file has no audio stream") from exc
    if samples.size == 0:
        raise AudioError(source, "no audio samples could be decoded")
    seconds = samples.size / SAMPLE_RATE
    if expected and seconds < expected * TRUNCATED_BELOW and expected - seconds > TRUNCATED_MIN_SECONDS:
        raise TruncatedAudio(
            source,
            f"the audio ends at {format_clock(seconds)} but the feed says the episode is {format_clock(expected)}:"
            " the file is truncated",
        )
    return samples.astype(np.float32, copy=False)
