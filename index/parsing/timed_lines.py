"""`HH:MM:SS text` lines, and the layout they share with Otter: a line with a time opens a segment."""

from __future__ import annotations

import re
from collections.abc import Callable

from index.errors import TranscriptError

from .segments import Draft
from .timecodes import parse_timecode

# A time opening the line, then a space or the line end (so `10:30am` prose is not a timestamp).
STAMP = re.compile(r"(\d{1,3}:\d{2}(?::\d{2})?(?:[.,]\d+)?)(?=\s|$)")

# What a segment-opening line yields: its start, its speaker, and any text on the same line.
Header = tuple[float, str | None, str]


def parse_timed_lines(text: str, source: str) -> list[Draft]:
    """One draft per timestamped line; lines without a timestamp continue the previous one."""

    def header(line: str, lineno: int) -> Header | None:
        match = STAMP.match(line)
        if match is None:
            return None
        start = parse_timecode(match[1])
        if start is None:
            raise TranscriptError(source, f"invalid timestamp {match[1]!r}", lineno)
        return start, None, line[match.end() :]

    return headed_segments(text.split("\n"), header, source)


def headed_segments(lines: list[str], header: Callable[[str, int], Header | None], source: str) -> list[Draft]:
    """Group lines under the last header line; text before the first header starts at 0:00."""
    drafts: list[Draft] = []
    start, speaker, first_line, parts = 0.0, None, 1, []
    for lineno, line in enumerate(lines, 1):
        found = header(line.strip(), lineno)
        if found is None:
            parts.append(line)
            continue
        drafts.append(Draft(start, " ".join(parts), first_line, speaker=speaker))
        start, speaker, first = found
        first_line, parts = lineno, [first]
    if not drafts:
        raise TranscriptError(source, "no timestamps found")
    drafts.append(Draft(start, " ".join(parts), first_line, speaker=speaker))
    return drafts
