"""Benchmark speech recognition: real-time factor per compute type, with and without word timestamps.

    python scripts/bench_transcription.py --minutes 10 --rounds 2 --hour       # about 15 minutes on 2 cores

A long episode is made by repeating the speech fixtures of tests/data/audio (espeak-ng voices, music and a
silence included) to `--minutes`; every variant transcribes it once per round, variants interleaved in a
rotated order, and the median is reported. Word agreement and paragraph start errors are measured on the
fixtures themselves (their script is known). `--hour` also times one 60-minute episode with the default
settings, decode included: the target is a one-hour episode in under 6 minutes. scripts/bench.py runs the same
measurement as its section 8, into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from reporting import machine

from index.audio.decode import SAMPLE_RATE, decode
from index.audio.model import find_model
from index.audio.recognize import Recognizer
from index.audio.scoring import agreement, start_errors

ROOT = Path(__file__).resolve().parents[1]

AUDIO = ROOT / "tests" / "data" / "audio"
FIXTURES = {"episode.mp3": "episode.mp3", "clip-44k-stereo.mp3": "clip", "clip-8k-mono.wav": "clip"}


def long_audio(minutes: float) -> np.ndarray:
    """The fixtures end to end, repeated to `minutes` of audio."""
    pieces = [decode(AUDIO / name, name) for name in FIXTURES]
    one = np.concatenate(pieces)
    repeats = int(np.ceil(minutes * 60 * SAMPLE_RATE / one.size))
    return np.tile(one, repeats)[: int(minutes * 60 * SAMPLE_RATE)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the timed episode")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compute-types", default="int8,float32")
    parser.add_argument("--hour", action="store_true", help="also time a 60-minute episode, default settings")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args(argv)
    text = f"Machine: {machine()}.\n\n" + transcription_report(
        args.minutes, args.rounds, args.compute_types.split(","), hour=args.hour
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def transcription_report(minutes: float, rounds: int, compute_types: list[str], *, hour: bool) -> str:
    """The real-time factor table (and the one-hour line) as Markdown."""
    model = find_model("tiny.en")
    script = json.loads((AUDIO / "script.json").read_text(encoding="utf-8"))
    variants = [(ct, wt) for ct in compute_types for wt in (True, False)]
    recognizers: dict[tuple[str, bool], Recognizer] = {}
    loads: dict[tuple[str, bool], float] = {}
    for variant in variants:
        began = time.perf_counter()
        recognizers[variant] = Recognizer(model, compute_type=variant[0], word_timestamps=variant[1])
        recognizers[variant].load()
        loads[variant] = time.perf_counter() - began
    audio = long_audio(minutes)
    speeds: dict[tuple[str, bool], list[float]] = {v: [] for v in variants}
    for round_number in range(rounds):
        order = variants[round_number % len(variants) :] + variants[: round_number % len(variants)]
        for variant in order:
            transcript = recognizers[variant].transcribe(audio, "bench")
            speeds[variant].append(transcript.speed)
            print(f"round {round_number + 1} {variant}: {transcript.speed:.1f}x real time", file=sys.stderr)
    rows = []
    for variant in variants:
        recognizer = recognizers[variant]
        scores, errors = [], []
        for name, key in FIXTURES.items():
            words = list(recognizer.transcribe(decode(AUDIO / name, name), name).words)
            scores.append(agreement(" ".join(s["text"] for s in script[key]), words))
            if name == "episode.mp3":
                errors = [e for e in start_errors(script[key], words).values() if e is not None]
        rows.append(
            f"| {variant[0]} | {'yes' if variant[1] else 'no'} | {loads[variant]:.1f} |"
            f" {statistics.median(speeds[variant]):.1f}x | "
            + " / ".join(f"{s:.0%}" for s in scores)
            + f" | {statistics.mean(errors):.2f} / {max(errors):.2f} |"
        )
    lines = [
        f"Model: {model.model_id}, greedy, VAD on. Timed episode: {minutes:g} min of the fixtures repeated;"
        f" median of {rounds} rounds.",
        "",
        "| compute type | word timestamps | model load s | real-time factor | words recovered: episode / 44.1 kHz"
        " stereo / 8 kHz mono | paragraph start error mean / max s |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
    ]
    if hour:
        default = recognizers[("int8", True)]
        hour = long_audio(60)
        path = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-hour.wav"
        _write_wav(path, hour)
        began = time.perf_counter()
        samples = decode(path, str(path))
        decoded = time.perf_counter() - began
        transcript = default.transcribe(samples, "hour")
        total = decoded + transcript.seconds
        path.unlink()
        lines += [
            "",
            f"One hour (int8, word timestamps): decode {decoded:.1f} s + transcribe {transcript.seconds:.0f} s ="
            f" {total / 60:.1f} min ({3600 / total:.1f}x real time; VAD kept {transcript.speech / 60:.0f} of 60 min).",
        ]
    return "\n".join(lines)


def _write_wav(path: Path, samples: np.ndarray) -> None:
    import wave

    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


if __name__ == "__main__":
    sys.exit(main())
