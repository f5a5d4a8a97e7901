"""Clock times as every format writes them: `H:MM:SS`, `MM:SS`, with an optional `.mmm` or `,mmm` fraction
(up to microseconds)."""

from __future__ import annotations

import re

# Bounded digit runs: a hostile 10 MB "timestamp" fails at once instead of feeding int() a huge string.
_TIMECODE = re.compile(r"(?:(\d{1,3}):)?(\d{1,3}):(\d{2})(?:[.,](\d{1,6}))?")


def parse_timecode(token: str) -> float | None:
    """Seconds for `token`, or None when it is not a valid clock time (the caller knows the line to blame)."""
    match = _TIMECODE.fullmatch(token)
    if match is None:
        return None
    hours, minutes, seconds, fraction = match.groups()
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        return None
    # The fraction is decimal: `.5` is half a second (SRT's `,500` and VTT's `.500` agree).
    frac = int(fraction) / 10 ** len(fraction) if fraction else 0.0
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + frac


def format_clock(seconds: float) -> str:
    """`H:MM:SS` for error messages, so users can find the spot in their player."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
