"""Markdown transcripts (the Changelog style): `**Speaker:** text` paragraphs with sparse time markers.

Markers like `\\[04:01\\]` come every few minutes, so most text has no time of its own; `paragraphs`
interpolates one for every word between them.
"""

from __future__ import annotations

import re

from index.errors import TranscriptError

from .paragraphs import TimedParagraphs
from .segments import Draft
from .timecodes import parse_timecode

SPEAKER = re.compile(r"\*\*([^*\n]{1,80}?)(?::\*\*|\*\*:)[ \t]*")
# `\[04:01\]`, `[1:02:03]`, `\[00:04:01.06\]`, and `\[unintelligible 01:48:36.22\]` (a time in an aside).
# Anything clock-shaped is taken as a marker, so a malformed one is reported rather than dropped as an aside.
_MARKER = re.compile(r"\\?\[(?:[^\[\]\n]{0,60}\s)?(\d{1,3}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\\?\]")
_LINK = re.compile(r"\[([^\[\]\n]{1,200})\]\([^()\s]{1,500}\)")
_ASIDE = re.compile(r"\\?\[[^\[\]\n]{0,80}\\?\]")  # stage directions: [laughter], \[laughs\]
_EMPHASIS = re.compile(r"(?<!\\)[*`]+")
_ESCAPE = re.compile(r"\\(?=[\\`*_{}\[\]()#+\-.!<>|~])")  # the backslash of `\[`, `\*`, `\_`...
_NON_DIALOGUE = re.compile(r"#{1,6}(?:\s|$)|(?:[-*_][ \t]*){3,}$")


def parse_markdown(text: str, source: str) -> list[Draft]:
    """Paragraphs as segments (long ones split at sentence ends), timed from the interpolated markers."""
    timed = TimedParagraphs(source)
    speaker: str | None = None
    para: tuple[int, int] | None = None  # (first word, line) of the open paragraph
    for lineno, raw in enumerate([*text.split("\n"), ""], 1):
        line = raw.strip()
        if not line or _NON_DIALOGUE.match(line):
            if para is not None:
                timed.end_paragraph(para[0], speaker, para[1])
            para = None
            continue
        if para is None:
            label = SPEAKER.match(line)
            if label:
                speaker, line = label[1].strip(), line[label.end() :]
            para = (len(timed.words), lineno)  # an unlabelled paragraph continues the previous speaker
        pieces = _MARKER.split(line)
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                timed.add_words(_clean(piece))
                continue
            seconds = parse_timecode(piece)
            if seconds is None:
                raise TranscriptError(source, f"invalid time marker {piece!r}", lineno)
            timed.mark(seconds, lineno)
    return timed.drafts("no time markers found")


def _clean(piece: str) -> str:
    """Spoken words only: links keep their text, asides and emphasis go, escapes are undone."""
    piece = _ASIDE.sub(" ", _LINK.sub(r"\1", piece))
    return _ESCAPE.sub("", _EMPHASIS.sub("", piece))
