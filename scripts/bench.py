"""Benchmark the embedding backends, incremental rebuilds, vector index types, query latency and cold start.

    python scripts/bench.py --corpus ../shared/corpus --out docs/benchmarks.md          # 27 minutes on 2 cores
    python scripts/bench.py --corpus ../shared/corpus --out /tmp/bench.md --quick       # a smoke run, minutes

Variants are measured side by side in the same run, interleaved (each round runs every variant, in a rotated
order), and reported as medians (p95 where asked) and ratios to the torch baseline: on a shared 2-core machine
single timings are noise. Prints the tables, writes them to --out with the command and the machine, and plots
query latency against index size to --plot. Benchmarks are not tests; tests check correctness only.

Sections: 1 encoding speed, 2 full vs incremental build, 3 retrieval quality, 4 vector index types at 10k-1M
synthetic vectors, 5 answer latency (each path of an answer, and quote quality), 6 cold start and memory of
`python -m bot`, 7 fifty /ask at once through the real client, 8 speech recognition speed.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
from reporting import log, machine, p50, p95, ratio, rotations, rss_mb, table

from bot.settings import Settings
from index.build import BuildReport, build_index
from index.chunking import ChunkerSettings
from index.embedding import BACKENDS, Embedder, PassageText, export_onnx, load_embedder
from index.episodes import read_feed
from index.evaluation import TOLERANCE, Question, answers, first_answer_rank, load_questions, score
from index.layout import IndexLayout
from index.models import Episode
from index.search import Searcher
from index.sources import read_local
from index.vectors import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

ROOT = Path(__file__).resolve().parents[1]

FEEDS = ("talkpython", "changelog", "djangochat")
# The bot's defaults, so end-to-end queries do what the bot does.
SCORE_FLOOR: float = Settings.model_fields["score_floor"].default
RESULTS: int = Settings.model_fields["results_per_page"].default
DEFAULT_BACKEND: str = Settings.model_fields["embedding_backend"].default
SYNTHETIC_JITTER = 0.5  # see synthetic(): nearest-neighbour cosines then match the real passages'


@dataclass(frozen=True, kw_only=True)
class Plan:
    """How much of each section to run: the full run for docs/benchmarks.md, or a quick smoke run."""

    backends: list[str]
    rounds: int
    encode_passages: int
    episodes: int | None  # talkpython episodes in the build section (None = all 100)
    sizes: list[int]
    cold_rounds: int
    ef_sweep: list[int]
    ivf: bool
    questions: int | None  # dev questions for latency sections (None = all)
    speech_minutes: float  # length of the episode transcribed in section 8
    hour: bool  # section 8 also times a one-hour episode
    feeds: tuple[str, ...] = FEEDS  # the "full corpus" of the quality and latency sections


def full_plan(backends: list[str]) -> Plan:
    return Plan(
        backends=backends,
        rounds=3,
        encode_passages=512,
        episodes=None,
        sizes=[10_000, 100_000, 1_000_000],
        cold_rounds=3,
        ef_sweep=[16, 32, 64, 128, 256],
        ivf=True,
        questions=None,
        speech_minutes=10,
        hour=True,
    )


def quick_plan(backends: list[str]) -> Plan:
    return Plan(
        backends=backends,
        rounds=2,
        encode_passages=64,
        episodes=6,
        sizes=[10_000, 50_000],
        cold_rounds=1,
        ef_sweep=[16, 64, 128],
        ivf=True,
        questions=10,
        speech_minutes=2,
        hour=False,
        feeds=("talkpython", "djangochat"),
    )


# Sections that read what another one made: the full-corpus indexes of section 3.
NEEDS = {4: {3}, 5: {3}, 6: {3}, 7: {3}}
SECTIONS = (1, 2, 3, 4, 5, 6, 7, 8)


def check_sections(selected: set[int]) -> str | None:
    """Why a selection of sections cannot run (an unknown one, or one whose input is not selected), or None."""
    if unknown := selected - set(SECTIONS):
        return f"no section {', '.join(map(str, sorted(unknown)))}; sections are {', '.join(map(str, SECTIONS))}"
    for section in sorted(selected):
        if missing := NEEDS.get(section, set()) - selected:
            needed = ", ".join(map(str, sorted(missing)))
            return f"section {section} needs section {needed} (its full-corpus indexes): add {needed} to --sections"
    return None


@dataclass
class Results:
    sections: dict[str, str] = field(default_factory=dict)  # title -> markdown
    plot: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)  # series -> (size, p50, p95)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- helpers


def feed_episodes(corpus: Path, name: str) -> list[Episode]:
    feed = corpus / name / "feed.xml"
    return list(read_feed(feed.read_bytes(), str(feed)).episodes)


def edited(data: bytes) -> bytes:
    """A small correction in the middle of a transcript: one word in one sentence changes."""
    text = data.decode("utf-8")
    at = text.find(" the ", len(text) // 2)
    return (text[:at] + " this " + text[at + 5 :]).encode("utf-8")


def build(
    episodes: Sequence[Episode], out: Path, embedder: Embedder, cache: Path, read: Callable[[Episode], bytes]
) -> BuildReport:
    return build_index(episodes, out, embedder=embedder, chunker=ChunkerSettings(), read=read, cache_dir=cache)


def passages_of(index_dir: Path) -> list[PassageText]:
    """A build's passages as they were embedded: show and title header, then their sentences."""
    import sqlite3

    with sqlite3.connect(IndexLayout(index_dir).current() / "meta.sqlite") as conn:
        sentences = [row[0] for row in conn.execute("SELECT text FROM sentences ORDER BY id")]
        rows = conn.execute(
            "SELECT e.podcast, e.title, c.first_sentence, c.last_sentence FROM chunks c"
            " JOIN episodes e ON e.id = c.episode_id ORDER BY c.id"
        ).fetchall()
    return [PassageText(f"{show}: {title}. ", sentences[a : b + 1]) for show, title, a, b in rows]


