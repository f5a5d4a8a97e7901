"""Transcript parsing: bytes in any supported format become a `Transcript`; bad input a `TranscriptError`.

Formats: "vtt", "youtube-vtt" (rolling automatic captions), "srt", "sbv", "html" (Podcasting 2.0),
"podcast-json", "whisper-json", "timed-lines", "otter", "markdown". The format is detected from content; a
declared MIME type or file extension only breaks ties. docs/parsing.md shows each one.
"""

from __future__ import annotations

from collections.abc import Callable

from index.errors import TranscriptError
from index.models import Transcript

from .decode import decode
from .detect import detect_format
from .html_transcript import parse_html
from .json_formats import parse_podcast_json, parse_whisper_json
from .markdown import parse_markdown
from .otter import parse_otter
from .rolling import parse_rolling_captions
from .sbv import parse_sbv
from .segments import Draft, build_transcript
from .subtitles import parse_srt, parse_vtt
from .timed_lines import parse_timed_lines

__all__ = ["FORMATS", "detect_format", "parse_transcript"]

_PARSERS: dict[str, Callable[[str, str], list[Draft]]] = {
    "vtt": parse_vtt,
    "youtube-vtt": parse_rolling_captions,
    "srt": parse_srt,
    "sbv": parse_sbv,
    "html": parse_html,
    "podcast-json": parse_podcast_json,
    "whisper-json": parse_whisper_json,
    "timed-lines": parse_timed_lines,
    "otter": parse_otter,
    "markdown": parse_markdown,
}
FORMATS = tuple(_PARSERS)


def parse_transcript(data: bytes | str, source: str, *, hint: str | None = None) -> Transcript:
    """Parse a transcript; `source` names it in errors, `hint` (extension or MIME type) only breaks ties."""
    try:
        text = decode(data, source)
        fmt = detect_format(text, hint, source=source)
        return build_transcript(source, fmt, _PARSERS[fmt](text, source))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        # The parsers validate what they read; this edge guarantees callers only ever see the domain error.
        raise TranscriptError(source, f"cannot parse transcript: {str(exc)[:200]}") from exc
