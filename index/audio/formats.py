"""Machine transcripts written as Podcasting 2.0 JSON (what the index reads back) and WebVTT (to publish).

The JSON has one segment per word with its own start and end, as the Podcasting 2.0 spec allows: the index's
JSON reader joins words into sentences at the same boundaries `sentences` uses here (punctuation, a pause,
a length cap), so every indexed sentence starts at its first word's time exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from index.audio.recognize import Word
from index.parsing.segments import MAX_GAP, MAX_WORDS, ends_sentence

CUE_WORDS = 16  # a WebVTT cue of at most two short lines on a player's screen


def sentences(words: Sequence[Word], limit: int = MAX_WORDS) -> list[list[Word]]:
    """Words grouped into sentences: a break after end punctuation, at a pause over MAX_GAP, or at `limit` words."""
    groups: list[list[Word]] = []
    for word in words:
        if groups:
            last = groups[-1]
            count = sum(len(w.text.split()) for w in last)
            if not (ends_sentence(last[-1].text) or word.start - last[-1].end > MAX_GAP or count >= limit):
                last.append(word)
                continue
        groups.append([word])
    return groups


def podcast_json(words: Sequence[Word]) -> bytes:
    """Podcasting 2.0 JSON (`application/json` transcript), one segment per word."""
    segments = [{"startTime": round(w.start, 3), "endTime": round(w.end, 3), "body": w.text} for w in words]
    return json.dumps({"version": "1.0.0", "segments": segments}, ensure_ascii=False).encode()


def webvtt(words: Sequence[Word]) -> str:
    """WebVTT (`text/vtt`), one cue per sentence (long ones split), for players that show captions."""
    cues = ["WEBVTT", ""]
    for number, cue in enumerate((c for s in sentences(words) for c in _split(s)), start=1):
        cues += [str(number), f"{_stamp(cue[0].start)} --> {_stamp(max(cue[-1].end, cue[0].start))}"]
        cues += [" ".join(w.text for w in cue), ""]
    return "\n".join(cues)


def _split(sentence: list[Word]) -> list[list[Word]]:
    return [sentence[i : i + CUE_WORDS] for i in range(0, len(sentence), CUE_WORDS)]


def _stamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