# ---------------------------------------------------------------------------------------------------- sections


def section_encoding(
    plan: Plan, embedders: dict[str, Embedder], passages: list[PassageText], questions: list[str], out: Results
) -> None:
    """Passages/s on the same real passages, alone and with their sentence vectors (what a build computes), and
    single-question embed time, per backend, interleaved."""
    sample = random.Random(7).sample(passages, min(plan.encode_passages, len(passages)))
    texts = [p.text for p in sample]
    for embedder in embedders.values():  # warm-up: first calls allocate
        embedder.embed(texts[:16])
        embedder.embed_passages(sample[:16])
    speed: dict[str, list[float]] = {b: [] for b in embedders}
    pooled: dict[str, list[float]] = {b: [] for b in embedders}
    query_ms: dict[str, list[float]] = {b: [] for b in embedders}
    for r, backend in rotations(list(embedders), plan.rounds):
        began = time.perf_counter()
        embedders[backend].embed(texts)
        speed[backend].append(len(sample) / (time.perf_counter() - began))
        began = time.perf_counter()
        embedders[backend].embed_passages(sample)
        pooled[backend].append(len(sample) / (time.perf_counter() - began))
        for question in questions:
            began = time.perf_counter()
            embedders[backend].embed([question])
            query_ms[backend].append((time.perf_counter() - began) * 1000)
        log(f"encoding round {r + 1}: {backend} {speed[backend][-1]:.1f} / {pooled[backend][-1]:.1f} passages/s")
    base_speed, base_query = p50(speed["torch"]), p50(query_ms["torch"])
    rows = [
        [
            b,
            f"{p50(speed[b]):.1f}",
            ratio(p50(speed[b]), base_speed),
            f"{p50(pooled[b]):.1f} ({100 * (p50(speed[b]) / p50(pooled[b]) - 1):+.0f}% time)",
            f"{p50(query_ms[b]):.2f}",
            f"{p95(query_ms[b]):.2f}",
            ratio(base_query, p50(query_ms[b])),
        ]
        for b in embedders
    ]
    out.sections["1. Encoding speed"] = (
        f"{len(sample)} real talkpython passages (120 words, the default chunker, with their title header), batch "
        f"size 32, {plan.rounds} interleaved rounds: passage vectors alone, then passage and sentence vectors from "
        f"one forward pass (`embed_passages`, what a build runs); {len(questions)} dev questions embedded one at a "
        "time per round.\n\n"
        + table(
            [
                "backend",
                "passages/s",
                "vs torch",
                "with sentence vectors",
                "query ms p50",
                "query ms p95",
                "query speed-up",
            ],
            rows,
        )
    )


def section_exports(plan: Plan, work: Path, out: Results) -> None:
    """One-off cost of the first use of an ONNX backend: exporting (and quantising) the bundled model."""
    rows = []
    for backend in [b for b in plan.backends if b != "torch"]:
        with tempfile.TemporaryDirectory(dir=work) as scratch:
            began = time.perf_counter()
            path = export_onnx("all-MiniLM-L6-v2", backend, Path(scratch))
            seconds = time.perf_counter() - began
            size = (path / "model.onnx").stat().st_size / 1e6
        rows.append([backend, f"{seconds:.1f}", f"{size:.0f}"])
    if rows:
        out.sections["1b. First use of an ONNX backend"] = (
            "Export from the bundled model into an empty cache directory (onnx-int8 includes the fp32 export), "
            "once per run, not interleaved.\n\n" + table(["backend", "export s", "model.onnx MB"], rows)
        )


