"""Markdown transcripts (the Changelog style): `**Speaker:** text` paragraphs with sparse time markers.

Markers like `\\[04:01\\]` come every few minutes, so most text has no time of its own. Each word gets
one by linear interpolation between the surrounding markers (by word position), from 0:00 before the
first marker, and at the measured speaking rate after the last: stamping everything with the earlier
marker would put quotes minutes early.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from index.errors import TranscriptError

from .segments import BACKWARDS_TOLERANCE, MAX_SEGMENTS, MAX_WORDS, Draft, ends_sentence
from .timecodes import format_clock, parse_timecode

SPEAKER = re.compile(r"\*\*([^*\n]{1,80}?)(?::\*\*|\*\*:)[ \t]*")
# `\[04:01\]`, `[1:02:03]`, `\[00:04:01.06\]`, and `\[unintelligible 01:48:36.22\]` (a time in an aside).
_MARKER = re.compile(r"\\?\[(?:[^\[\]\n]{0,60}\s)?(\d{1,2}:\d{2}(?::\d{2})?(?:\.\d{1,3})?)\\?\]")
_LINK = re.compile(r"\[([^\[\]\n]{1,200})\]\([^()\s]{1,500}\)")
_ASIDE = re.compile(r"\\?\[[^\[\]\n]{0,80}\\?\]")  # stage directions: [laughter], \[laughs\]
_EMPHASIS = re.compile(r"(?<!\\)[*`]+")
_ESCAPE = re.compile(r"\\(?=[\\`*_{}\[\]()#+\-.!<>|~])")  # the backslash of `\[`, `\*`, `\_`...
_NON_DIALOGUE = re.compile(r"#{1,6}(?:\s|$)|(?:[-*_][ \t]*){3,}$")

# Without enough markers to measure the rate, assume a typical conversational pace (150 words/min),
# and keep any measured rate within what people actually speak.
DEFAULT_SECONDS_PER_WORD = 60 / 150
_RATE_LIMITS = (60 / 300, 60 / 60)
_MIN_MEASURED_WORDS = 100
_MIN_MEASURED_SECONDS = 60.0


def parse_markdown(text: str, source: str) -> list[Draft]:
    """Paragraphs as segments (long ones split at sentence ends), timed from the interpolated markers."""
    words: list[str] = []
    anchors: list[tuple[int, float]] = []  # (word index, seconds) of each marker
    spans: list[tuple[int, int, str | None, int]] = []  # (first word, end word, speaker, line)
    speaker: str | None = None
    para: tuple[int, int] | None = None  # (first word, line) of the open paragraph
    lines = text.split("\n")
    for lineno, raw in enumerate([*lines, ""], 1):
        line = raw.strip()
        if not line or _NON_DIALOGUE.match(line):
            if para is not None:
                spans.extend(_split(words, para[0], speaker, para[1], MAX_SEGMENTS + 1 - len(spans)))
                if len(spans) > MAX_SEGMENTS:
                    raise TranscriptError(source, f"more than {MAX_SEGMENTS:,} segments", para[1])
            para = None
            continue
        if para is None:
            label = SPEAKER.match(line)
            if label:
                speaker, line = label[1].strip(), line[label.end() :]
            para = (len(words), lineno)  # an unlabelled paragraph continues the previous speaker
        pieces = _MARKER.split(line)
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                words.extend(_clean(piece).split())
            else:
                _add_anchor(anchors, len(words), piece, lineno, source)
    if not anchors:
        raise TranscriptError(source, "no time markers found")
    if anchors[0][0] > 0:
        anchors.insert(0, (0, 0.0))  # the file starts at 0:00
    clock = _Clock(anchors)
    return [
        Draft(clock.at(first), " ".join(words[first:end]), line, clock.at(end), who) for first, end, who, line in spans
    ]


def _add_anchor(anchors: list[tuple[int, float]], position: int, token: str, lineno: int, source: str) -> None:
    seconds = parse_timecode(token)
    if seconds is None:
        raise TranscriptError(source, f"invalid time marker {token!r}", lineno)
    if anchors:
        latest = anchors[-1][1]
        if seconds < latest - BACKWARDS_TOLERANCE:
            reason = f"time goes backwards: {format_clock(seconds)} after {format_clock(latest)}"
            raise TranscriptError(source, reason, lineno)
        seconds = max(seconds, latest)  # a slip within the tolerance must not make time run backwards
        if anchors[-1][0] == position:  # markers with no words between them: the later one wins
            anchors.pop()
    anchors.append((position, seconds))


def _clean(piece: str) -> str:
    """Spoken words only: links keep their text, asides and emphasis go, escapes are undone."""
    piece = _ASIDE.sub(" ", _LINK.sub(r"\1", piece))
    return _ESCAPE.sub("", _EMPHASIS.sub("", piece))


def _split(
    words: list[str], first: int, speaker: str | None, line: int, limit: int
) -> list[tuple[int, int, str | None, int]]:
    """A paragraph as one span, or as sentence spans when it is longer than MAX_WORDS; at most `limit` spans."""
    end = len(words)
    if end - first <= MAX_WORDS:
        return [(first, end, speaker, line)] if end > first else []
    spans = []
    start = first
    for i in range(first, end):
        if ends_sentence(words[i]) or i + 1 - start >= MAX_WORDS or i + 1 == end:
            spans.append((start, i + 1, speaker, line))
            start = i + 1
            if len(spans) >= limit:
                break
    return spans


class _Clock:
    """Seconds at any word position, from (position, seconds) anchors with increasing positions."""

    def __init__(self, anchors: list[tuple[int, float]]) -> None:
        self.positions = [p for p, _ in anchors]
        self.times = [t for _, t in anchors]
        words, seconds = self.positions[-1] - self.positions[0], self.times[-1] - self.times[0]
        measured = words >= _MIN_MEASURED_WORDS and seconds >= _MIN_MEASURED_SECONDS
        rate = seconds / words if measured else DEFAULT_SECONDS_PER_WORD
        self.rate = min(max(rate, _RATE_LIMITS[0]), _RATE_LIMITS[1])

    def at(self, position: int) -> float:
        k = bisect_right(self.positions, position) - 1
        if k == len(self.positions) - 1:
            return self.times[k] + (position - self.positions[k]) * self.rate
        p0, p1, t0, t1 = self.positions[k], self.positions[k + 1], self.times[k], self.times[k + 1]
        return t0 + (position - p0) * (t1 - t0) / (p1 - p0)
