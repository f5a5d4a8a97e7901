"""Sponsor reads, intros, outros and calls to action: sentences whose wording recurs across episodes.

A sentence is boilerplate when at least half of its 6-word phrases are also said in MIN_EPISODES or more
episodes. Sentences too short to judge ("Thank you.", a host's stock question) follow their neighbours when
few (under MAX_FILLED_WORDS; a longer run of short sentences is a conversation), and only runs of at least
MIN_RUN_WORDS count: sponsor reads and intros are long, while unique content shares a stray phrase now and then,
never a paragraph. Passages are then cut so that none mixes boilerplate with
content (see index.chunking).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from index.text import words

SHINGLE_WORDS = 6
MIN_EPISODES = 3
MIN_SHARE = 0.5
MIN_JUDGED_WORDS = 12
MIN_RUN_WORDS = 40
MAX_FILLED_WORDS = 24


def shingles(text: str) -> set[int]:
    tokens = words(text)
    return {hash(" ".join(tokens[i : i + SHINGLE_WORDS])) for i in range(len(tokens) - SHINGLE_WORDS + 1)}


def flag_boilerplate(episodes: Sequence[Sequence[str]]) -> list[list[bool]]:
    """For each episode's sentences, which are boilerplate (same shape as the input)."""
    per_sentence = [[shingles(text) for text in sentences] for sentences in episodes]
    spread: Counter[int] = Counter()
    for sentences in per_sentence:
        spread.update(set().union(*sentences) if sentences else set())
    flags = []
    for texts, sentences in zip(episodes, per_sentence, strict=True):
        lengths = [len(words(text)) for text in texts]
        judged: list[bool | None] = [
            sum(spread[s] >= MIN_EPISODES for s in found) >= MIN_SHARE * len(found)
            if length >= MIN_JUDGED_WORDS
            else None
            for found, length in zip(sentences, lengths, strict=True)
        ]
        flags.append(_drop_short_runs(_fill_short(judged, lengths), lengths))
    return flags


def _fill_short(judged: list[bool | None], lengths: list[int]) -> list[bool]:
    """Sentences too short to judge are boilerplate when the nearest judged sentences on both sides are, and
    they hold fewer than MAX_FILLED_WORDS together: a sponsor's "Check it out." is filled, a quick exchange of
    questions and answers between an intro and an ad is not."""
    filled = [bool(verdict) for verdict in judged]
    start = 0
    while start < len(judged):
        if judged[start] is not None:
            start += 1
            continue
        end = start
        while end < len(judged) and judged[end] is None:
            end += 1
        before = start > 0 and bool(judged[start - 1])
        after = end < len(judged) and bool(judged[end])
        if before and after and sum(lengths[start:end]) < MAX_FILLED_WORDS:
            filled[start:end] = [True] * (end - start)
        start = end
    return filled


def _drop_short_runs(flags: list[bool], lengths: list[int]) -> list[bool]:
    out = list(flags)
    start = 0
    while start < len(out):
        end = start
        while end < len(out) and out[end] == out[start]:
            end += 1
        if out[start] and sum(lengths[start:end]) < MIN_RUN_WORDS:
            out[start:end] = [False] * (end - start)
        start = end
    return out