def section_builds(
    plan: Plan, corpus: Path, work: Path, embedders: dict[str, Embedder], out: Results
) -> dict[str, Path]:
    """Full build on an empty cache (once per backend), then +1 episode and an edited transcript, interleaved."""
    episodes = feed_episodes(corpus, "talkpython")[: plan.episodes]
    held_out, base = episodes[-1], episodes[:-1]
    changed = episodes[len(episodes) // 2]
    original = read_local(changed.transcript)

    def read_edited(episode: Episode) -> bytes:
        return edited(original) if episode.episode_id == changed.episode_id else read_local(episode.transcript)

    def read(episode: Episode) -> bytes:
        return read_local(episode.transcript)

    full: dict[str, BuildReport] = {}
    for backend in embedders:  # the expensive part: once per backend
        cache = work / backend / "cache"
        for stale in cache.glob("embeddings.sqlite*"):
            stale.unlink()
        shutil.rmtree(work / backend / "talkpython", ignore_errors=True)
        log(f"full build of {len(base)} episodes with {backend} (empty cache)")
        full[backend] = build(base, work / backend / "talkpython", embedders[backend], cache, read)
        log(f"  {full[backend].seconds:.0f} s, {full[backend].chunks} passages")
        shutil.copyfile(cache / "embeddings.sqlite", work / backend / "cache-base.sqlite")

    def interleaved(snapshot: str, reader: Callable[[Episode], bytes], label: str) -> dict[str, list[BuildReport]]:
        """`plan.rounds` rebuilds per backend in rotated order, each from the embedding cache saved as `snapshot`."""
        reports: dict[str, list[BuildReport]] = {b: [] for b in embedders}
        for _, backend in rotations(list(embedders), plan.rounds):
            cache = work / backend / "cache"
            shutil.copyfile(work / backend / snapshot, cache / "embeddings.sqlite")
            reports[backend].append(build(episodes, work / backend / "talkpython", embedders[backend], cache, reader))
            log(f"{label} with {backend}: {reports[backend][-1].seconds:.1f} s")
        return reports

    plus_one = interleaved("cache-base.sqlite", read, "+1 episode")
    for backend in embedders:
        shutil.copyfile(work / backend / "cache" / "embeddings.sqlite", work / backend / "cache-all.sqlite")
    edit = interleaved("cache-all.sqlite", read_edited, "edited transcript")
    unchanged: dict[str, BuildReport] = {}
    for backend in embedders:
        cache = work / backend / "cache"
        unchanged[backend] = build(episodes, work / backend / "talkpython", embedders[backend], cache, read)
    rows = []
    for b in embedders:
        base_s = full[b].seconds
        inc = p50([r.seconds for r in plus_one[b]])
        chg = p50([r.seconds for r in edit[b]])
        rows.append(
            [
                b,
                f"{base_s:.0f}",
                f"{full[b].chunks / base_s:.1f}",
                f"{inc:.1f} ({plus_one[b][0].embedded} embedded)",
                f"{100 * inc / base_s:.1f}%",
                f"{chg:.1f} ({edit[b][0].embedded} embedded)",
                f"{unchanged[b].seconds:.1f} ({unchanged[b].embedded} embedded)",
            ]
        )
    out.sections["2. Full build vs incremental rebuild"] = (
        f"talkpython: full build of {len(base)} episodes ({full['torch'].chunks} "
        f"passages) on an empty embedding cache, measured once per backend; then the index is rebuilt from that "
        f"cache with one more episode ({held_out.title}), and with one word corrected in {changed.title}, "
        f"{plan.rounds} interleaved rounds each (the cache is restored before every round). Times are "
        "`build_index` (parse, chunk, embed, SQLite, FAISS, publish), without loading the model.\n\n"
        + table(
            ["backend", "full build s", "chunks/s", "+1 episode s", "+1 / full", "edited transcript s", "unchanged s"],
            rows,
        )
    )
    return {b: work / b / "cache" for b in embedders}


def section_quality(
    plan: Plan, corpus: Path, work: Path, embedders: dict[str, Embedder], questions_file: Path, out: Results
) -> dict[str, Path]:
    """Full-corpus index per backend (reusing the build section's cache), then R@5 and MRR on the dev set."""
    episodes = []
    for name in plan.feeds:
        episodes += (
            feed_episodes(corpus, name)[: plan.episodes] if name == "talkpython" else feed_episodes(corpus, name)
        )
    files = {Path(e.transcript).name for e in episodes}
    questions = [q for q in load_questions(questions_file) if q.file in files]
    indexes: dict[str, Path] = {}
    rows, base = [], {}
    for backend, embedder in embedders.items():
        out_dir = work / backend / "full"
        report = build(episodes, out_dir, embedder, work / backend / "cache", lambda e: read_local(e.transcript))
        log(f"full-corpus index with {backend}: {report.chunks} passages, {report.embedded} embedded")
        indexes[backend] = out_dir
        searcher = Searcher.open(out_dir, embedder)
        for mode in ("dense", "hybrid"):
            ranks = [
                first_answer_rank(searcher.search(q.question, k=10, mode=mode, quotes=False), q) for q in questions
            ]
            scores = score(ranks)
            base.setdefault(mode, scores) if backend == "torch" else None
            delta = scores.recall[5] - base[mode].recall[5] if mode in base else float("nan")
            rows.append(
                [
                    backend,
                    mode,
                    f"{scores.recall[5]:.2f}",
                    f"{delta:+.2f}" if np.isfinite(delta) else "–",
                    f"{scores.recall[10]:.2f}",
                    f"{scores.mrr:.3f}",
                    report.chunks,
                ]
            )
        searcher.close()
    out.sections["3. Retrieval quality"] = (
        f"{len(questions)} questions of {questions_file.name} over {len(episodes)} episodes, each backend's own "
        "index (R@5 delta against torch; a 0.02 step is one question in 50).\n\n"
        + table(["backend", "mode", "R@5", "ΔR@5 vs torch", "R@10", "MRR", "passages"], rows)
    )
    return indexes


def synthetic(real: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Normalised vectors shaped like real passages: a random real vector plus noise with the corpus covariance.

    With SYNTHETIC_JITTER = 0.5 the mean cosine to the nearest and tenth-nearest neighbour (0.74 / 0.50 at 14k)
    is close to the real passages' (0.70 / 0.56); uniform random vectors (about 0.2) would make any
    approximate index look worse than it is on text.
    """
    rng = np.random.default_rng(seed)
    centred = real - real.mean(axis=0)
    eigen, basis = np.linalg.eigh(np.cov(centred.T))
    shape = (basis * np.sqrt(np.clip(eigen, 0, None))).T.astype(np.float32)
    out = np.empty((count, real.shape[1]), dtype=np.float32)
    for first in range(0, count, 100_000):
        n = min(100_000, count - first)
        part = real[rng.integers(0, len(real), n)] + SYNTHETIC_JITTER * (
            rng.standard_normal((n, real.shape[1]), dtype=np.float32) @ shape
        )
        out[first : first + n] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def recall_at_10(index: faiss.Index, queries: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top 10 that `index` finds, averaged over the queries."""
    found = index.search(queries, 10)[1]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))


