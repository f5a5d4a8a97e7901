"""YouTube's automatic captions: rolling two-line cues with a time for every word.

Each cue shows the line before it again above the new one (`hello there` / `welcome<00:00:03.120><c> to</c>`),
and a 10 ms cue in between repeats the last line alone, so read as plain cues every line comes twice. The
inline `<hh:mm:ss.mmm>` tags time each word after a line's first one, which starts with its cue. We keep each
line once, time every word, and join the words into sentence-sized segments that start on the exact word.
"""

from __future__ import annotations

import re
from collections import deque

from index.errors import TranscriptError

from .segments import Draft, check_order, merge_words
from .subtitles import Cue, read_cues, strip_tags
from .timecodes import parse_timecode

# What marks the format: a word time followed by the `<c>` span YouTube wraps each word in.
ROLLING = re.compile(r"<\d{1,2}:\d{2}:\d{2}\.\d{3}><c[.>]")
_WORD_TIME = re.compile(r"<(\d{1,2}:\d{2}:\d{2}\.\d{3})>")
_REPEATS = 2  # a repeated line is one of the last two kept (the 10 ms cue, then the next cue's top line)


def parse_rolling_captions(text: str, source: str) -> list[Draft]:
    """Sentence-sized drafts from every new caption line, each word timed by its inline tag."""
    words: list[Draft] = []
    recent: deque[str] = deque(maxlen=_REPEATS)
    for cue in read_cues(text, source):
        for lineno, raw in enumerate(cue.lines, cue.text_line):
            line = " ".join(strip_tags(raw).split())
            # A line carrying word times is new by definition; one without them is new unless it repeats.
            if not line or (line in recent and _WORD_TIME.search(raw) is None):
                continue
            recent.append(line)
            words.extend(_timed_words(raw, lineno, cue, source))
    check_order(words, source)
    return merge_words(words)


def _timed_words(raw: str, lineno: int, cue: Cue, source: str) -> list[Draft]:
    """One draft per word: the words before the first tag start with the cue, the others at their tag; each
    ends where the next begins, the last with the cue."""
    pieces = _WORD_TIME.split(raw)
    starts = [cue.start]
    for token in pieces[1::2]:
        seconds = parse_timecode(token)
        if seconds is None:
            raise TranscriptError(source, f"invalid word time <{token}>", lineno)
        starts.append(min(max(seconds, cue.start), cue.end))  # a word is said within its cue
    texts = pieces[0::2]
    words = [(start, word) for start, piece in zip(starts, texts, strict=True) for word in strip_tags(piece).split()]
    ends = [start for start, _ in words[1:]] + [cue.end]
    return [Draft(start, word, lineno, end) for (start, word), end in zip(words, ends, strict=True)]
