"""Build (or rebuild) the search index from podcast feeds and/or folders of transcripts.

    python scripts/build_index.py --feed https://example.com/feed.xml --out data/index
    python scripts/build_index.py --transcripts samples/transcripts --out data/index

Re-running with the same --out only embeds passages that changed. Exit status: 0 when an index was published
(even if some episodes were skipped: they are listed), 1 when nothing could be indexed, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import SentenceTransformerEmbedder
from index.errors import PodcastIndexError
from index.fetch import Fetcher
from index.links import check_template
from index.settings import IndexSettings
from index.sources import collect_episodes, transcript_reader


def parse_args(argv: list[str] | None, settings: IndexSettings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feed", action="append", default=[], metavar="PATH_OR_URL", help="RSS feed (repeatable)")
    parser.add_argument(
        "--transcripts", action="append", default=[], type=Path, metavar="DIR", help="folder of transcripts"
    )
    parser.add_argument(
        "--link-template",
        action="append",
        default=[],
        metavar="TEMPLATE",
        help="deep-link template: once for all feeds, or once per --feed in the same order (LINK_TEMPLATE)",
    )
    parser.add_argument("--out", type=Path, default=settings.index_dir, help="index directory (INDEX_DIR)")
    parser.add_argument("--chunk-words", type=int, default=settings.chunk_words)
    parser.add_argument("--chunk-overlap", type=int, default=settings.chunk_overlap_words)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not args.feed and not args.transcripts:
        parser.error("give at least one --feed or --transcripts")
    for folder in args.transcripts:
        if not folder.is_dir():
            parser.error(f"--transcripts {folder}: not a directory")
    if len(args.link_template) not in (0, 1, len(args.feed)):
        parser.error("give --link-template once, or once per --feed")
    for template in args.link_template:
        try:
            check_template(template)
        except ValueError as exc:
            parser.error(str(exc))
    if not 0 <= args.chunk_overlap < args.chunk_words:
        parser.error("--chunk-overlap must be at least 0 and smaller than --chunk-words")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = IndexSettings()
    args = parse_args(argv, settings)
    cache_dir = settings.cache_dir if settings.cache_dir is not None else args.out / "cache"
    try:
        with Fetcher(cache_dir / "http") as fetcher:
            templates = args.link_template or [settings.link_template]
            feeds = list(zip(args.feed, templates * len(args.feed) if len(templates) == 1 else templates, strict=True))
            episodes, skipped = collect_episodes(feeds, args.transcripts, fetcher=fetcher)
            embedder = SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size)
            report = build_index(
                episodes,
                args.out,
                embedder=embedder,
                chunker=ChunkerSettings(args.chunk_words, args.chunk_overlap),
                read=transcript_reader(fetcher),
                cache_dir=cache_dir,
                skipped=skipped,
                progress=not args.quiet,
            )
    except PodcastIndexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
