"""What every parser hands back, and the checks and clean-up that make all formats look alike downstream."""

from __future__ import annotations

from dataclasses import dataclass

from index.errors import TranscriptError
from index.models import Segment, Transcript

from .timecodes import format_clock

# Overlapping cues are normal (a new cue may start just before the previous one), a true jump back is not.
BACKWARDS_TOLERANCE = 1.0
# Downstream quotes sentences; this caps run-on text that has no punctuation at all.
MAX_WORDS = 40
# A pause this long between words is a new thought even without punctuation.
MAX_GAP = 2.0
# As many segments as the line cap lets a line-based format produce. Markdown cuts paragraphs into sentences,
# so without this a 20 MB paragraph of "a. a. a." would become millions of segments (and GBs of memory).
MAX_SEGMENTS = 1_000_000
_CLOSERS = "\"')]”’»"


@dataclass(slots=True)
class Draft:
    """A segment as read, before clean-up; `line` is where it was read, for error messages."""

    start: float
    text: str
    line: int | None = None
    end: float | None = None
    speaker: str | None = None


def ends_sentence(text: str) -> bool:
    """True when `text` ends a sentence, even behind a closing quote or bracket."""
    return text.rstrip().rstrip(_CLOSERS)[-1:] in (".", "!", "?", "…")


def check_order(drafts: list[Draft], source: str) -> None:
    """Reject a start earlier than any start before it (beyond the tolerance), naming where it happens."""
    latest = float("-inf")
    for index, draft in enumerate(drafts):
        if draft.start < latest - BACKWARDS_TOLERANCE:
            where = "" if draft.line is not None else f"segment {index}: "
            reason = f"{where}time goes backwards: {format_clock(draft.start)} after {format_clock(latest)}"
            raise TranscriptError(source, reason, draft.line)
        latest = max(latest, draft.start)


def build_transcript(source: str, fmt: str, drafts: list[Draft]) -> Transcript:
    """Normalise whitespace, drop empty segments, sort by start; fail when nothing timed is left."""
    if len(drafts) > MAX_SEGMENTS:
        raise TranscriptError(source, f"more than {MAX_SEGMENTS:,} segments")
    check_order(drafts, source)
    segments = []
    for draft in drafts:
        text = " ".join(draft.text.split())
        if text:
            speaker = " ".join(draft.speaker.split()) if draft.speaker else ""
            segments.append(Segment(draft.start, text, draft.end, speaker or None))
    if not segments:
        raise TranscriptError(source, "no timed text found")
    segments.sort(key=lambda segment: segment.start)
    return Transcript(source, fmt, tuple(segments))


def merge_words(words: list[Draft]) -> list[Draft]:
    """Word-sized drafts joined into sentence-sized ones of one speaker: a sentence end, a long pause or MAX_WORDS
    words closes one. Each keeps its first word's start, so a quote links to the exact word."""
    merged: list[Draft] = []
    group: list[Draft] = []
    count = 0
    for word in words:
        if group:
            last = group[-1]
            pause = word.start - (last.end if last.end is not None else last.start)
            if word.speaker != last.speaker or pause > MAX_GAP or ends_sentence(last.text) or count >= MAX_WORDS:
                merged.append(_join(group))
                group, count = [], 0
        group.append(word)
        count += len(word.text.split())
    if group:
        merged.append(_join(group))
    return merged


def _join(group: list[Draft]) -> Draft:
    ends = [d.end for d in group if d.end is not None]
    text = " ".join(d.text for d in group)
    return Draft(group[0].start, text, group[0].line, max(ends) if ends else None, group[0].speaker)
