"""Pick the sentences of a passage that answer the question best, so the bot quotes (and links to) them.

Pure functions over sentence vectors and words: the search module supplies the vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.text import content_words

MAX_QUOTE_CHARS = 420
LEXICAL_WEIGHT = 0.15
QUESTION_PENALTY = 0.8  # a sentence asking the question resembles it most, but the answer is what to quote


def sentence_scores(query: str, query_vector: np.ndarray, sentences: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of each sentence to the question, plus a bonus for the question's own words.

    Sentences that are themselves questions are discounted, so the quote is the answer, not the host asking.
    """
    terms = content_words(query)
    scores = vectors @ query_vector if len(sentences) else np.zeros(0, dtype=np.float32)
    if terms:
        overlap = np.array([len(terms & content_words(s)) / len(terms) for s in sentences], dtype=np.float32)
        scores = scores + LEXICAL_WEIGHT * overlap
    asks = np.array([s.rstrip().endswith("?") for s in sentences], dtype=bool)
    return np.where(asks & (scores > 0), scores * QUESTION_PENALTY, scores)


def best_window(
    scores: np.ndarray,
    sentences: Sequence[str],
    speakers: Sequence[str | None] | None = None,
    max_chars: int = MAX_QUOTE_CHARS,
) -> tuple[int, int]:
    """(first, last) sentence indexes of the quote: the best sentence, grown to neighbours that also match.

    When the best sentence is a question someone else answers, the quote is taken from the answer. A
    neighbour joins while the quote stays under `max_chars`, is said by the same speaker (a quote has one
    author), and scores at least 80 % of the best, or when the quote so far is too short to stand on its own.
    """
    if not len(sentences):
        return 0, -1
    best = int(np.argmax(scores))
    if speakers and sentences[best].rstrip().endswith("?"):
        answer = _answer_after(best, speakers)
        if answer:
            answered = answer[0] + int(np.argmax(scores[answer[0] : answer[1]]))
            best = answered if np.isfinite(scores[answered]) else best  # not an answer a speaker filter left out
    first = last = best
    length = len(sentences[best])
    floor = scores[best] * 0.8 if scores[best] > 0 else scores[best] * 1.2
    speaker = speakers[best] if speakers else None
    while True:
        options = [
            (scores[i], i)
            for i in (first - 1, last + 1)
            if 0 <= i < len(sentences) and (not speakers or speakers[i] == speaker)
        ]
        if not options:
            break
        score, index = max(options)
        too_short = length < 80
        if length + len(sentences[index]) + 1 > max_chars or (score < floor and not too_short):
            break
        first, last = min(first, index), max(last, index)
        length += len(sentences[index]) + 1
    return first, last


def _answer_after(question: int, speakers: Sequence[str | None]) -> tuple[int, int] | None:
    """[start, stop) of the first sentences of the next turn, when someone else answers the question."""
    start = question + 1
    while start < len(speakers) and speakers[start] == speakers[question] and start - question <= 3:
        start += 1
    if start >= len(speakers) or speakers[start] is None or speakers[start] == speakers[question]:
        return None
    stop = start
    while stop < len(speakers) and speakers[stop] == speakers[start] and stop - start < 3:
        stop += 1
    return start, stop
