"""Episode metadata from a podcast RSS feed (Podcasting 2.0 `<podcast:transcript>`) or a folder of files."""

from __future__ import annotations

import html
import io
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser

from index.chapters import parse_psc
from index.errors import FeedError
from index.links import web_url
from index.models import Chapter, Episode

PODCAST_NAMESPACES = (
    "https://podcastindex.org/namespace/1.0",
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
)
TRANSCRIPT_SUFFIXES = (".vtt", ".srt", ".sbv", ".json", ".txt", ".md", ".html")
# An <enclosure> without an audio/* type is taken as audio when its file name says so.
AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac")

# Most precise first: cue-timed formats beat timed text, which beats HTML pages.
_TYPE_RANK = {
    "text/vtt": 0,
    "application/x-subrip": 1,
    "application/srt": 1,
    "text/srt": 1,
    "application/json": 2,
    "text/plain": 3,
    "text/markdown": 3,
    "text/html": 4,
}
_SUFFIX_TYPE = {
    ".vtt": "text/vtt",
    ".srt": "application/srt",
    ".json": "application/json",
    ".html": "text/html",
}
_TAG = re.compile(r"<[^>]{0,500}>")
_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")

# Work bounds for hostile documents (docs/reliability.md has the measurements). Feeds are read whole, so the
# download cap applies; a real feed nests a few levels deep and has a handful of attributes per element, while
# feedparser's SAX handler costs time quadratic in an element's attribute count and its lenient parser for
# XML that is not well-formed costs seconds and hundreds of MB per MB of pathological input.
MAX_FEED_BYTES = 50 * 1024 * 1024
MAX_LENIENT_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 256
MAX_ATTRIBUTES = 64
_SCAN_CHUNK = 1 << 16
_DECLARED_ENCODING = re.compile(rb"\s*<\?xml[^>]{0,200}?encoding=[\"']([A-Za-z0-9._-]{1,40})[\"']")
# What feedparser and the codecs raise on hostile bytes instead of reporting them (e.g. a declared encoding
# that is not valid UTF-8, or unknown); like parse_transcript, the edge turns them into the domain error.
_PARSER_FAILURES = (ValueError, LookupError, TypeError, IndexError, KeyError, RecursionError, OverflowError)


class _Hostile(Exception):
    """A document shaped to make parsing expensive (see MAX_DEPTH, MAX_ATTRIBUTES)."""


@dataclass(frozen=True, slots=True)
class TranscriptLink:
    url: str
    type: str | None


@dataclass
class ItemLinks:
    """What an item links besides its audio: every transcript, its chapters file, chapters written inline."""

    transcripts: list[TranscriptLink] = field(default_factory=list)
    chapters_url: str | None = None
    chapters: list[Chapter] = field(default_factory=list)


@dataclass
class Feed:
    """A parsed feed: its episodes with transcripts, and the items we could not use and why."""

    title: str
    link: str | None
    episodes: list[Episode] = field(default_factory=list)
    audio_only: list[Episode] = field(default_factory=list)  # no transcript but an audio <enclosure> (origin machine)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item title or guid, reason)
    malformed: str | None = None  # why the XML is not well-formed: its item list may be incomplete


def clean_text(value: str | None) -> str:
    """Titles in the wild carry HTML tags and entities; keep the words."""
    return " ".join(html.unescape(_TAG.sub("", value or "")).split())


def transcript_rank(link: TranscriptLink) -> int:
    mime = (link.type or "").split(";", 1)[0].strip().lower()
    if mime not in _TYPE_RANK:
        try:
            suffix = Path(urlsplit(link.url).path).suffix.lower()
        except ValueError:  # not a URL at all (`http://[::1`): read_feed skips the item with the reason
            suffix = ""
        mime = _SUFFIX_TYPE.get(suffix, "text/plain")
    return _TYPE_RANK.get(mime, 5)


