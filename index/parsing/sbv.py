"""YouTube's SubViewer captions (`.sbv`): a `H:MM:SS.mmm,H:MM:SS.mmm` line, then text, blocks split by blank lines.

No counters, no styling; speakers, when named, use the same `Name:` (or `>>NAME:`) prefix as SRT.
"""

from __future__ import annotations

import re

from index.errors import TranscriptError

from .segments import Draft
from .speakers import named_speakers
from .subtitles import blocks
from .timecodes import parse_timecode

TIMING = re.compile(r"\s*(\d{1,3}:\d{2}:\d{2}\.\d{1,3}),(\d{1,3}:\d{2}:\d{2}\.\d{1,3})\s*")
_LOOKS_TIMED = re.compile(r"\s*\d{1,3}:\d")


def parse_sbv(text: str, source: str) -> list[Draft]:
    """One draft per caption; a block without a timing line continues the caption before it."""
    cues: list[tuple[float, float, str, int, bool]] = []  # start, end, text, line, continued
    for first_line, block in blocks(text.split("\n")):
        match = TIMING.fullmatch(block[0])
        if match is None:
            if _LOOKS_TIMED.match(block[0]) or not cues:
                raise TranscriptError(source, "expected a caption timing line 'H:MM:SS.mmm,H:MM:SS.mmm'", first_line)
            start, end = cues[-1][:2]
            cues.append((start, end, "\n".join(block), first_line, True))
            continue
        start, end = parse_timecode(match[1]), parse_timecode(match[2])
        if start is None or end is None:
            raise TranscriptError(source, f"malformed caption timing line {block[0].strip()[:80]!r}", first_line)
        if end < start:
            raise TranscriptError(source, "caption ends before it starts", first_line)
        cues.append((start, end, "\n".join(block[1:]), first_line, False))
    named = named_speakers([(text, None, continued) for _, _, text, _, continued in cues])
    return [
        Draft(start, cue_text, line, end, speaker)
        for (start, end, _, line, _), (cue_text, speaker) in zip(cues, named, strict=True)
    ]
