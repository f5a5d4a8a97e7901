"""Transcript segments to sentences with their own times, and sentences to overlapping passages.

Subtitle cues cut sentences in half and speaker turns run for minutes, so neither is a good unit to embed or
to quote. We first re-cut the text into sentences, timing each one by interpolating within the segment it
starts in, then pack whole sentences into passages of about `target_words`, preferring to end a passage at a
speaker turn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from index.models import Chunk, Segment, Sentence
from index.text import CJK

CHUNKER_VERSION = 2  # bump when the output of this module changes for the same settings
MAX_SENTENCE_WORDS = 60  # unpunctuated ASR text: cut run-ons at segment ends past this length

_CLOSERS = "\"')]”’»」』"
# A stop and its closing quotes or brackets, then a space; Chinese and Japanese stops need no space.
_SENTENCE_END = re.compile(rf"[.!?…][{re.escape(_CLOSERS)}]*(?=\s)|[。！？][{re.escape(_CLOSERS)}]*")
# A stop after these ends no sentence ("Dr. Smith", "e.g. this"), even at the end of a subtitle cue.
_TITLES = frozenset({"mr", "mrs", "dr", "prof", "st", "vs", "e.g", "i.e"})
_NEXT_WORD = re.compile(r"\s*(\S)")
_DOTTED = re.compile(r"(?:[a-z]\.)+[a-z]", re.I)  # "U.S", "p.m": the last stop is the sentence's when it ends one
# Those scripts put no spaces between words: each of their characters counts as one.
_WORDS = re.compile(rf"[{CJK}]|[^\s{CJK}]+")


@dataclass(frozen=True, slots=True)
class ChunkerSettings:
    target_words: int = 120
    overlap_words: int = 60
    title_header: bool = True  # embed "<podcast>: <episode title>." before each passage (docs/retrieval.md)

    def as_dict(self) -> dict[str, int]:
        return {
            "target_words": self.target_words,
            "overlap_words": self.overlap_words,
            "title_header": int(self.title_header),
            "version": CHUNKER_VERSION,
        }


def split_sentences(segments: Sequence[Segment], duration: float | None = None) -> list[Sentence]:
    """Sentences in speaking order, each timed where it starts within its segment.

    A segment without an end runs until the next segment starts (or to `duration` for the last one).
    """
    sentences: list[Sentence] = []
    parts: list[str] = []
    start = 0.0
    speaker: str | None = None

    def flush(end: float) -> None:
        nonlocal parts
        text = " ".join(parts).strip()
        if text:
            sentences.append(Sentence(start=start, end=max(end, start), text=text, speaker=speaker))
        parts = []

    for index, segment in enumerate(segments):
        seg_end = _segment_end(segments, index, duration)
        if parts and segment.speaker != speaker:
            flush(segment.start)
        length = max(len(segment.text), 1)
        for piece, offset, closes in _pieces(segment.text):
            at = segment.start + (seg_end - segment.start) * offset / length
            if not parts:
                start, speaker = at, segment.speaker
            parts.append(piece)
            if closes:
                flush(segment.start + (seg_end - segment.start) * (offset + len(piece)) / length)
        if parts and sum(word_count(p) for p in parts) >= MAX_SENTENCE_WORDS:
            flush(seg_end)
    if parts:
        flush(_segment_end(segments, len(segments) - 1, duration) if segments else start)
    return sentences


def chunk_sentences(
    episode_id: str,
    sentences: Sequence[Sentence],
    settings: ChunkerSettings,
    boilerplate: Sequence[bool] | None = None,
) -> list[Chunk]:
    """Consecutive sentences packed into passages of about `target_words`, overlapping by whole sentences.

    With `boilerplate` flags (one per sentence), runs of boilerplate and of content are chunked separately,
    so a sponsor read never dilutes the passage it interrupts.
    """
    flags = list(boilerplate) if boilerplate is not None else [False] * len(sentences)
    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        last = first
        while last + 1 < len(sentences) and flags[last + 1] == flags[first]:
            last += 1
        chunks += _chunk_run(episode_id, sentences[first : last + 1], settings, flags[first])
        first = last + 1
    return chunks


def _chunk_run(
    episode_id: str, sentences: Sequence[Sentence], settings: ChunkerSettings, boilerplate: bool
) -> list[Chunk]:
    words = [word_count(s.text) for s in sentences]
    chunks: list[Chunk] = []
    first, previous_last = 0, -1
    while first < len(sentences):
        last = _chunk_end(sentences, words, first, settings.target_words)
        if last <= previous_last:  # the overlap alone filled it: it would repeat the end of the previous passage
            first = previous_last + 1
            last = _chunk_end(sentences, words, first, settings.target_words)
        previous_last = last
        chunks.append(
            Chunk(
                episode_id=episode_id,
                start=sentences[first].start,
                end=max(s.end for s in sentences[first : last + 1]),
                sentences=tuple(sentences[first : last + 1]),
                boilerplate=boilerplate,
            )
        )
        if last == len(sentences) - 1:
            break
        first = _next_start(words, first, last, settings.overlap_words)
    return chunks


def chunk_transcript(
    episode_id: str, segments: Sequence[Segment], settings: ChunkerSettings, duration: float | None = None
) -> list[Chunk]:
    return chunk_sentences(episode_id, split_sentences(segments, duration), settings)


def word_count(text: str) -> int:
    return len(_WORDS.findall(text))


def _pieces(text: str) -> Iterable[tuple[str, int, bool]]:
    """(piece, character offset, ends a sentence) for the sentence pieces of one segment's text.

    A run-on longer than MAX_SENTENCE_WORDS (unpunctuated ASR) is cut every MAX_SENTENCE_WORDS words.
    """
    position = 0
    for match in _SENTENCE_END.finditer(text):
        if match.group() != "." or not _abbreviation(text, match.end()):
            yield from _bounded(text, position, match.end(), True)
            position = match.end()
    tail = text[position:].rstrip()
    stop = tail.rstrip(_CLOSERS)[-1:]
    closes = stop in ("!", "?", "…", "。", "！", "？") or (stop == "." and not _abbreviation(tail, len(tail)))
    yield from _bounded(text, position, position + len(tail), closes)


def _abbreviation(text: str, end: int) -> bool:
    """Whether the full stop just before `end` belongs to an abbreviation rather than ending the sentence.

    Titles never end one; an initial ("J. R. R. Tolkien", not "I." or "plan A.") and a dotted abbreviation
    ("the U.S. government") only mid-cue, before a word that does not start a sentence. At the end of a cue
    they end it: cues mostly end with their sentence.
    """
    word = text[text.rfind(" ", 0, end) + 1 : end - 1].lstrip('("“')
    if word.lower() in _TITLES:
        return True
    after = _NEXT_WORD.match(text, end)
    if after is None:
        return False
    following = after.group(1)
    initial = len(word) == 1 and word.isupper() and word not in "AI" and following.isupper()
    return initial or (_DOTTED.fullmatch(word) is not None and not following.isupper())


def _bounded(text: str, start: int, end: int, closes: bool) -> Iterable[tuple[str, int, bool]]:
    words = list(re.finditer(r"\S+", text[start:end]))
    for first in range(0, len(words), MAX_SENTENCE_WORDS):
        group = words[first : first + MAX_SENTENCE_WORDS]
        last_group = first + MAX_SENTENCE_WORDS >= len(words)
        piece = text[start + group[0].start() : start + group[-1].end()]
        yield piece, start + group[0].start(), closes or not last_group


def _segment_end(segments: Sequence[Segment], index: int, duration: float | None) -> float:
    segment = segments[index]
    if segment.end is not None and segment.end >= segment.start:
        return segment.end
    if index + 1 < len(segments):
        return max(segments[index + 1].start, segment.start)
    # The last untimed segment: assume an average speaking rate of 2.5 words a second.
    guess = segment.start + len(segment.text.split()) / 2.5
    return min(guess, duration) if duration and duration > segment.start else guess


def _chunk_end(sentences: Sequence[Sentence], words: Sequence[int], first: int, target: int) -> int:
    """Index of the last sentence of the passage starting at `first`.

    Grows to `target` words; a sentence that would overshoot by more than a quarter is left for the next
    passage, and once the passage is two thirds full a change of speaker ends it.
    """
    total, last = words[first], first
    while last + 1 < len(sentences) and total < target:
        following = words[last + 1]
        if total + following > target * 1.25 and total >= target / 2:
            break
        if sentences[last + 1].speaker != sentences[last].speaker and total >= target * 2 / 3:
            break
        last += 1
        total += following
    return last


def _next_start(words: Sequence[int], first: int, last: int, overlap: int) -> int:
    """First sentence of the next passage: back off from `last` while the overlap stays under `overlap`."""
    start = last + 1
    shared = 0
    while start - 1 > first and shared + words[start - 1] <= overlap:
        start -= 1
        shared += words[start]
    return start