def read_feed(data: bytes, url: str, *, link_template: str | None = None) -> Feed:
    """Episodes of the feed at `url` (a URL or a local path: relative transcript URLs resolve against it).

    Raises FeedError when the document is not an RSS/Atom feed at all; a feed with an XML error is still read,
    as podcast apps do, and says so in `malformed`.
    """
    if len(data) > MAX_FEED_BYTES:
        raise FeedError(f"{url}: {len(data):,} bytes is larger than the {MAX_FEED_BYTES // 2**20} MB a feed may be")
    try:
        root, malformed = _parse_xml(data, None)
        if root is None and malformed is None:  # a multi-byte encoding expat cannot read: decode it first
            root, malformed = _parse_xml(data, _declared_encoding(data))
        if malformed is not None and len(data) > MAX_LENIENT_BYTES:
            raise FeedError(
                f"{url}: not well-formed XML ({malformed}) and larger than {MAX_LENIENT_BYTES // 2**20} MB,"
                " too large to read leniently; fix the feed"
            )
        parsed = feedparser.parse(io.BytesIO(data))  # bytes alone may be taken for a file name or a URL and read
        if not parsed.get("version") and not parsed.entries:
            reason = parsed.get("bozo_exception") or "no RSS or Atom feed found"
            raise FeedError(f"{url}: not a podcast feed ({reason})")
        podcast = clean_text(parsed.feed.get("title")) or _name_from_location(url)
    except _Hostile as exc:
        raise FeedError(f"{url}: not a podcast feed ({exc})") from None
    except _PARSER_FAILURES as exc:
        raise FeedError(f"{url}: not a podcast feed ({type(exc).__name__}: {str(exc)[:200]})") from exc
    feed = Feed(title=podcast, link=parsed.feed.get("link"), malformed=malformed)
    all_links = None if root is None else _links_by_item(root)
    seen: dict[str, str] = {}
    link_count = Counter(entry.get("link") for entry in parsed.entries)
    for position, entry in enumerate(parsed.entries):
        title = clean_text(entry.get("title")) or entry.get("id") or f"item {position + 1}"
        extras = all_links[position] if all_links is not None and position < len(all_links) else ItemLinks()
        links = extras.transcripts
        single = entry.get("podcast_transcript")
        if not links and isinstance(single, dict) and single.get("url"):
            links = [TranscriptLink(single["url"], single.get("type"))]
        chapters_url = extras.chapters_url
        if root is None and isinstance(chapters := entry.get("podcast_chapters"), dict):
            chapters_url = chapters.get("url")
        audio = _audio_enclosure(entry)
        if not links and audio is None:
            feed.skipped.append((title, "no <podcast:transcript> in this item"))
            continue
        try:
            audio_url = _resolve(url, audio[0]) if audio is not None else None
        except ValueError as exc:
            audio_url = None
            if not links:
                feed.skipped.append((title, f"invalid audio URL {audio[0][:200]!r} ({exc})"))  # type: ignore[index]
                continue
        if links:
            best = min(links, key=transcript_rank)
            try:
                transcript, transcript_type = _resolve(url, best.url), best.type
            except ValueError as exc:  # e.g. `http://[::1` or a NUL byte: unusable, but only for this item
                feed.skipped.append((title, f"invalid transcript URL {best.url[:200]!r} ({exc})"))
                continue
        else:
            transcript, transcript_type = audio_url, None
        # The id must not change when new items are published: a <link> shared by several items (the show's
        # home page) is no id, and a repeated guid is told apart by its transcript, not by its position.
        link = entry.get("link")
        guid = given = entry.get("id") or (link if link_count[link] == 1 else None) or transcript
        while guid in seen and seen[guid] != transcript:
            guid = f"{guid}#{transcript}"
        if guid in seen:  # an earlier item with this guid (or this id, once told apart) and this transcript
            feed.skipped.append((title, f"duplicate of an earlier item with guid {given}"))
            continue
        seen[guid] = transcript
        try:
            chapters_url = _resolve(url, chapters_url) if chapters_url else None
        except ValueError:  # like a broken transcript URL, but the episode is still worth indexing
            feed.skipped.append((title, f"invalid chapters URL {chapters_url[:200]!r}"))  # type: ignore[index]
            chapters_url = None
        episode = Episode(
            episode_id=guid,
            podcast=podcast,
            title=title,
            transcript=transcript,
            link=web_url(entry.get("link")) or web_url(feed.link),
            guid=entry.get("id"),
            number=_int_or_none(entry.get("itunes_episode")),
            published=_iso_date(entry.get("published_parsed") or entry.get("updated_parsed")),
            transcript_type=transcript_type,
            link_template=link_template,
            origin="published" if links else "machine",
            audio=audio_url,
            audio_type=audio[1] if audio is not None else None,
            audio_duration=parse_duration(entry.get("itunes_duration")),
            chapters_url=chapters_url,
            chapters=tuple(extras.chapters),
        )
        (feed.episodes if links else feed.audio_only).append(episode)
    return feed


