"""WebVTT and SRT cues, read by one small hand parser.

Not webvtt-py: version 0.6 rounds cue times to whole seconds, silently skips cues whose timing line is
malformed and reports no line numbers. Not `srt`: it reports character offsets, not lines. Both formats
are blank-line separated blocks of an optional identifier, a `start --> end [settings]` line and text
lines, so one reader serves both (and YouTube's rolling captions) and can name the line of any bad timing.

Speakers, as the Podcasting 2.0 spec writes them, are named only when they change: a WebVTT `<v Name>`
voice or an SRT `Name:` prefix holds for the following cues until another name appears.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from index.errors import TranscriptError

from .segments import Draft
from .speakers import named_speakers
from .timecodes import parse_timecode

_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")  # WebVTT comments and styling, never spoken text
# `[^<>]*` stops at the next `<`, so stripping tags stays linear even on a huge unclosed `<`.
_TAG = re.compile(r"<[^<>]*>")
_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?\s+([^<>]*)>")
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")  # `{\an8}` positioning codes that some SRT files carry
_LOOKS_TIMED = re.compile(r"\s*\d{1,3}:\d")


@dataclass(slots=True)
class Cue:
    """One cue as read: its times, its raw text lines (tags and all) and the line to blame for it."""

    start: float
    end: float
    lines: list[str]
    line: int
    continued: bool = False  # a block without a timing line: more text of the cue before it

    @property
    def text_line(self) -> int:
        """The line number of `lines[0]`."""
        return self.line if self.continued else self.line + 1


def parse_vtt(text: str, source: str) -> list[Draft]:
    """One draft per cue; a `<v Name>` voice holds until the next voice."""
    drafts: list[Draft] = []
    speaker: str | None = None
    for cue in read_cues(text, source):
        cue_text, voice = cue_text_and_voice(cue.lines)
        speaker = voice or speaker
        drafts.append(Draft(cue.start, cue_text, cue.line, cue.end, speaker))
    return drafts


def parse_srt(text: str, source: str) -> list[Draft]:
    """One draft per cue; a `<v Name>` voice or a leading `Name:` holds until the next name (see `speakers`)."""
    cues = read_cues(text, source)
    read = [cue_text_and_voice(cue.lines) for cue in cues]
    named = named_speakers([(text, voice, cue.continued) for cue, (text, voice) in zip(cues, read, strict=True)])
    return [
        Draft(cue.start, cue_text, cue.line, cue.end, speaker)
        for cue, (cue_text, speaker) in zip(cues, named, strict=True)
    ]


def read_cues(text: str, source: str) -> list[Cue]:
    """Every cue in order. A timing line directly after text (no blank line) starts a new cue, as WebVTT
    parsers do; a digit-only line right before it is that cue's SRT counter, not text."""
    cues: list[Cue] = []
    for number, (first_line, block) in enumerate(blocks(text.split("\n"))):
        if number == 0 and block[0].startswith("WEBVTT"):
            # The header (and a cue identifier), then the first cue when no blank line ends the header.
            header = next((i for i, line in enumerate(block) if "-->" in line), len(block))
            first_line, block = first_line + header, block[header:]
            if not block:
                continue
        if _is_skipped(block[0]):
            continue
        timings = [i for i, line in enumerate(block) if "-->" in line]
        if not timings:
            cues.append(_continuation(block, first_line, cues, source))
            continue
        if timings[0] > 1:  # text first: the previous cue goes on (the line before the timing may be a counter)
            cues.append(_continuation(_without_counter(block[: timings[0]]), first_line, cues, source))
        for at, following in zip(timings, [*timings[1:], None], strict=True):
            start, end = _timing(block[at], first_line + at, source)
            lines = block[at + 1 : following]
            cues.append(Cue(start, end, lines if following is None else _without_counter(lines), first_line + at))
    return cues


def _without_counter(lines: list[str]) -> list[str]:
    """Lines before a timing line, less the SRT counter that may end them."""
    return lines[:-1] if lines and lines[-1].strip().isdigit() else lines


def _continuation(lines: list[str], first_line: int, cues: list[Cue], source: str) -> Cue:
    """Text lines outside any cue: more of the previous cue (after a blank line in its text), or an error."""
    looks_timed = next((i for i, line in enumerate(lines) if _LOOKS_TIMED.match(line)), None)
    if looks_timed is not None or not cues:
        raise TranscriptError(source, "expected a cue timing line 'start --> end'", first_line + (looks_timed or 0))
    return Cue(cues[-1].start, cues[-1].end, lines, first_line, continued=True)


def blocks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
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


def strip_tags(raw: str) -> str:
    """Plain text: every tag, karaoke timestamp and `{\\an8}` code goes, entities are unescaped."""
    return html.unescape(_TAG.sub("", _ASS_OVERRIDE.sub("", raw)))


def cue_text_and_voice(lines: list[str]) -> tuple[str, str | None]:
    """Plain text and the first `<v Speaker>` voice."""
    raw = "\n".join(lines)
    voice = _VOICE.search(raw)
    return strip_tags(raw), voice[1].strip() if voice else None
