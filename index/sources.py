"""Where a build's episodes come from: RSS feeds (local or over HTTP) and folders of transcripts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from index.build import Skipped
from index.episodes import episodes_from_folder, read_feed
from index.errors import DownloadError, FeedError
from index.fetch import MAX_BYTES, Fetcher
from index.models import Episode

log = logging.getLogger(__name__)


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def read_local(location: str, max_bytes: int = MAX_BYTES) -> bytes:
    """A local file, refusing anything bigger than a transcript could reasonably be."""
    path = Path(location)
    size = path.stat().st_size
    if size > max_bytes:
        raise OSError(f"{path}: {size} bytes is larger than the {max_bytes // 1024 // 1024} MB limit")
    return path.read_bytes()


def collect_episodes(
    feeds: Sequence[tuple[str, str | None]],
    folders: Sequence[Path],
    *,
    fetcher: Fetcher,
) -> tuple[list[Episode], list[Skipped]]:
    """All episodes named by the feeds (location, deep-link template) and folders, and what was left out."""
    episodes: list[Episode] = []
    skipped: list[Skipped] = []
    for location, link_template in feeds:
        try:
            data = fetcher.get(location).body if is_url(location) else read_local(location)
            feed = read_feed(
                data, location if is_url(location) else str(Path(location).resolve()), link_template=link_template
            )
        except (DownloadError, FeedError, OSError) as exc:
            skipped.append(Skipped(location, f"feed unreadable: {exc}"))
            log.warning("feed %s unreadable: %s", location, exc)
            continue
        episodes += feed.episodes
        skipped += [Skipped(f"{feed.title}: {title}", reason) for title, reason in feed.skipped]
    for folder in folders:
        found = episodes_from_folder(folder)
        if not found:
            skipped.append(Skipped(str(folder), "no transcript files (.vtt .srt .json .txt .md) in this folder"))
        episodes += found
    return episodes, skipped


def transcript_reader(fetcher: Fetcher) -> Callable[[Episode], bytes]:
    """Reads an episode's transcript from disk or through the download cache."""

    def read(episode: Episode) -> bytes:
        if is_url(episode.transcript):
            return fetcher.get(episode.transcript).body
        return read_local(episode.transcript)

    return read