def scoped_ids(episodes: Sequence[Episode]) -> list[Episode]:
    """`episodes` with a guid another show used first scoped by its podcast (`Show/1`): guids are unique per feed
    only. The same rule wherever ids are compared (the build, and what changed since the last one)."""
    owner: dict[str, str] = {}
    scoped = []
    for episode in episodes:
        if owner.setdefault(episode.episode_id, episode.podcast) != episode.podcast:
            episode = replace(episode, episode_id=f"{episode.podcast}/{episode.episode_id}")
        scoped.append(episode)
    return scoped


def episodes_from_folder(folder: Path, *, podcast: str | None = None) -> list[Episode]:
    """One episode per transcript file, in sub-folders too (`season-2/`); the title and number come from the
    file name (`042-my-title.vtt`). Hidden files and folders (`._042-…vtt` from macOS, `.git/`) are not episodes.
    The show is named after the folder itself, however its path was typed (`.` included)."""
    folder = folder.resolve()
    name = podcast or _name_from_location(str(folder))
    files = (p for p in folder.rglob("*") if not any(part.startswith(".") for part in p.relative_to(folder).parts))
    episodes = []
    for path in sorted(p for p in files if p.suffix.lower() in TRANSCRIPT_SUFFIXES and p.is_file()):
        match = re.match(r"(?:ep(?:isode)?[-_ ]?)?(\d+)[-_ .]+(.*)", path.stem, re.IGNORECASE)
        number, words = (int(match.group(1)), match.group(2)) if match else (None, path.stem)
        title = " ".join(w.capitalize() if w.islower() else w for w in re.split(r"[-_ ]+", words) if w)
        episodes.append(
            Episode(
                episode_id=f"{name}/{path.relative_to(folder).as_posix()}",
                podcast=name,
                title=(f"#{number}: {title}" if number is not None else title) or path.stem,
                transcript=str(path.resolve()),
                number=number,
            )
        )
    return episodes


def _parse_xml(data: bytes, encoding: str | None) -> tuple[ET.Element | None, str | None]:
    """The document's root, or None and why it is not well-formed XML; _Hostile for an absurd structure.

    With no `encoding`, the bytes go to expat, which reads only UTF-8/16 and single-byte encodings: (None, None)
    means a multi-byte declared encoding (GB2312, Shift_JIS), and the caller tries again with that encoding, to
    parse the decoded text. Events are checked chunk by chunk, so a hostile document is refused early.
    """
    if encoding is None:
        source: bytes | str = data
    else:
        try:
            source = _XML_DECLARATION.sub("", data.decode(encoding), count=1)
        except (LookupError, UnicodeDecodeError) as exc:
            return None, str(exc)
    parser = ET.XMLPullParser(events=("start", "end"))
    depth = 0
    root = None
    try:
        for first in range(0, len(source), _SCAN_CHUNK):
            parser.feed(source[first : first + _SCAN_CHUNK])
            depth, root = _check_structure(parser, depth, root)
        parser.close()
        _check_structure(parser, depth, root)
    except ET.ParseError as exc:
        _check_structure(parser, depth, root)  # what was read before the error is read by feedparser too
        return None, str(exc)
    except LookupError as exc:  # an unknown declared encoding
        return None, str(exc)
    except ValueError:  # "multi-byte encodings are not supported"
        if encoding is None:
            return None, None
        raise
    return root, None


