"""Paragraphs of text with sparse time marks (Markdown markers, HTML `<time>`), timed word by word.

Marks come every few minutes in the Changelog's Markdown and once per speaker turn in HTML, so most text has
no time of its own. Each word gets one by linear interpolation between the surrounding marks (by word
position), from 0:00 before the first mark, and at the measured speaking rate after the last: stamping
everything with the earlier mark would put quotes minutes early. Paragraphs longer than MAX_WORDS are cut at
sentence ends, so each piece is timed where it is said.
"""

from __future__ import annotations

from bisect import bisect_right

from index.errors import TranscriptError

from .segments import BACKWARDS_TOLERANCE, MAX_SEGMENTS, MAX_WORDS, Draft, ends_sentence
from .timecodes import format_clock

# Without enough marks to measure the rate, assume a typical conversational pace (150 words/min),
# and keep any measured rate within what people actually speak.
DEFAULT_SECONDS_PER_WORD = 60 / 150
_RATE_LIMITS = (60 / 300, 60 / 60)
_MIN_MEASURED_WORDS = 100
_MIN_MEASURED_SECONDS = 60.0


class TimedParagraphs:
    """Collects words, time marks and paragraph boundaries in reading order, then times every paragraph."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.words: list[str] = []
        self.anchors: list[tuple[int, float]] = []  # (word index, seconds) of each mark
        self.spans: list[tuple[int, int, str | None, int]] = []  # (first word, end word, speaker, line)

    def add_words(self, text: str) -> None:
        self.words.extend(text.split())

    def mark(self, seconds: float, lineno: int) -> None:
        """A time mark before the next word; a mark more than the tolerance earlier than the last is an error."""
        position = len(self.words)
        if self.anchors:
            latest = self.anchors[-1][1]
            if seconds < latest - BACKWARDS_TOLERANCE:
                reason = f"time goes backwards: {format_clock(seconds)} after {format_clock(latest)}"
                raise TranscriptError(self.source, reason, lineno)
            seconds = max(seconds, latest)  # a slip within the tolerance must not make time run backwards
            if self.anchors[-1][0] == position:  # marks with no words between them: the later one wins
                self.anchors.pop()
        self.anchors.append((position, seconds))

    def end_paragraph(self, first: int, speaker: str | None, line: int) -> None:
        """Close the paragraph whose first word is `first`: one span, or sentence spans beyond MAX_WORDS."""
        end = len(self.words)
        if end == first:
            return
        start = first
        # A short paragraph is one span: only its last word is a place to cut.
        for i in range(first, end) if end - first > MAX_WORDS else (end - 1,):
            if i + 1 == end or ends_sentence(self.words[i]) or i + 1 - start >= MAX_WORDS:
                self.spans.append((start, i + 1, speaker, line))
                start = i + 1
                if len(self.spans) > MAX_SEGMENTS:  # checked as we go: one paragraph may hold millions
                    raise TranscriptError(self.source, f"more than {MAX_SEGMENTS:,} segments", line)

    def drafts(self, no_marks: str) -> list[Draft]:
        """One draft per span, timed from the marks; `no_marks` is the refusal when there were none."""
        if not self.anchors:
            raise TranscriptError(self.source, no_marks)
        anchors = self.anchors if self.anchors[0][0] == 0 else [(0, 0.0), *self.anchors]  # the text starts at 0:00
        clock = _Clock(anchors)
        return [
            Draft(clock.at(first), " ".join(self.words[first:end]), line, clock.at(end), who)
            for first, end, who, line in self.spans
        ]


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
