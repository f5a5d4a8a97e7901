"""WebVTT and SRT cues, read by one small hand parser.

Not webvtt-py: version 0.6 rounds cue times to whole seconds, silently skips cues whose timing line is
malformed and reports no line numbers. Not `srt`: it reports character offsets, not lines. Both formats
are blank-line separated blocks of an optional identifier, a `start --> end [settings]` line and text
lines, so one parser serves both and can name the line of any bad timing line.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from index.errors import TranscriptError

from .segments import Draft
from .timecodes import parse_timecode

_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")  # WebVTT comments and styling, never spoken text
# `[^<>]*` stops at the next `<`, so stripping tags stays linear even on a huge unclosed `<`.
_TAG = re.compile(r"<[^<>]*>")
_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?\s+([^<>]*)>")
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")  # `{\an8}` positioning codes that some SRT files carry
_LOOKS_TIMED = re.compile(r"\s*\d{1,3}:\d")


def parse_subtitles(text: str, source: str) -> list[Draft]:
    """One draft per cue; a block with no timing line continues the previous cue (a blank line in its text)
    and becomes a draft of its own with that cue's times."""
    drafts: list[Draft] = []
    for number, (first_line, block) in enumerate(_blocks(text.split("\n"))):
        if (number == 0 and block[0].startswith("WEBVTT")) or _is_skipped(block[0]):
            continue
        timing = next((i for i, line in enumerate(block[:2]) if "-->" in line), None)
        if timing is None:
            looks_timed = next((i for i, line in enumerate(block) if _LOOKS_TIMED.match(line)), None)
            if looks_timed is not None or not drafts:
                lineno = first_line + (looks_timed or 0)
                raise TranscriptError(source, "expected a cue timing line 'start --> end'", lineno)
            cue = drafts[-1]
            drafts.append(Draft(cue.start, _cue_text("\n".join(block))[0], first_line, cue.end, cue.speaker))
            continue
        start, end = _timing(block[timing], first_line + timing, source)
        cue_text, speaker = _cue_text("\n".join(block[timing + 1 :]))
        drafts.append(Draft(start, cue_text, first_line + timing, end, speaker))
    return drafts


def _blocks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Runs of non-blank lines with the 1-based number of their first line."""
    block: list[str] = []
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            block.append(line)
        elif block:
            yield lineno - len(block), block
            block = []
    if block:
        yield len(lines) + 1 - len(block), block


def _is_skipped(first: str) -> bool:
    word = first.split(None, 1)[0]
    return word in _SKIPPED_BLOCKS and "-->" not in first


def _timing(line: str, lineno: int, source: str) -> tuple[float, float]:
    left, _, right = line.partition("-->")
    end_token = (right.split(None, 1) or [""])[0]  # cue settings may follow the end time
    start, end = parse_timecode(left.strip()), parse_timecode(end_token)
    if start is None or end is None:
        raise TranscriptError(source, f"malformed cue timing line {line.strip()[:80]!r}", lineno)
    if end < start:
        raise TranscriptError(source, "cue ends before it starts", lineno)
    return start, end


def _cue_text(raw: str) -> tuple[str, str | None]:
    """Plain text and the first `<v Speaker>` voice; every other tag and karaoke timestamp goes."""
    voice = _VOICE.search(raw)
    text = html.unescape(_TAG.sub("", _ASS_OVERRIDE.sub("", raw)))
    return text, voice[1].strip() if voice else None
