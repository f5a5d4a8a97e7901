"""Chapters as podcasts publish them: Podcasting 2.0 JSON, Podlove Simple Chapters, ID3 CHAP frames.

Chapter files come from the same places as transcripts and are treated the same way: anything malformed or
hostile is refused with a reason (ChaptersError) and the episode is indexed without it, with automatic chapters
instead (index.topics). What survives is cleaned for the episode it belongs to: sorted by start (apps do not
trust the order either), inside the episode, one chapter per start time, titles as plain one-line text.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path

from index.errors import ChaptersError
from index.models import Chapter

MAX_CHAPTERS = 500  # a real episode has tens; a file with more is broken or hostile
MAX_BYTES = 2 * 1024 * 1024
MAX_TITLE = 200
PSC_NAMESPACE = "http://podlove.org/simple-chapters"
# Not U+200C and U+200D: the joiners are part of emoji sequences (👨‍👩‍👧) and Persian and Indic words.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_NPT = re.compile(r"^\s*(?:(\d{1,3}):)?(?:(\d{1,2}):)?(\d{1,6}(?:\.\d{1,6})?)\s*$")


def parse_chapters_json(data: bytes, source: str) -> list[Chapter]:
    """The chapters of a Podcasting 2.0 JSON chapters file (`startTime`, `title`, optional `url`, `toc`).

    Chapters with `"toc": false` are hidden by the spec (image-only "silent" chapters) and left out.
    Raises ChaptersError naming `source` for anything that is not such a file.
    """
    if len(data) > MAX_BYTES:
        raise ChaptersError(
            source, f"{len(data):,} bytes is larger than the {MAX_BYTES // 2**20} MB a chapters file may be"
        )
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ChaptersError(source, f"not a JSON chapters file ({type(exc).__name__}: {str(exc)[:120]})") from None
    items = document.get("chapters") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ChaptersError(source, 'not a JSON chapters file (no "chapters" list)')
    _check_count(len(items), source)
    chapters = []
    for item in items:
        if not isinstance(item, dict) or item.get("toc") is False:
            continue
        start = _number(item.get("startTime"))
        if start is not None:
            chapters.append(Chapter(start, str(item.get("title") or ""), _url(item.get("url"))))
    return chapters


def parse_psc(item: ET.Element) -> list[Chapter]:
    """Podlove Simple Chapters written inside a feed item (`<psc:chapter start="00:01:02.500" title=…/>`)."""
    chapters = []
    for element in item.iter(f"{{{PSC_NAMESPACE}}}chapter"):
        start = npt_seconds(element.get("start", ""))
        if start is not None:
            chapters.append(Chapter(start, element.get("title", ""), _url(element.get("href"))))
        if len(chapters) > MAX_CHAPTERS:
            break
    return chapters


def read_id3_chapters(path: Path, source: str) -> list[Chapter]:
    """The ID3 `CHAP` frames of an audio file, in the order its `CTOC` lists them (by start time otherwise).

    Files without an ID3 tag (or not MP3 at all) have no chapters; a tag that cannot be read raises
    ChaptersError.
    """
    from mutagen.id3 import ID3, ID3NoHeaderError
    from mutagen.id3._util import error as ID3Error

    try:
        tags = ID3(path)
    except ID3NoHeaderError:
        return []
    except (ID3Error, OSError, ValueError) as exc:
        raise ChaptersError(source, f"unreadable ID3 tag ({exc})") from None
    frames = tags.getall("CHAP")
    _check_count(len(frames), source)
    chapters = []
    for frame in frames:
        title = next((str(sub.text[0]) for sub in frame.sub_frames.getall("TIT2") if sub.text), "")
        url = next((sub.url for sub in frame.sub_frames.getall("WXXX")), None)
        chapters.append(Chapter(frame.start_time / 1000, title, _url(url)))
    return chapters


def clean_chapters(chapters: Iterable[Chapter], duration: float, source: str) -> list[Chapter]:
    """`chapters` made fit for an episode of `duration` seconds: sorted, inside it, untitled or repeated start
    times dropped, titles on one line. Raises ChaptersError when none is left."""
    kept: dict[float, Chapter] = {}
    given = 0
    for chapter in sorted(chapters, key=lambda c: c.start):
        given += 1
        title = " ".join(_CONTROL.sub(" ", chapter.title).split())[:MAX_TITLE].strip()
        start = round(chapter.start, 3)
        if title and 0 <= start < duration and start not in kept:
            kept[start] = Chapter(start, title, chapter.url, chapter.auto)
    if not kept:
        reason = (
            "no chapters" if not given else f"none of its {given} chapters has a title and starts inside the episode"
        )
        raise ChaptersError(source, reason)
    return list(kept.values())


def chapters_json(chapters: Sequence[Chapter]) -> str:
    """Chapters in the Podcasting 2.0 JSON format (the transcript cache keeps ID3 chapters this way)."""
    items = [{"startTime": c.start, "title": c.title} | ({"url": c.url} if c.url else {}) for c in chapters]
    return json.dumps({"version": "1.2.0", "chapters": items}, ensure_ascii=False)


def npt_seconds(value: str) -> float | None:
    """Seconds from a Normal Play Time (`01:02:03.500`, `62:03`, `12.5`); None when it is not one."""
    match = _NPT.match(value)
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    if minutes is None and hours is not None:  # "MM:SS": the one colon separates minutes
        hours, minutes = None, hours
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def _check_count(count: int, source: str) -> None:
    if count > MAX_CHAPTERS:
        raise ChaptersError(source, f"{count:,} chapters, more than the {MAX_CHAPTERS} an episode may have")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _url(value: object) -> str | None:
    """Only web links: a chapter's `url` is shown as a link, and other schemes have no business there."""
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 2000:
        return value.strip()
    return None
