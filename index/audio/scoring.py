"""How close a machine transcript is to the script that was read: words recovered in order, and their times.

Used by the transcription tests and `scripts/bench_transcription.py` on the speech fixtures of tests/data/audio.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

from index.audio.recognize import Word

# Whisper writes American spellings and digits; the fixtures' script has some British spellings and numbers in
# words. Same words.
SPELLINGS = {"neighbours": "neighbors", "tyre": "tire", "20": "twenty"}


def normalised(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphenated words count as their parts."""
    return [SPELLINGS.get(w, w) for w in re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))]


def _matcher(reference: Sequence[str], heard: Sequence[str]) -> SequenceMatcher:
    return SequenceMatcher(None, list(reference), list(heard), autojunk=False)


def agreement(reference: str, words: Sequence[Word]) -> float:
    """Share of the reference's words recovered in order (the matching blocks of a longest common subsequence)."""
    said = normalised(reference)
    heard = [part for w in words for part in normalised(w.text)]
    return sum(block.size for block in _matcher(said, heard).get_matching_blocks()) / len(said)


def aligned_starts(reference: Sequence[str], words: Sequence[Word]) -> dict[int, float]:
    """Position of each reference word -> start of the recognised word aligned to it (unrecognised: absent)."""
    heard = [(part, w.start) for w in words for part in normalised(w.text)]
    blocks = _matcher(reference, [h for h, _ in heard]).get_matching_blocks()
    return {a + k: heard[b + k][1] for a, b, size in blocks for k in range(size)}


def start_errors(script: Sequence[Mapping[str, Any]], words: Sequence[Word]) -> dict[int, float | None]:
    """Paragraph -> seconds between where its first word was spoken and where it was recognised.

    `script` is a fixture's sentences as script.json lists them (paragraph, text, start). None: the paragraph's
    first word was not recognised.
    """
    reference = [(w, s) for s in script for w in normalised(s["text"])]
    times = aligned_starts([w for w, _ in reference], words)
    errors: dict[int, float | None] = {}
    for position, (_, sentence) in enumerate(reference):
        if sentence["paragraph"] not in errors:
            start = times.get(position)
            errors[sentence["paragraph"]] = None if start is None else abs(start - sentence["start"])
    return errors
