"""Otter.ai exports: a `Speaker Name M:SS` (or `H:MM:SS`) line, then that speaker's text until the next."""

from __future__ import annotations

import re

from index.errors import TranscriptError

from .segments import Draft
from .timecodes import parse_timecode
from .timed_lines import Header, headed_segments

# Bounded name length and a length check before matching keep this cheap on huge lines.
_HEADER = re.compile(r"(\S[^\t]{0,80}?)[ \t]+(\d{1,2}(?::\d{2}){1,2})")
_MAX_HEADER_CHARS = 100
_MAX_NAME_WORDS = 6
_TRAILER = re.compile(r"transcribed by https?://otter\.ai", re.IGNORECASE)


def otter_header(line: str) -> tuple[str, float] | None:
    """(speaker, start) when a stripped line is a speaker header with a valid time."""
    parts = _header_parts(line)
    start = None if parts is None else parse_timecode(parts[1])
    return None if parts is None or start is None else (parts[0], start)


def _header_parts(line: str) -> tuple[str, str] | None:
    """(speaker, time as written) when a stripped line has the shape of a speaker header.

    Names must be short runs of capitalised words or numbers ("Speaker 1"), so a line of speech that
    happens to end in a time ("we met at 5:30") is not mistaken for a header.
    """
    match = _HEADER.fullmatch(line) if len(line) <= _MAX_HEADER_CHARS else None
    if match is None:
        return None
    name, words = match[1], match[1].split()
    capitalised = all(word[0].isupper() or word[0].isdigit() for word in words)
    if len(words) > _MAX_NAME_WORDS or not capitalised or name[-1] in ",;:!?":
        return None
    return name, match[2]


def parse_otter(text: str, source: str) -> list[Draft]:
    """One draft per speaker turn; the `Transcribed by https://otter.ai` trailer is dropped."""

    def header(line: str, lineno: int) -> Header | None:
        parts = _header_parts(line)
        if parts is None:
            return None
        start = parse_timecode(parts[1])
        if start is None:  # "Bob Jones 0:75": a header with a broken time, not Alice's words
            raise TranscriptError(source, f"invalid timestamp {parts[1]!r}", lineno)
        return start, parts[0], ""

    lines = ["" if _TRAILER.match(line.strip()) else line for line in text.split("\n")]
    return headed_segments(lines, header, source)
