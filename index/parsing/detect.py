"""Which format a transcript is in, from its content; a declared type or extension only breaks ties.

Hosts often serve transcripts as text/plain or with a wrong extension, so the hint can never override
what the content clearly is.
"""

from __future__ import annotations

import re
from collections import Counter

from index.errors import TranscriptError

from .json_formats import json_format, load_json
from .markdown import SPEAKER
from .otter import otter_header
from .rolling import ROLLING
from .sbv import TIMING as SBV_TIMING
from .timed_lines import STAMP

_JSON_START = re.compile(r"\{|\[\s*[\[{\]\"]")  # not `[04:01]`, which opens a Markdown paragraph
_CUE_TIMING = re.compile(r"(?:\d{1,3}:)?\d{1,3}:\d{2}[.,]\d{1,3}\s*-->")
_HTML_TRANSCRIPT_TAG = re.compile(r"<(?:cite|time|p)[\s>/]", re.IGNORECASE)
_SCAN_CHARS = 200_000  # the layout shows in the first pages; never scan a huge file line by line twice
_HINTS = {
    "vtt": "vtt",
    "text/vtt": "vtt",
    "srt": "srt",
    "application/srt": "srt",
    "application/x-subrip": "srt",
    "text/srt": "srt",
    "sbv": "sbv",
    "md": "markdown",
    "markdown": "markdown",
    "text/markdown": "markdown",
}


def detect_format(text: str, hint: str | None = None, *, source: str = "<text>") -> str:
    """One of the format names `parse_transcript` reports; TranscriptError when no format fits."""
    body = text.lstrip("\ufeff \t\n")
    if body.startswith("WEBVTT"):
        return "youtube-vtt" if ROLLING.search(body, 0, _SCAN_CHARS) else "vtt"
    if _JSON_START.match(body):
        fmt = json_format(load_json(text, source))
        if fmt is None:
            raise TranscriptError(source, "JSON is neither a Podcasting 2.0 nor a Whisper transcript")
        return fmt
    if body.startswith("<"):  # no other format opens with a tag; Buzzsprout pages open with <!-- or <html>
        if _HTML_TRANSCRIPT_TAG.search(body, 0, _SCAN_CHARS) is None:
            raise TranscriptError(source, "HTML without <cite>, <time> or <p>: not a Podcasting 2.0 transcript")
        return "html"
    preferred = _HINTS.get((hint or "").split(";")[0].strip().lower().lstrip("."))
    votes: Counter[str] = Counter()
    for raw in body[:_SCAN_CHARS].split("\n"):
        line = raw.strip()
        if _CUE_TIMING.match(line):
            votes["vtt" if preferred == "vtt" else "srt"] += 1  # SRT unless declared: no WEBVTT header
        elif SBV_TIMING.fullmatch(line):
            votes["sbv"] += 1
        elif SPEAKER.match(line):
            votes["markdown"] += 1
        elif otter_header(line):
            votes["otter"] += 1
        elif STAMP.match(line):
            votes["timed-lines"] += 1
    if not votes:
        raise TranscriptError(source, "no timestamps found: not a transcript format this reads")
    return max(votes, key=lambda fmt: (votes[fmt], fmt == preferred))
