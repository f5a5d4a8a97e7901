"""Tables, percentiles and machine facts shared by the measuring scripts (bench, evaluate, soak).

Benchmarks on a shared 2-core machine are noisy, so every report says which CPU ran it (model and the vector
instruction sets that decide which embedding backend wins) and what the load was.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

# The instruction sets that change which backend is fastest: ONNX Runtime's int8 kernels use VNNI when present.
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8")


def table(header: Sequence[object], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table with aligned columns."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    return "\n".join([line(cells[0]), "| " + " | ".join("-" * w for w in widths) + " |", *map(line, cells[1:])])


def p50(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def p95(values: Sequence[float]) -> float:
    return float(np.percentile(values, 95)) if len(values) else float("nan")


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base and np.isfinite(base) and np.isfinite(value) else "–"


def rotations(items: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, item) in interleaved order: every round runs every item, starting one further each round."""
    for r in range(rounds):
        for i in range(len(items)):
            yield r, items[(r + i) % len(items)]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", float("nan")), fields.get("VmHWM", float("nan"))


def cpu_flags() -> list[str]:
    """Which of CPU_FLAGS this CPU has."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    return [flag for flag in CPU_FLAGS if flag in flags]


def machine() -> str:
    """CPU model and flags, cores, memory, platform, library versions and the load, for a report's header."""
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), platform.processor())
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    memory = next(int(line.split()[1]) for line in meminfo if "MemTotal" in line)
    versions = []
    for name in ("torch", "sentence_transformers", "onnxruntime", "faiss", "numpy", "ctranslate2"):
        with contextlib.suppress(ImportError):
            versions.append(f"{name} {__import__(name).__version__}")
    return (
        f"{cpu} (flags: {' '.join(cpu_flags()) or 'none of ' + ' '.join(CPU_FLAGS)}), {os.cpu_count()} cores, "
        f"{memory / 1024 / 1024:.0f} GiB RAM, no GPU; {platform.platform()}; Python {platform.python_version()}; "
        f"{', '.join(versions)}; load average at start {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
