"""Ask the index a question from the command line.

    python scripts/query.py "can sqlite be used in production?"
    python scripts/query.py --json -k 10 "..."          one JSON object with the hits
    python scripts/query.py --batch questions.jsonl     one JSON line per {"id", "question"} line, with
                                                        latency_ms (the answer) and embed_ms (the question)
    python scripts/query.py --phrase "type hints"       every time a phrase was said, counted per episode

Each hit has: episode_id, episode_title, podcast, source_file, start, end (seconds), url, speakers, text, score,
the best-matching quote with its start, and transcript ("published", or "machine" when speech recognition made
it). Other tools read this shape: keep it stable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from index.embedding import load_embedder
from index.errors import PodcastIndexError
from index.links import format_clock
from index.models import Hit
from index.phrases import PhraseReport
from index.search import Filters, Searcher
from index.settings import IndexSettings


def parse_args(argv: list[str] | None, settings: IndexSettings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("question", nargs="?", help="the question (omit with --batch)")
    parser.add_argument("--index", type=Path, default=settings.index_dir, help="index directory (INDEX_DIR)")
    parser.add_argument("-k", type=int, default=5, help="how many results (default 5)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--batch", type=Path, metavar="FILE.jsonl", help='answer {"id", "question"} lines')
    parser.add_argument("--phrase", help="find every occurrence of an exact phrase instead of searching")
    parser.add_argument("--podcast", action="append", default=[], help="only this podcast (its feed title; repeatable)")
    parser.add_argument("--episode", help="only this episode id")
    parser.add_argument("--speaker", help="only passages where this speaker talks")
    parser.add_argument("--after", metavar="YYYY-MM-DD", help="episodes published on or after")
    parser.add_argument("--before", metavar="YYYY-MM-DD", help="episodes published on or before")
    args = parser.parse_args(argv)
    if sum(map(bool, (args.question, args.batch, args.phrase))) != 1:
        parser.error("give a question, --batch FILE or --phrase TEXT")
    if not 1 <= args.k <= 100:
        parser.error("-k must be between 1 and 100")
    if args.phrase and (args.speaker or args.after or args.before):
        parser.error("--phrase takes --podcast and --episode; --speaker, --after and --before filter searches only")
    return args


def render_text(hits: list[Hit]) -> str:
    if not hits:
        return "No matching passage."
    blocks = []
    for rank, hit in enumerate(hits, start=1):
        when = format_clock(hit.quote_start)
        who = f" — {', '.join(hit.speakers)}" if hit.speakers else ""
        quote = " ".join(s.text for s in hit.quote) or hit.text
        machine = ", machine transcript" if hit.origin == "machine" else ""
        chapter = ""
        if hit.chapter and hit.chapter_start is not None:
            auto = " (automatic chapter)" if hit.chapter_auto else ""
            chapter = f"   in {hit.chapter}{auto} from {format_clock(hit.chapter_start)}\n"
        blocks.append(
            f"{rank}. {hit.episode_title} at {when}{who}  (score {hit.score:.3f}{machine})\n"
            f"{chapter}"
            f'   "{quote}"\n'
            f"   {hit.url or hit.source_file}"
        )
    return "\n\n".join(blocks)


def phrase_json(report: PhraseReport) -> dict[str, object]:
    return {
        "phrase": report.phrase,
        "total": report.total,
        "per_episode": [{"episode_id": e.key, "episode_title": e.title, "count": n} for e, n in report.per_episode],
        "occurrences": [
            {
                "episode_id": o.episode.key,
                "start": round(o.start, 2),
                "speaker": o.speaker,
                "text": o.sentence,
                "url": o.url,
            }
            for o in report.occurrences
        ],
    }


def render_phrase_text(report: PhraseReport) -> str:
    if not report.total:
        return f"Nobody said {report.phrase!r}."
    lines = [f"{report.phrase!r}: {report.total} times in {len(report.per_episode)} episodes"]
    lines += [f"  {n:4d}  {e.title}" for e, n in report.per_episode]
    lines.append("")
    lines += [
        f"{o.episode.title} at {format_clock(o.start)}: {o.sentence}\n   {o.url or o.episode.source_file}"
        for o in report.occurrences
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    settings = IndexSettings()
    args = parse_args(argv, settings)
    filters = Filters(tuple(args.podcast), args.episode, args.speaker, args.after, args.before)
    try:
        embedder = load_embedder(settings)
        searcher = Searcher.open(args.index, embedder, link_template=settings.link_template)
    except PodcastIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.phrase:
        report = searcher.find_phrase(args.phrase, episode=args.episode, podcasts=tuple(args.podcast))
        if args.json:
            print(json.dumps(phrase_json(report), ensure_ascii=False))
        else:
            print(render_phrase_text(report))
        return 0
    if args.batch:
        with open(args.batch, encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    question = str(item["question"])
                except (ValueError, KeyError, TypeError):
                    print(f"error: {args.batch}:{number}: expected a JSON object with a question", file=sys.stderr)
                    return 1
                began = time.perf_counter()
                query = searcher.embed_question(question)
                embedded = time.perf_counter()
                hits = searcher.search_page(question, k=args.k, filters=filters, query=query).hits
                ended = time.perf_counter()
                out = {
                    "id": item.get("id"),
                    "question": question,
                    "hits": [h.to_json() for h in hits],
                    "latency_ms": round((ended - began) * 1000, 2),
                    "embed_ms": round((embedded - began) * 1000, 2),
                }
                print(json.dumps(out, ensure_ascii=False), flush=True)
        return 0
    hits = searcher.search(args.question, k=args.k, filters=filters)
    if args.json:
        print(json.dumps({"question": args.question, "hits": [h.to_json() for h in hits]}, ensure_ascii=False))
    else:
        print(render_text(hits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