def _declared_encoding(data: bytes) -> str:
    match = _DECLARED_ENCODING.match(data)
    return match[1].decode("ascii") if match else "utf-8"


def _check_structure(parser: ET.XMLPullParser, depth: int, root: ET.Element | None) -> tuple[int, ET.Element | None]:
    """Consume the parser's events so far, refusing absurd nesting or attribute counts before feedparser sees
    them; returns the running depth and the root element."""
    for event, element in parser.read_events():
        if event == "end":
            depth -= 1
            continue
        depth += 1
        root = element if root is None else root
        if depth > MAX_DEPTH:
            raise _Hostile(f"elements nested more than {MAX_DEPTH} deep")
        if len(element.attrib) > MAX_ATTRIBUTES:
            raise _Hostile(f"an element with {len(element.attrib)} attributes, more than {MAX_ATTRIBUTES}")
    return depth, root


def _links_by_item(root: ET.Element) -> list[ItemLinks]:
    """Every `<podcast:transcript>`, the `<podcast:chapters>` and any Podlove Simple Chapters of every item, in
    document order.

    feedparser keeps only the last transcript per item, and choosing the most precise needs them all. The
    caller falls back to feedparser's single links when the document is not well-formed XML.
    """
    items = []
    for item in root.iter("item"):
        links = ItemLinks(chapters=parse_psc(item))
        for namespace in PODCAST_NAMESPACES:
            for element in item.findall(f"{{{namespace}}}transcript"):
                if element.get("url"):
                    links.transcripts.append(TranscriptLink(element.get("url", ""), element.get("type")))
            chapters = item.find(f"{{{namespace}}}chapters")
            if chapters is not None and chapters.get("url") and links.chapters_url is None:
                links.chapters_url = chapters.get("url")
        items.append(links)
    return items


def parse_duration(value: object) -> float | None:
    """Seconds from an `<itunes:duration>`: `1:02:03`, `62:03` or `3723`; None when absent or unreadable."""
    parts = str(value or "").strip().split(":")
    if not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        return None
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds if 0 < seconds < 10**6 else None


def _audio_enclosure(entry: feedparser.FeedParserDict) -> tuple[str, str | None] | None:
    """The item's first audio `<enclosure>` (URL, declared type), or None."""
    for enclosure in entry.get("enclosures") or []:
        href, kind = enclosure.get("href"), (enclosure.get("type") or "").split(";", 1)[0].strip().lower()
        if not href:
            continue
        try:
            suffix = Path(urlsplit(href).path).suffix.lower()
        except ValueError:
            suffix = ""
        if kind.startswith("audio/") or suffix in AUDIO_SUFFIXES:
            return href, kind or None
    return None


def _resolve(feed_location: str, relative: str) -> str:
    """A transcript or audio URL from the feed, made absolute against the feed's URL or path."""
    return urljoin(feed_location, relative) if "://" in feed_location else _join_path(feed_location, relative)


def _join_path(feed_path: str, relative: str) -> str:
    if relative.startswith("//"):  # protocol-relative: a host, which a feed read from disk can only reach by https
        return "https:" + relative
    if "://" in relative or relative.startswith("/"):
        return relative
    return str((Path(feed_path).parent / relative).resolve())


def _name_from_location(location: str) -> str:
    path = Path(urlsplit(location).path)
    parts = [p for p in path.parts if p not in ("/", "transcripts", "feed.xml", "rss", "feed")]
    return parts[-1] if parts else "podcast"


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _iso_date(value: time.struct_time | None) -> str | None:
    return time.strftime("%Y-%m-%d", value) if value else None