def timed_queries(index: faiss.Index, queries: np.ndarray, k: int = 10) -> list[float]:
    times = []
    for q in queries:
        began = time.perf_counter()
        index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - began) * 1000)
    return times


def index_mb(index: faiss.Index, work: Path) -> float:
    path = work / "size.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size / 1e6
    path.unlink()
    return size


def section_vectors(plan: Plan, real: np.ndarray, work: Path, out: Results) -> dict[int, dict[str, faiss.Index]]:
    """Flat vs HNSW (and IVF) at each size: build s, size, single-query p50/p95, recall@10 against Flat."""
    queries = synthetic(real, 300, seed=99)
    rows, sweep, kept = [], [], {}
    for size in plan.sizes:
        data = real[:size] if size <= len(real) else np.vstack([real, synthetic(real, size - len(real), seed=size)])
        log(f"vectors: {size} x {data.shape[1]}")
        variants: dict[str, tuple[faiss.Index, float]] = {}
        began = time.perf_counter()
        flat = faiss.IndexFlatIP(data.shape[1])
        flat.add(data)
        variants["flat"] = (flat, time.perf_counter() - began)
        began = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(data.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.add(data)
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        variants["hnsw"] = (hnsw, time.perf_counter() - began)
        log(f"  hnsw built in {variants['hnsw'][1]:.0f} s")
        if plan.ivf and size >= 50_000:
            nlist = max(64, int(4 * np.sqrt(size)) // 64 * 64)
            began = time.perf_counter()
            ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(data.shape[1]), data.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
            ivf.train(data[np.random.default_rng(0).choice(size, min(size, 40 * nlist), replace=False)])
            ivf.add(data)
            ivf.make_direct_map()  # reconstruct() for hybrid fusion needs it
            ivf.nprobe = 32
            variants["ivf"] = (ivf, time.perf_counter() - began)
            log(f"  ivf built in {variants['ivf'][1]:.0f} s")
        truth = flat.search(queries, 10)[1]
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _, name in rotations(list(variants), plan.rounds):
            times[name] += timed_queries(variants[name][0], queries[:100])
        for name, (index, seconds) in variants.items():
            recall = recall_at_10(index, queries, truth)
            label = {"flat": "Flat (exact)", "hnsw": f"HNSW M={HNSW_M} efC={HNSW_EF_CONSTRUCTION} ef={HNSW_EF_SEARCH}"}
            label["ivf"] = f"IVF{getattr(index, 'nlist', '')},Flat nprobe=32"
            rows.append(
                [
                    f"{size:,}",
                    label[name],
                    f"{seconds:.1f}",
                    f"{index_mb(index, work):.0f}",
                    f"{p50(times[name]):.2f}",
                    f"{p95(times[name]):.2f}",
                    f"{recall:.3f}",
                ]
            )
            out.plot.setdefault(f"FAISS {name}", []).append((size, p50(times[name]), p95(times[name])))
        for ef in plan.ef_sweep:
            hnsw.hnsw.efSearch = ef
            recall = recall_at_10(hnsw, queries, truth)
            sweep.append(
                [f"{size:,}", f"HNSW ef={ef}", f"{recall:.3f}", f"{p50(timed_queries(hnsw, queries[:100])):.2f}"]
            )
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        if "ivf" in variants:
            ivf = variants["ivf"][0]
            for probes in (8, 16, 32, 64, 128):
                ivf.nprobe = probes
                recall = recall_at_10(ivf, queries, truth)
                sweep.append(
                    [
                        f"{size:,}",
                        f"IVF nprobe={probes}",
                        f"{recall:.3f}",
                        f"{p50(timed_queries(ivf, queries[:100])):.2f}",
                    ]
                )
        kept[size] = {"flat": flat, "hnsw": hnsw}
        del variants, data
        gc.collect()
    out.sections["4. Vector index types"] = (
        f"Synthetic 384-d normalised vectors: the {len(real):,} real passage vectors, then vectors shaped like them "
        f"(see `synthetic()`); 300 synthetic queries, single-query latency over 100 of them, {plan.rounds} "
        "interleaved rounds. Size is the serialised index (≈ its resident memory). Recall@10 is against Flat.\n\n"
        + table(["vectors", "index", "build s", "size MB", "query ms p50", "query ms p95", "recall@10"], rows)
        + "\n\nParameter sweep (recall@10 against Flat, query ms p50):\n\n"
        + table(["vectors", "setting", "recall@10", "ms p50"], sweep)
    )
    return kept


PATHS = {  # what each row of section 5 times: the question's embedding, then ever more of an answer
    "embed the question": None,
    "dense search, no quotes": {"mode": "dense", "quotes": False},
    "hybrid search, no quotes": {"mode": "hybrid", "quotes": False},
    "hybrid search + quotes (the bot)": {"mode": "hybrid", "quotes": True},
}


def answer_times(searcher: Searcher, questions: list[str], path: str) -> list[float]:
    """Milliseconds per question for one row of PATHS, as the bot asks (k results, the score floor)."""
    options = PATHS[path]
    times = []
    for question in questions:
        began = time.perf_counter()
        if options is None:
            searcher.embed_question(question)
        else:
            searcher.search_page(question, k=RESULTS, min_score=SCORE_FLOOR, **options)
        times.append((time.perf_counter() - began) * 1000)
    return times


def quote_quality(searcher: Searcher, questions: list[Question]) -> tuple[int, int]:
    """Of the top-1 hits that answer their question, how many quote from inside the gold window (±15 s)."""
    answering = inside = 0
    for question in questions:
        hits = searcher.search(question.question, k=1, min_score=SCORE_FLOOR)
        if hits and answers(hits[0], question):
            answering += 1
            inside += question.start - TOLERANCE <= hits[0].quote_start <= question.end + TOLERANCE
    return inside, answering


def without_synthetic(searcher: Searcher) -> None:
    """Padding vectors (section 4) have no passages: drop them from dense results, after the search is timed."""
    dense = searcher._dense
    real = searcher.store.table.episode.size
    searcher._dense = lambda *args: [(i, s) for i, s in dense(*args) if i < real]  # type: ignore[method-assign]


def section_latency(
    plan: Plan,
    embedders: dict[str, Embedder],
    indexes: dict[str, Path],
    scaled: dict[int, dict[str, faiss.Index]],
    questions: list[Question],
    scale_backend: str,
    out: Results,
) -> None:
    """Each path of an answer (PATHS) per backend, interleaved; the bot's path again on padded indexes."""
    texts = [q.question for q in questions]
    searchers = {b: Searcher.open(indexes[b], embedders[b]) for b in embedders}
    for searcher in searchers.values():
        searcher.search(texts[0], k=RESULTS, min_score=SCORE_FLOOR)  # warm-up
    times: dict[tuple[str, str], list[float]] = {}
    for _, backend in rotations(list(searchers), plan.rounds):
        for path in PATHS:
            times.setdefault((backend, path), []).extend(answer_times(searchers[backend], texts, path))
    real_size = searchers[scale_backend].vectors.ntotal
    rows = []
    for backend in searchers:
        embed = p50(times[(backend, "embed the question")])
        for path in PATHS:
            values = times[(backend, path)]
            rows.append([backend, f"{real_size:,} (Flat)", path, f"{p50(values):.1f}", f"{p95(values):.1f}",
                         f"{p95(values) / embed:.1f}"])  # fmt: skip
    bot_path = "hybrid search + quotes (the bot)"
    out.plot.setdefault(f"end to end, {scale_backend}, flat", []).append(
        (real_size, p50(times[(scale_backend, bot_path)]), p95(times[(scale_backend, bot_path)]))
    )
    searcher = searchers[scale_backend]
    own, dense = searcher.vectors, searcher._dense
    without_synthetic(searcher)
    embed = p50(times[(scale_backend, "embed the question")])
    for size, variants in scaled.items():
        if size <= real_size:
            continue
        series: dict[str, list[float]] = {name: [] for name in variants}
        for _, name in rotations(list(variants), plan.rounds):
            searcher.vectors = variants[name]  # the real passages are ids 0..n-1; the synthetic rest has none
            series[name] += answer_times(searcher, texts, bot_path)
        for name, values in series.items():
            rows.append([scale_backend, f"{size:,} ({name})", bot_path, f"{p50(values):.1f}", f"{p95(values):.1f}",
                         f"{p95(values) / embed:.1f}"])  # fmt: skip
            out.plot.setdefault(f"end to end, {scale_backend}, {name}", []).append((size, p50(values), p95(values)))
    searcher.vectors, searcher._dense = own, dense
    inside, answering = quote_quality(searchers.get(DEFAULT_BACKEND, searcher), questions)
    for s in searchers.values():
        s.close()
    out.sections["5. Answer latency"] = (
        f"`Searcher` as the bot calls it (k={RESULTS}, score floor {SCORE_FLOOR}) for {len(questions)} dev "
        f"questions, {plan.rounds} interleaved rounds, on each backend's full-corpus index; larger sizes pad the "
        f"{scale_backend} index with the synthetic vectors of section 4 (their hits are dropped: they have no "
        "passages). The last column is the p95 over the median time to embed the question alone (the target: at "
        "most 4).\n\n"
        + table(["backend", "vectors (index)", "path", "ms p50", "ms p95", "p95 / embed p50"], rows)
        + f"\n\nQuotes: of the top-1 hits that answer their question, {inside} of {answering} quote from inside "
        f"the gold window (±15 s), with the default backend ({DEFAULT_BACKEND})."
    )


def start_bot(command: list[str], cwd: Path, env: dict[str, str], question: str) -> tuple[float, float, float]:
    """Seconds from process start to the first answer line, and (RSS, peak RSS) in MB at that moment."""
    with open(cwd / "stderr.txt", "w+b") as errors:  # a file, not a pipe: a long traceback must not block
        began = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
        )
        process.stdin.write((question + "\n").encode())
        process.stdin.flush()
        first = process.stdout.readline()
        seconds = time.perf_counter() - began
        current, peak = rss_mb(process.pid) if process.poll() is None else (float("nan"), float("nan"))
        process.stdin.close()  # end of input: the console exits
        process.stdout.read()
        process.wait(timeout=120)
        errors.seek(0)
        if not first or process.returncode:
            raise RuntimeError(errors.read().decode(errors="replace")[-800:])
    return seconds, current, peak


def section_cold_start(
    plan: Plan, work: Path, indexes: dict[str, Path], caches: dict[str, Path], question: str, out: Results
) -> None:
    """`python -m bot` in console mode: process start → first answer printed, and its memory then."""
    command = [sys.executable, "-m", "bot"]
    scratch = work / "cold"
    scratch.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN",)}
    results: dict[str, list[tuple[float, float, float]]] = {b: [] for b in indexes}
    for _, backend in rotations(list(indexes), plan.cold_rounds):
        run_env = {
            **env,
            "INDEX_DIR": str(indexes[backend]),
            "CACHE_DIR": str(caches[backend]),
            "EMBEDDING_BACKEND": backend,
            "LOG_LEVEL": "WARNING",
            "BOT_DB": str(scratch / "bot.sqlite"),
            "INDEX_POLL_SECONDS": "0",
        }
        try:
            seconds, current, peak = start_bot(command, scratch, run_env, question)
        except RuntimeError as exc:
            log(f"cold start with {backend} failed: {exc}")
            continue
        results[backend].append((seconds, current, peak))
        log(f"cold start with {backend}: {seconds:.1f} s, {current:.0f} MB")
    base = p50([r[0] for r in results["torch"]])
    rows = [
        [
            b,
            f"{p50([r[0] for r in results[b]]):.1f}",
            ratio(base, p50([r[0] for r in results[b]])),
            f"{p50([r[1] for r in results[b]]):.0f}",
            f"{p50([r[2] for r in results[b]]):.0f}",
        ]
        for b in indexes
        if results[b]
    ]
    out.sections["6. Cold start and memory"] = (
        "`python -m bot` with no DISCORD_TOKEN (the console), one question piped on stdin: seconds from process start "
        f"to the first answer line, and resident memory (RSS, and its peak) then, with the full-corpus index loaded; "
        f"{plan.cold_rounds} interleaved rounds.\n\n"
        + table(["backend", "start → first answer s", "speed-up vs torch", "RSS MB", "peak RSS MB"], rows)
    )


def section_burst(plan: Plan, embedders: dict[str, Embedder], indexes: dict[str, Path], work: Path, out: Results):
    """50 /ask at once through the real discord.py client and the fake Discord (scripts/soak.py), per backend."""
    import asyncio

    from soak import burst

    rows = []
    for backend, embedder in embedders.items():
        seconds = asyncio.run(burst(indexes[backend], embedder, work, count=50, rounds=plan.rounds))
        log(f"50 at once with {backend}: p95 {p95(seconds):.2f} s")
        rows.append([backend, len(seconds), f"{p50(seconds):.2f}", f"{p95(seconds):.2f}", f"{max(seconds):.2f}"])
    out.sections["7. Fifty /ask at once"] = (
        "The bot (`PodcastBot`, the real discord.py client) against the fake Discord server in this process: 50 users "
        f"send /ask at the same moment, {plan.rounds} times after a warm-up round, over each backend's full-corpus "
        "index; seconds from INTERACTION_CREATE to the follow-up with the answers (target: p95 ≤ 1.5 s).\n\n"
        + table(["backend", "answers", "s p50", "s p95", "s max"], rows)
    )


def section_transcription(plan: Plan, out: Results) -> None:
    """Speech recognition speed per compute type, with and without word timestamps (scripts/bench_transcription)."""
    from bench_transcription import transcription_report

    out.sections["8. Transcription"] = transcription_report(
        plan.speech_minutes, plan.rounds, ["int8", "float32"], hour=plan.hour
    )


# ---------------------------------------------------------------------------------------------------- output


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    for name, points in sorted(results.plot.items()):
        points = sorted(points)
        sizes = [p[0] for p in points]
        (line,) = ax.plot(sizes, [p[1] for p in points], marker="o", label=f"{name} p50")
        ax.plot(sizes, [p[2] for p in points], marker="x", linestyle="--", color=line.get_color(), label=f"{name} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("vectors in the index")
    ax.set_ylabel("query latency (ms)")
    ax.set_title("Query latency against index size (FAISS alone and end to end)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def earlier_sections(path: Path) -> dict[str, str]:
    """The sections of an earlier report at `path`, each marked with the run that measured it, so a run of some
    sections updates them and keeps the others (`--sections 5` after a full run)."""
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    head, *parts = text.split("\n## ")
    run = {line[2:].split(":", 1)[0]: line.split(":", 1)[1].strip() for line in head.splitlines() if line[:2] == "- "}
    origin = f"_Kept from an earlier run ({run.get('Run', '?')}; `{run.get('Command', '?').strip('`')}`)._"
    sections = {}
    for part in parts:
        title, _, body = part.partition("\n")
        body = body.strip().split("\n\n![query latency")[0]
        if "_Kept from an earlier run" not in body:
            body = f"{body}\n\n{origin}"
        sections[title.strip()] = body
    return sections


def report(results: Results, command: str, started: str, box: str, seconds: float, plot_path: Path | None) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench.py`; do not edit by hand. Rerun on a quiet machine to refresh.",
        "",
        f"- Command: `{command}`",
        f"- Run: {started} UTC, {seconds / 60:.0f} minutes; load average at the end "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}",
        f"- Machine: {box}",
        "- Method: variants interleaved round by round (rotated order), medians and p95 over all rounds, ratios "
        "against torch; this machine is shared, so absolute numbers move between runs and ratios are what to read.",
    ]
    lines += [f"- {note}" for note in results.notes]
    for title, body in sorted(results.sections.items()):  # "1. ", "1b. ", "2. " ...: run order differs
        lines += ["", f"## {title}", "", body]
    if plot_path is not None:
        lines += ["", f"![query latency against index size]({plot_path.name})"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--questions", type=Path, help="dev questions (default: CORPUS/../eval/dev_questions.jsonl)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="markdown report")
    parser.add_argument("--plot", type=Path, help="latency plot (default: latency.png beside --out)")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one, removed)")
    parser.add_argument("--quick", action="store_true", help="smoke run: a few episodes, small sizes, few rounds")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--sections", default="1,2,3,4,5,6,7,8", help="which sections to run (4-7 need 3)")
    parser.add_argument("--scale-backend", default="onnx-int8", help="backend of the end-to-end size curve")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    if "torch" not in backends or set(backends) - set(BACKENDS):
        parser.error(f"--backends: some of {', '.join(BACKENDS)}, torch included (it is the baseline)")
    if args.scale_backend not in backends:
        args.scale_backend = backends[-1]
    try:
        sections = {int(s) for s in args.sections.split(",") if s.strip()}
    except ValueError:
        parser.error(f"--sections: comma-separated numbers, e.g. 1,2,3 (got {args.sections!r})")
    if problem := check_sections(sections):
        parser.error(problem)
    questions_file = args.questions or args.corpus.parent / "eval" / "dev_questions.jsonl"
    if not args.corpus.is_dir() or not questions_file.is_file():
        parser.error(f"needs the development corpus ({args.corpus}) and its questions ({questions_file})")
    plan = quick_plan(backends) if args.quick else full_plan(backends)
    plot_path = args.plot or args.out.with_name("latency.png")
    command = "python scripts/bench.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    began = time.perf_counter()
    box = machine()
    work = args.work or Path(tempfile.mkdtemp(prefix="podcast-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = Results()
    dev = load_questions(questions_file)[: plan.questions]
    questions = [q.question for q in dev]
    try:
        embedders: dict[str, Embedder] = {}
        for backend in backends:
            (work / backend / "cache").mkdir(parents=True, exist_ok=True)
            embedders[backend] = load_embedder(backend=backend, cache_dir=work / backend / "cache")
        caches = {b: work / b / "cache" for b in backends}
        indexes: dict[str, Path] = {}
        if 2 in sections:
            caches = section_builds(plan, args.corpus, work, embedders, results)
        if 1 in sections:
            source = work / "torch" / "talkpython"
            if not (source / "CURRENT").exists():
                build(feed_episodes(args.corpus, "talkpython")[:3], source, embedders["torch"], caches["torch"],
                      lambda e: read_local(e.transcript))  # fmt: skip
            section_encoding(plan, embedders, passages_of(source), questions, results)
            section_exports(plan, work, results)
        if 3 in sections:
            indexes = section_quality(plan, args.corpus, work, embedders, questions_file, results)
        scaled: dict[int, dict[str, faiss.Index]] = {}
        if 4 in sections:
            real_index = faiss.read_index(str(IndexLayout(indexes["torch"]).current() / "vectors.faiss"))
            scaled = section_vectors(plan, real_index.reconstruct_n(0, real_index.ntotal), work, results)
        if 5 in sections:
            section_latency(plan, embedders, indexes, scaled, dev, args.scale_backend, results)
        scaled.clear()
        gc.collect()
        if 6 in sections:
            section_cold_start(plan, work, indexes, caches, questions[0], results)
        if 7 in sections:
            section_burst(plan, embedders, indexes, work, results)
        if 8 in sections:
            section_transcription(plan, results)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    ran = set(results.sections)
    for title, body in earlier_sections(args.out).items():
        number = title.split(".", 1)[0].rstrip("b")
        if title not in ran and not any(t.split(".", 1)[0].rstrip("b") == number for t in ran):
            results.sections[title] = body
    if results.plot:
        plot(results, plot_path)
    shown_plot = plot_path if plot_path.is_file() else None  # this run's, or the earlier one kept sections refer to
    text = report(results, command, started, box, time.perf_counter() - began, shown_plot)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
