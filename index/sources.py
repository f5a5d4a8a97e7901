"""Where a build's episodes come from: RSS feeds (local or over HTTP) and folders of transcripts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.build import Skipped
from index.chapters import parse_chapters_json
from index.episodes import TRANSCRIPT_SUFFIXES, episodes_from_folder, read_feed, scoped_ids
from index.errors import AudioError, ChaptersError, DownloadError, FeedError
from index.fetch import MAX_BYTES, Fetcher
from index.models import Chapter, Episode
from index.parsing import parse_transcript

log = logging.getLogger(__name__)


@dataclass
class Collected:
    """The episodes the sources list now, and how far each source can be trusted to list all of its own.

    Deciding that an episode was removed needs a source read in full: a feed that is not well-formed XML may
    have lost items, and a feed that could not be read at all says nothing about any podcast.
    """

    episodes: list[Episode] = field(default_factory=list)
    audio_only: list[Episode] = field(default_factory=list)  # items with audio but no transcript (origin machine)
    skipped: list[Skipped] = field(default_factory=list)
    complete: set[str] = field(default_factory=set)  # podcasts read in full
    incomplete: dict[str, str] = field(default_factory=dict)  # podcast -> why its feed may be missing items
    unread: list[str] = field(default_factory=list)  # feeds that could not be read at all


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def read_local(location: str, max_bytes: int = MAX_BYTES) -> bytes:
    """A local file, refusing anything bigger than a transcript could reasonably be."""
    path = Path(location)
    size = path.stat().st_size
    if size > max_bytes:
        raise OSError(f"{path}: {size} bytes is larger than the {max_bytes // 1024 // 1024} MB limit")
    return path.read_bytes()


def collect(feeds: Sequence[tuple[str, str | None]], folders: Sequence[Path], *, fetcher: Fetcher) -> Collected:
    """Every episode named by the feeds (location, deep-link template) and folders, and what was left out.

    A feed over HTTP that fails, or answers with something that is not a feed, is read from the copy an
    earlier run cached; the failure is in `fetcher.stats`.
    """
    found = Collected()
    for location, link_template in feeds:
        try:
            if is_url(location):
                fetched = fetcher.get(location, check=lambda body, url=location: read_feed(body, url))
                data, base = fetched.body, fetched.url
            else:
                data, base = read_local(location), str(Path(location).resolve())
            feed = read_feed(data, base, link_template=link_template)
        except (DownloadError, FeedError, OSError) as exc:
            found.skipped.append(Skipped(location, f"feed unreadable: {exc}"))
            found.unread.append(location)
            log.warning("feed %s unreadable: %s", location, exc)
            continue
        found.episodes += feed.episodes
        found.audio_only += feed.audio_only
        found.skipped += [Skipped(f"{feed.title}: {title}", reason) for title, reason in feed.skipped]
        if feed.malformed:
            found.incomplete[feed.title] = f"feed {location} is not well-formed XML ({feed.malformed})"
        else:
            found.complete.add(feed.title)
    for folder in folders:
        episodes = episodes_from_folder(folder)
        if not episodes:  # an unmounted share looks like this: it says nothing about what was there before
            kinds = " ".join(TRANSCRIPT_SUFFIXES)
            found.skipped.append(Skipped(str(folder), f"no transcript files ({kinds}) in this folder"))
            found.unread.append(str(folder))
        found.episodes += episodes
        found.complete.update(e.podcast for e in episodes)
    found.episodes = scoped_ids(found.episodes)
    return found


def transcript_reader(
    fetcher: Fetcher, *, archived: Collection[str] = (), machine: Callable[[Episode], bytes] | None = None
) -> Callable[[Episode], bytes]:
    """Reads an episode's transcript from disk or through the download cache.

    A downloaded transcript must parse before it replaces the cached copy, so an error page served with 200
    never pushes a good transcript out. Episodes in `archived` (ids the feed no longer lists, kept on purpose)
    are read from the cache without asking the server; a local file is copied there too, so an episode kept
    after its file is gone (an unmounted share, --keep-missing) still has its transcript. Machine transcripts
    (made from the episode's audio) come from `machine` (index.audio.pipeline.AudioTranscripts.read).
    """

    def check(episode: Episode) -> Callable[[bytes], object]:
        hint = episode.format_hint
        return lambda body: parse_transcript(body, episode.source_file, hint=hint)

    def read(episode: Episode) -> bytes:
        if episode.origin == "machine":
            if machine is None:
                raise AudioError(episode.transcript, "audio only: not transcribed (run with --transcribe)")
            return machine(episode)
        if is_url(episode.transcript):
            revalidate = episode.episode_id not in archived
            return fetcher.get(episode.transcript, check=check(episode), revalidate=revalidate).body
        try:
            body = read_local(episode.transcript)
        except OSError:
            if episode.episode_id in archived and (copy := fetcher.cached(episode.transcript)) is not None:
                return copy.body  # kept on purpose, its file gone: the copy of the last run that read it
            raise
        fetcher.keep(episode.transcript, body)
        return body

    return read


def chapter_reader(
    fetcher: Fetcher, *, archived: Collection[str] = (), id3: Callable[[Episode], list[Chapter]] | None = None
) -> Callable[[Episode], tuple[list[Chapter], list[str]]]:
    """Reads an episode's published chapters: its `<podcast:chapters>` JSON (through the download cache, like
    transcripts), else the Podlove Simple Chapters in its feed item, else the ID3 chapters of its audio (`id3`,
    index.audio.pipeline.AudioTranscripts.chapters, for machine transcripts). Returns the first source that
    has any, and why each source before it was skipped; none at all means automatic chapters."""

    def from_url(episode: Episode) -> list[Chapter]:
        url = episode.chapters_url or ""
        if is_url(url):
            check = lambda body: parse_chapters_json(body, url)  # noqa: E731
            body = fetcher.get(url, check=check, revalidate=episode.episode_id not in archived).body
        else:
            body = read_local(url)
        return parse_chapters_json(body, url)

    def read(episode: Episode) -> tuple[list[Chapter], list[str]]:
        problems = []
        if episode.chapters_url:
            try:
                if chapters := from_url(episode):
                    return chapters, problems
            except (ChaptersError, DownloadError) as exc:
                problems.append(f"chapters skipped: {exc}")
            except OSError as exc:
                problems.append(f"chapters skipped: {episode.chapters_url}: {exc.strerror or exc}")
        if episode.chapters:
            return list(episode.chapters), problems
        if id3 is not None and episode.origin == "machine":
            try:
                return id3(episode), problems
            except ChaptersError as exc:
                problems.append(f"ID3 chapters skipped: {exc}")
        return [], problems

    return read
