"""Podcasting 2.0 JSON transcripts and Whisper JSON output, told apart by their segment keys."""

from __future__ import annotations

import json

from index.errors import TranscriptError

from .segments import Draft, check_order, merge_words

# Far beyond any episode; comparing first also keeps float() from overflowing on a 300-digit integer.
_MAX_SECONDS = 10**6


def load_json(text: str, source: str) -> object:
    """Parsed JSON; truncated or invalid JSON names its line, absurd nesting is refused."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(source, f"invalid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        # json's C scanner guards its own recursion, so hostile nesting fails fast rather than crashing.
        raise TranscriptError(source, "JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise TranscriptError(source, f"invalid JSON: {exc}") from None


def json_format(data: object) -> str | None:
    """The format name ("podcast-json" or "whisper-json"), or None when the JSON is neither shape."""
    segments = data.get("segments") if isinstance(data, dict) else None
    first = next((s for s in segments if isinstance(s, dict)), None) if isinstance(segments, list) else None
    if first is None:
        return None
    if "startTime" in first or "body" in first:
        return "podcast-json"
    if "start" in first:
        return "whisper-json"
    return None


def parse_podcast_json(text: str, source: str) -> list[Draft]:
    """Podcasting 2.0 segments, merged into sentences: many files carry one word per segment."""
    words = _drafts(text, source, "startTime", "body", "endTime")
    check_order(words, source)  # before merging, so the message names the real segment index
    return merge_words(words)


def parse_whisper_json(text: str, source: str) -> list[Draft]:
    """Whisper segments are already sentence-sized; WhisperX-style output may add a speaker."""
    return _drafts(text, source, "start", "text", "end")


def _drafts(text: str, source: str, start: str, body: str, end: str) -> list[Draft]:
    drafts = [
        Draft(
            _number(seg, start, i, source),
            _string(seg, body, i, source),
            None,
            _optional_number(seg, end, i, source),
            _string(seg, "speaker", i, source) if seg.get("speaker") is not None else None,
        )
        for i, seg in enumerate(_segments(text, source))
    ]
    for i, draft in enumerate(drafts):
        if draft.end is not None and draft.end < draft.start:  # as VTT and SRT cues are refused
            raise TranscriptError(source, f"segment {i} ends ({draft.end:g} s) before it starts ({draft.start:g} s)")
    return drafts


def _segments(text: str, source: str) -> list[dict[str, object]]:
    data = load_json(text, source)
    segments = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(segments, list):
        raise TranscriptError(source, "JSON has no 'segments' list")
    for i, seg in enumerate(segments):
        if not isinstance(seg, dict):
            raise TranscriptError(source, f"segment {i} is not an object")
    return segments


def _number(seg: dict[str, object], key: str, i: int, source: str) -> float:
    value = seg.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < _MAX_SECONDS:
        return float(value)
    raise TranscriptError(source, f"segment {i}: {key!r} must be a number of seconds")


def _optional_number(seg: dict[str, object], key: str, i: int, source: str) -> float | None:
    return None if seg.get(key) is None else _number(seg, key, i, source)


def _string(seg: dict[str, object], key: str, i: int, source: str) -> str:
    value = seg.get(key)
    if not isinstance(value, str):
        raise TranscriptError(source, f"segment {i}: {key!r} must be a string, not {type(value).__name__}")
    return value
