"""Build (or rebuild) the search index from podcast feeds and/or folders of transcripts.

    python scripts/build_index.py --feed https://example.com/feed.xml --out data/index
    python scripts/build_index.py --transcripts samples/transcripts --out data/index

Re-running with the same --out revalidates cached downloads (a 304 each when unchanged) and only embeds
passages that changed; episodes the feed no longer lists leave the index unless --keep-missing. The report ends
with what changed and every failed download (URL, status, reason). Exit status: 0 when an index was published
(even if some episodes were skipped: they are listed), 1 when nothing could be indexed (the previous index
keeps serving), 2 for bad arguments. See docs/feeds.md.

Feed items with audio but no transcript are transcribed with --transcribe (docs/transcription.md); without it the
report says how many there are and how long transcribing them would take.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from index.audio.model import WhisperModelError
from index.audio.pipeline import AudioTranscripts, Estimate, TranscriptionReport
from index.build import Skipped, build_index
from index.chunking import ChunkerSettings
from index.embedding import load_embedder
from index.errors import IndexLoadError, PodcastIndexError
from index.fetch import Fetcher
from index.links import check_template
from index.models import Episode
from index.previous import Changes, compare, listed, previous_episodes
from index.settings import IndexSettings
from index.sources import Collected, chapter_reader, collect, is_url, transcript_reader
from index.wording import plural


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
    parser.add_argument("--quiet", action="store_true", help="no progress lines or bar on stderr")
    parser.add_argument(
        "--keep-missing",
        action="store_true",
        help="keep episodes of the previous build that the sources no longer list (archives that drop old items,"
        " files deleted from a --transcripts folder)",
    )
    parser.add_argument(
        "--transcribe",
        action="store_true",
        help="download and transcribe episodes that have audio but no transcript (WHISPER_MODEL); cached",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="fetch the feeds and print what would be downloaded, updated and removed; change nothing",
    )
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
    templates = args.link_template or [settings.link_template]
    feeds = list(zip(args.feed, templates * len(args.feed) if len(templates) == 1 else templates, strict=True))
    audio: AudioTranscripts | None = None
    transcribed: TranscriptionReport | None = None
    waiting: Estimate | None = None
    with Fetcher(cache_dir / "http", store=not args.dry_run) as fetcher:
        try:
            found = collect(feeds, args.transcripts, fetcher=fetcher)
            if len(found.unread) == len(feeds) and not args.transcripts:
                raise PodcastIndexError("no source could be read: " + "; ".join(s.reason for s in found.skipped))
            if not args.quiet:
                print(sources_line(feeds, args.transcripts, found), file=sys.stderr, flush=True)
            previous = read_previous(args.out, strict=args.keep_missing)
            if found.audio_only or any(e.origin == "machine" for e in previous):
                try:
                    audio = AudioTranscripts.open(
                        cache_dir,
                        model=settings.whisper_model,
                        compute_type=settings.whisper_compute_type,
                        dry_run=args.dry_run,
                    )
                except WhisperModelError as exc:
                    # Transcripts made before are cached under the model they were made with: without it they
                    # cannot be read, and the live index keeps them only if this run publishes nothing.
                    if args.transcribe or any(e.origin == "machine" for e in previous):
                        raise
                    without_model(found, exc)
            if audio is not None and found.audio_only:
                if args.transcribe and not args.dry_run:
                    transcribed = audio.transcribe_episodes(
                        found.audio_only,
                        fetcher,
                        max_bytes=settings.enclosure_max_mb * 1024 * 1024,
                        progress=not args.quiet,
                    )
                waiting = audio.estimate(found.audio_only)
                add_machine_episodes(found, audio)
            changes = compare(found, previous, keep_missing=args.keep_missing)
            if args.dry_run:
                print(dry_run_report(args.out, changes, found.skipped, fetcher))
                if waiting is not None and waiting.episodes:
                    flag = "--transcribe would transcribe them" if args.transcribe else "--transcribe indexes them"
                    print(f"Audio only: {waiting.describe()}; {flag}")
                return 0
            embedder = load_embedder(settings)
            archived = {e.episode_id for e, _ in changes.kept}
            report = build_index(
                changes.episodes,
                args.out,
                embedder=embedder,
                chunker=ChunkerSettings(args.chunk_words, args.chunk_overlap),
                read=transcript_reader(fetcher, archived=archived, machine=audio.read if audio is not None else None),
                read_chapters=chapter_reader(
                    fetcher, archived=archived, id3=audio.chapters if audio is not None else None
                ),
                cache_dir=cache_dir,
                skipped=found.skipped,
                approximate_above=settings.approximate_above,
                progress=not args.quiet,
                describe_reads=fetcher.stats.brief,
            )
        except KeyboardInterrupt:
            print(
                f"\nInterrupted: nothing was published: the index in {args.out} (if any) keeps serving, and what was"
                " embedded so far is reused by the next run.",
                file=sys.stderr,
            )
            return 130
        except PodcastIndexError as exc:
            print(f"error: {exc}", file=sys.stderr)
            print(f"Nothing was published: the index in {args.out} (if any) keeps serving.", file=sys.stderr)
            if transcribed is not None:
                print(transcribed.summary(), file=sys.stderr)
            elif waiting is not None and waiting.episodes:  # a feed of audio alone: what --transcribe would take
                print(f"Audio only: {waiting.describe()}; --transcribe indexes them", file=sys.stderr)
            print(fetcher.stats.summary(), file=sys.stderr)
            return 1
        finally:
            if audio is not None:
                audio.close()
    print(report.summary())
    print(changes.published({e.episode_id for e in previous_episodes(args.out)}).summary())
    if transcribed is not None:
        print(transcribed.summary())
    elif waiting is not None and waiting.episodes:
        print(f"Audio only: {waiting.describe()}; --transcribe indexes them")
    print(fetcher.stats.summary())
    return 0


def sources_line(feeds: list[tuple[str, str | None]], folders: list[Path], found: Collected) -> str:
    """The first progress line: what the sources list, before anything is downloaded."""
    read = [plural(sum(location not in found.unread for location, _ in feeds), "feed")] if feeds else []
    read += [plural(len(folders), "folder")] if folders else []
    listed = plural(len(found.episodes) + len(found.audio_only), "episode")
    audio = f" ({len(found.audio_only):,} with audio only)" if found.audio_only else ""
    left_out = f", {len(found.skipped):,} left out (listed at the end)" if found.skipped else ""
    return f"Sources: {' and '.join(read)} read, {listed} listed{audio}{left_out}"


def without_model(found: Collected, error: WhisperModelError) -> None:
    """A build with nothing transcribed before and nothing to transcribe needs no Whisper model: its audio-only
    episodes are skipped with the reason, and the published transcripts are indexed."""
    print(f"warning: {error}; audio-only episodes are skipped", file=sys.stderr)
    for episode in found.audio_only:
        found.skipped.append(Skipped(f"{episode.podcast}: {episode.title}", str(error)))


def add_machine_episodes(found: Collected, audio: AudioTranscripts) -> None:
    """Audio-only episodes with a machine transcript join the build; the others are listed as skipped, why."""
    ready = audio.ready(found.audio_only)
    found.episodes += ready
    indexed = {e.episode_id for e in ready}
    for episode in found.audio_only:
        if episode.episode_id not in indexed:
            try:
                audio.read(episode)
            except PodcastIndexError as exc:
                found.skipped.append(Skipped(f"{episode.podcast}: {episode.title}", str(exc)))


def read_previous(out: Path, *, strict: bool) -> list[Episode]:
    """The published build's episodes. Unreadable, it only matters when they are to be kept (`strict`):
    otherwise the new build replaces it, which is the fix."""
    try:
        return previous_episodes(out)
    except IndexLoadError as exc:
        if strict:
            raise
        print(f"warning: {exc}; building from the sources alone", file=sys.stderr)
        return []


def dry_run_report(out: Path, changes: Changes, skipped: list[Skipped], fetcher: Fetcher) -> str:
    """What a real run would fetch and change, from the feeds just read and the download cache."""
    kept = {e.episode_id for e, _ in changes.kept}
    download, revalidate, from_cache, local = [], 0, 0, 0
    for episode in changes.episodes:
        if episode.origin == "machine":
            from_cache += 1  # machine transcripts are read from the transcript cache
        elif not is_url(episode.transcript):
            local += 1
        elif fetcher.cached(episode.transcript) is None:
            download.append(episode)
        elif episode.episode_id in kept:
            from_cache += 1
        else:
            revalidate += 1
    lines = [
        f"Dry run for {out}: only the feeds were fetched; nothing was downloaded, embedded or published.",
        f"  {len(changes.episodes)} episodes would be indexed: {len(download)} transcripts to download,"
        f" {revalidate} to revalidate (downloaded again only if changed), {from_cache} from the cache,"
        f" {local} local files",
    ]
    lines += listed("download", [f"{e.title} ({e.transcript})" for e in download])
    lines.append(changes.summary())
    if skipped:
        lines.append(f"  {len(skipped)} skipped:")
        lines += [f"    {s.source}: {s.reason}" for s in skipped]
    lines.append(fetcher.stats.summary())
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
