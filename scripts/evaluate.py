"""Measure retrieval on questions with gold answer windows, every retrieval mode side by side.

    python scripts/evaluate.py --index /tmp/full ../shared/eval/dev_questions.jsonl
    python scripts/evaluate.py --index /tmp/full QUESTIONS.jsonl --offtopic tests/data/offtopic_questions.jsonl
    python scripts/evaluate.py --index /tmp/full QUESTIONS.jsonl --variant nofuzzy:fuzzy=false
    python scripts/evaluate.py --index /tmp/full QUESTIONS.jsonl --against /tmp/full-before --modes hybrid
    python scripts/evaluate.py --chunking 80:25,120:40,180:60 --feed FEED ... QUESTIONS.jsonl

Prints R@1/3/5/10 and MRR overall, per kind and per podcast for each mode, with the MRR's bootstrap interval;
--variant compares ranking options (index.search.SearchOptions) side by side for ablations, and --against other
indexes (a rebuild with other chunking or parsing code), each against the
first with a paired bootstrap interval of the change, and what each costs in search time; with
--offtopic, how often a passage would still be shown for questions the corpus cannot answer, against the
recall each score floor costs; with --chunking, the same table for indexes built with other passage sizes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from reporting import p50, p95, rotations, table

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import load_embedder
from index.errors import PodcastIndexError
from index.evaluation import (
    CUTOFFS,
    Question,
    answers,
    first_answer_rank,
    grouped,
    load_questions,
    mrr_interval,
    paired_difference,
    quote_answers,
    score,
)
from index.fetch import Fetcher
from index.search import Searcher, SearchOptions
from index.settings import IndexSettings
from index.sources import collect, transcript_reader

MODES = ("dense", "keyword", "rrf", "hybrid")
FLOORS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def evaluate(searcher: Searcher, questions: list[Question], modes: list[str]) -> dict[str, list]:
    """Per mode, the hits of every question (10 each, no quotes: retrieval only)."""
    return {
        mode: [searcher.search(q.question, k=max(CUTOFFS), mode=mode, quotes=False) for q in questions]
        for mode in modes
    }


def boilerplate_share(results: list) -> str:
    """Share of the top-5 passages that are sponsor reads, intros or outros."""
    top = [h for hits in results for h in hits[:5]]
    return f"{sum(h.boilerplate for h in top) / max(len(top), 1):.3f}"


def median_span(results: list) -> str:
    """Median length of the top-5 passages: longer passages overlap gold windows more easily, so say it."""
    spans = sorted(h.end - h.start for hits in results for h in hits[:5])
    return f"{spans[len(spans) // 2]:.0f} s" if spans else "-"


def report(questions: list[Question], results: dict[str, list]) -> str:
    header = ["slice", "mode", *(f"R@{c}" for c in CUTOFFS), "MRR"]
    rows = []
    slices = [("all", lambda q: "all"), ("kind", lambda q: q.kind), ("podcast", lambda q: q.podcast)]
    for label, key in slices:
        for mode, hits in results.items():
            ranks = [first_answer_rank(h, q) for h, q in zip(hits, questions, strict=True)]
            for name, scores in grouped(questions, ranks, key).items():
                rows.append(
                    [f"{name} ({scores.count})" if label != "all" else f"all ({scores.count})", mode, *scores.row()]
                )
    rows.sort(key=lambda r: (r[0] != f"all ({len(questions)})", r[0]))
    notes = [*(interval(questions, hits, mode) for mode, hits in results.items()), ""]
    notes += [misses(questions, hits, mode) for mode, hits in results.items()]
    return table(header, rows) + "\n\n" + "\n".join(notes)


def interval(questions: list[Question], results: list, mode: str) -> str:
    """The MRR with its 95 % bootstrap interval: a target closer than that to the measured value is one that
    another sample of questions could put on either side."""
    ranks = [first_answer_rank(h, q) for h, q in zip(results, questions, strict=True)]
    low, high = mrr_interval(ranks)
    return f"{mode}: MRR {score(ranks).mrr:.3f}, 95 % bootstrap interval over questions [{low:.3f}, {high:.3f}]"


def misses(questions: list[Question], results: list, mode: str) -> str:
    """What stands first when the answer does not: another episode's passage (finding the episode is the problem)
    or another moment of the right one (telling its moments apart is)."""
    missed = [
        (hits[0], q) for hits, q in zip(results, questions, strict=True) if hits and first_answer_rank(hits, q) != 1
    ]
    elsewhere = sum(hit.source_file != q.file for hit, q in missed)
    return (
        f"{mode}: {len(missed)} questions not answered at rank 1; first instead, another episode's passage for "
        f"{elsewhere}, another moment of the right episode for {len(missed) - elsewhere}"
    )


def quote_placement(searcher: Searcher, questions: list[Question]) -> str:
    """Whether the link lands on the answer: the quote of the first passage that answers, against the gold."""
    firsts = []
    for question in questions:
        hits = searcher.search(question.question, k=5)
        firsts += [next((h for h in hits if answers(h, question)), None)]
    found = [(h, q) for h, q in zip(firsts, questions, strict=True) if h is not None]
    placed = sum(quote_answers(h, q) for h, q in found)
    return (
        f"quotes: of the {len(found)} questions answered in the top 5, the first answering passage's quote (where"
        f" its link jumps) overlaps the gold window ±15 s for {placed} ({placed / max(len(found), 1):.2f})"
    )


def answerability(searcher: Searcher, questions: list[Question], offtopic: list[Question]) -> str:
    """For each score floor: dev-set R@5 counting only hits above it, and off-topic questions still answered."""
    dev = [searcher.search(q.question, k=5, quotes=False) for q in questions]
    off = [searcher.search(q.question, k=1, quotes=False) for q in offtopic]
    rows = []
    for floor in FLOORS:
        kept = [[h for h in hits if h.score >= floor] for hits in dev]
        recall = sum(any(answers(h, q) for h in hits) for hits, q in zip(kept, questions, strict=True)) / len(questions)
        shown = sum(1 for hits in off if hits and hits[0].score >= floor) / max(len(offtopic), 1)
        rows.append([f"{floor:.2f}", f"{recall:.2f}", f"{shown:.2f}"])
    return table(["score floor", "dev R@5 above floor", "off-topic still answered"], rows)


def sweep(args: argparse.Namespace, settings: IndexSettings, questions: list[Question], embedder) -> str:
    header = ["words:overlap", "passages", "mode", *(f"R@{c}" for c in CUTOFFS), "MRR", "span"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="chunking-") as work, Fetcher(Path(work) / "http") as fetcher:
        found = collect([(f, None) for f in args.feed], [], fetcher=fetcher)
        for setting in args.chunking.split(","):
            words, overlap, *rest = setting.split(":")
            chunker = ChunkerSettings(int(words), int(overlap), title_header=rest != ["plain"])
            out = Path(work) / f"index-{setting.replace(':', '-')}"
            began = time.perf_counter()
            report_ = build_index(
                found.episodes,
                out,
                embedder=embedder,
                chunker=chunker,
                read=transcript_reader(fetcher),
                cache_dir=Path(args.cache or work) / "cache",
                skipped=found.skipped,
                progress=False,
            )
            print(f"built {setting}: {report_.chunks} passages in {time.perf_counter() - began:.0f} s", file=sys.stderr)
            searcher = Searcher.open(out, embedder)
            for mode, hits in evaluate(searcher, questions, args.modes).items():
                scores = score(first_answer_rank(h, q) for h, q in zip(hits, questions, strict=True))
                rows.append([setting, str(report_.chunks), mode, *scores.row(), median_span(hits)])
            searcher.close()
    return table(header, rows)


def parse_variant(spec: str) -> tuple[str, SearchOptions]:
    """`name:key=value,key=value` -> SearchOptions with those fields changed."""
    name, _, assignments = spec.partition(":")
    changes: dict[str, object] = {}
    for assignment in filter(None, assignments.split(",")):
        key, _, value = assignment.partition("=")
        default = getattr(SearchOptions(), key, None)
        if default is None:
            raise ValueError(f"unknown option {key!r} in variant {spec!r}")
        changes[key] = value.lower() in ("1", "true", "yes") if isinstance(default, bool) else type(default)(value)
    return name, dataclasses.replace(SearchOptions(), **changes)


TIMING_ROUNDS = 5


def search_times(searchers: dict[str, Searcher], questions: list[Question], mode: str) -> dict[str, list[float]]:
    """Milliseconds per question of each variant's search once the question is embedded, variants interleaved
    over TIMING_ROUNDS rounds after one untimed round: what a ranking option costs, measured beside its recall."""
    vectors = {name: [s.embed_question(q.question) for q in questions] for name, s in searchers.items()}
    times: dict[str, list[float]] = {name: [] for name in searchers}
    for round_, name in rotations(list(searchers), TIMING_ROUNDS + 1):
        for question, vector in zip(questions, vectors[name], strict=True):
            began = time.perf_counter()
            searchers[name].search_page(question.question, k=max(CUTOFFS), mode=mode, quotes=False, query=vector)
            if round_:
                times[name].append((time.perf_counter() - began) * 1000)
    return times


def compare(searchers: dict[str, Searcher], questions: list[Question], modes: list[str]) -> str:
    """The variants side by side, each against the first on the same questions (which rose, which fell, and
    the change in MRR with its paired 95 % bootstrap interval), with what each costs in search time."""
    header = ["variant", "mode", *(f"R@{c}" for c in CUTOFFS), "MRR", "vs first", "span", "ads@5",
              "search ms p50", "p95"]  # fmt: skip
    results = {name: evaluate(searcher, questions, modes) for name, searcher in searchers.items()}
    times = {mode: search_times(searchers, questions, mode) for mode in modes}
    ranks = {
        (name, mode): [first_answer_rank(h, q) for h, q in zip(hits, questions, strict=True)]
        for name, by_mode in results.items()
        for mode, hits in by_mode.items()
    }
    first = next(iter(results))
    rows = []
    for (name, mode), ranked in ranks.items():
        hits, spent = results[name][mode], times[mode][name]
        rows.append([name, mode, *score(ranked).row(), paired_difference(ranks[first, mode], ranked).cell(),
                     median_span(hits), boilerplate_share(hits), f"{p50(spent):.2f}", f"{p95(spent):.2f}"])  # fmt: skip
    return table(header, rows) + (
        "\n\nvs first: questions whose answer rose and fell against the first variant, the change in MRR and its"
        " 95 % paired bootstrap interval over questions"
        f"\nsearch ms: after the question is embedded, {TIMING_ROUNDS} interleaved rounds of every question "
        "after a warm-up round"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("questions", type=Path, help="JSONL with id, question, file, start, end, kind, podcast")
    parser.add_argument("--index", type=Path, help="index directory to evaluate")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, from {', '.join(MODES)}")
    parser.add_argument("--offtopic", type=Path, help="JSONL of questions the corpus cannot answer")
    parser.add_argument(
        "--chunking", help="sweep passage sizes, e.g. 80:25,120:40,120:40:plain (no title header; needs --feed)"
    )
    parser.add_argument("--feed", action="append", default=[], help="feeds to build the sweep's indexes from")
    parser.add_argument("--cache", help="embedding cache directory for the sweep (reused across runs)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="compare ranking options side by side, e.g. nofuzzy:fuzzy=false (repeatable)",
    )
    parser.add_argument(
        "--against",
        action="append",
        default=[],
        type=Path,
        metavar="INDEX",
        help="another index (built by other code or settings, same model) set against --index, question by question",
    )
    args = parser.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    if not args.index and not args.chunking:
        parser.error("give --index, or --chunking with --feed")
    if args.chunking and not args.feed:
        parser.error("--chunking needs at least one --feed")
    try:
        variants = dict(parse_variant(spec) for spec in args.variant)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    settings = IndexSettings()
    questions = load_questions(args.questions)
    try:
        embedder = load_embedder(settings)
        if args.chunking:
            print(sweep(args, settings, questions, embedder))
            return 0
        searcher = Searcher.open(args.index, embedder)
        if variants or args.against:
            others = {name: Searcher.open(args.index, embedder, options=opts) for name, opts in variants.items()}
            others |= {str(path): Searcher.open(path, embedder) for path in args.against}
            print(compare({"default": searcher, **others}, questions, args.modes))
            return 0
    except PodcastIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    began = time.perf_counter()
    print(report(questions, evaluate(searcher, questions, args.modes)))
    print(quote_placement(searcher, questions))
    print(
        f"\n{len(questions)} questions x {len(args.modes)} modes in {time.perf_counter() - began:.1f} s "
        f"(index {searcher.build_id}, {searcher.manifest.counts['chunks']} passages)"
    )
    if args.offtopic:
        print("\n" + answerability(searcher, questions, load_questions(args.offtopic)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
