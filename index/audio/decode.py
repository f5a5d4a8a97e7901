"""Any audio file PyAV (bundled FFmpeg) reads, as the 16 kHz mono float samples Whisper takes.

Sample rate and channel layout are converted here (44.1 kHz stereo MP3, 8 kHz mono WAV, Ogg, AAC); what cannot
be decoded becomes an AudioError naming the file, never a half-read episode. Decoding goes packet by packet, as
the ffmpeg command does: a damaged packet, or a frame that decodes into another layout, is skipped, and where
the next good frame's timestamp says time was lost it is filled with silence. One bad stretch in the middle of an
MP3 no longer ends the episode there (faster-whisper's own decoder stops at the first one); formats that count
their timestamps rather than store them (MP3, ADTS AAC) still shift what follows by up to the damaged length.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from index.errors import AudioError, TruncatedAudio
from index.links import format_clock

SAMPLE_RATE = 16_000
# A file this much shorter than the feed says was cut short (feeds round their durations, so leave room).
TRUNCATED_BELOW = 0.9
TRUNCATED_MIN_SECONDS = 10.0
# Decoded samples live in memory (about 4 GB for 8 hours at 16 kHz, counting the copies): decoding stops with an
# AudioError once a file passes this, however small it is (a 7 MB FLAC holds 10 hours of silence). Not judged from
# the declared duration: for an MP3 without a header FFmpeg guesses it from the first frames' bitrate.
MAX_HOURS = 8
# Lost packets leave gaps of a second or so; a timestamp that jumps further is broken, not lost audio.
MAX_GAP_SECONDS = 30


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
        samples = _decode_packets(path, source)
    except (av.error.FFmpegError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise AudioError(source, f"not audio that can be decoded ({reason})") from exc
    except IndexError as exc:  # streams.audio[0] of a file without an audio stream
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
    return samples


def _decode_packets(path: Path, source: str) -> np.ndarray:
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    decoded = 0  # samples so far, to place each frame where its timestamp says (a lost packet leaves a gap)
    limit = MAX_HOURS * 3600 * SAMPLE_RATE
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        origin = (stream.start_time or 0) * stream.time_base
        shape = None  # the first good frame's format, layout and rate: damage can decode into others
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue  # a damaged packet: its time is filled with silence when the next good frame is placed
            for frame in frames:
                shape = shape or (frame.format.name, frame.layout.name, frame.sample_rate)
                if (frame.format.name, frame.layout.name, frame.sample_rate) != shape:
                    continue
                if frame.time is not None:
                    gap = round((frame.time - origin) * SAMPLE_RATE) - decoded
                    if SAMPLE_RATE // 10 < gap <= MAX_GAP_SECONDS * SAMPLE_RATE:  # not rounding, not a broken clock
                        pieces.append(np.zeros(gap, dtype=np.int16))
                        decoded += gap
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray().reshape(-1))
                    decoded += pieces[-1].size
                if decoded > limit:
                    raise AudioError(source, f"the audio is over the {MAX_HOURS}-hour limit")
        for out in resampler.resample(None):
            pieces.append(out.to_ndarray().reshape(-1))
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces).astype(np.float32) / 32768.0
