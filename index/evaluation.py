"""Retrieval metrics over questions with gold answer windows (`../shared/eval/dev_questions.jsonl` shape).

A hit answers a question when it comes from the question's transcript file and its time span overlaps the gold
window widened by 15 seconds on each side.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.models import Hit

TOLERANCE = 15.0
CUTOFFS = (1, 3, 5, 10)


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    file: str
    start: float
    end: float
    kind: str = ""
    podcast: str = ""


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            questions.append(
                Question(
                    id=str(item["id"]),
                    question=str(item["question"]),
                    file=str(item.get("file", "")),
                    start=float(item.get("start", 0)),
                    end=float(item.get("end", 0)),
                    kind=str(item.get("kind", "")),
                    podcast=str(item.get("podcast", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a question line ({exc})") from exc
    return questions


def answers(hit: Hit, question: Question) -> bool:
    return (
        hit.source_file == question.file
        and hit.start < question.end + TOLERANCE
        and hit.end > question.start - TOLERANCE
    )


def quote_answers(hit: Hit, question: Question) -> bool:
    """The hit's quote, where its link jumps, overlaps the gold window (with the same tolerance as a hit)."""
    quote = hit.quote
    return (
        bool(quote)
        and hit.source_file == question.file
        and quote[0].start < question.end + TOLERANCE
        and max(s.end for s in quote) > question.start - TOLERANCE
    )


def first_answer_rank(hits: Sequence[Hit], question: Question) -> int | None:
    """1-based rank of the first hit that answers the question, or None."""
    return next((rank for rank, hit in enumerate(hits, start=1) if answers(hit, question)), None)


@dataclass(frozen=True, slots=True)
class Scores:
    count: int
    recall: dict[int, float]  # cutoff -> share of questions answered within it
    mrr: float

    def row(self) -> list[str]:
        return [f"{self.recall[c]:.2f}" for c in CUTOFFS] + [f"{self.mrr:.3f}"]


def score(ranks: Iterable[int | None]) -> Scores:
    ranks = list(ranks)
    count = max(len(ranks), 1)
    recall = {c: sum(1 for r in ranks if r is not None and r <= c) / count for c in CUTOFFS}
    mrr = sum(reciprocal_ranks(ranks).tolist()) / count  # summed in order, as every table in docs/ was
    return Scores(len(ranks), recall, mrr)


BOOTSTRAP_RESAMPLES = 10_000


def reciprocal_ranks(ranks: Sequence[int | None]) -> np.ndarray:
    """1/rank per question, 0 when the answer is not within the last cutoff: the terms MRR averages."""
    return np.array([1.0 / r if r is not None and r <= max(CUTOFFS) else 0.0 for r in ranks])


def mrr_interval(ranks: Sequence[int | None], *, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """95 % bootstrap interval of the MRR over these questions: how far another sample of questions of the
    same kind could put it, which says what a target on fifty questions can tell apart."""
    return _bootstrap(reciprocal_ranks(ranks), resamples)


def _bootstrap(terms: np.ndarray, resamples: int) -> tuple[float, float]:
    """95 % percentile interval of the mean of `terms`, resampling them with replacement (seeded: the same
    numbers every run)."""
    if not len(terms):
        return 0.0, 0.0
    picks = np.random.default_rng(0).integers(0, len(terms), size=(resamples, len(terms)))
    low, high = np.percentile(terms[picks].mean(axis=1), [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True, slots=True)
class Difference:
    """One ranking against another on the same questions."""

    better: int  # questions whose answer rose
    worse: int  # questions whose answer fell
    mrr: float  # change in MRR
    low: float  # 95 % paired bootstrap interval of that change
    high: float

    def cell(self) -> str:
        return f"+{self.better} -{self.worse}, {self.mrr:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def paired_difference(
    base: Sequence[int | None], other: Sequence[int | None], *, resamples: int = BOOTSTRAP_RESAMPLES
) -> Difference:
    """How `other` ranks the same questions as `base`. The interval resamples questions, each with both of
    its ranks, so a change that moves two questions among fifty reads as what it is: within the noise."""
    change = reciprocal_ranks(other) - reciprocal_ranks(base)
    low, high = _bootstrap(change, resamples)
    mean = float(change.mean()) if len(change) else 0.0
    return Difference(int((change > 0).sum()), int((change < 0).sum()), mean, low, high)


def grouped(
    questions: Sequence[Question], ranks: Sequence[int | None], key: Callable[[Question], str]
) -> dict[str, Scores]:
    groups: dict[str, list[int | None]] = {}
    for question, rank in zip(questions, ranks, strict=True):
        groups.setdefault(key(question), []).append(rank)
    return {name: score(group) for name, group in sorted(groups.items())}


def segmentation_errors(reference: Sequence[float], found: Sequence[float], duration: float) -> tuple[float, float]:
    """Pk (Beeferman et al.) and WindowDiff (Pevzner and Hearst) of chapter starts `found` against `reference`
    (seconds, the first at 0), on a one-second grid with the window half the mean reference chapter length.
    Both are error rates: 0 is perfect, about 0.5 is what a segmentation unrelated to the topics scores."""
    seconds = int(duration)
    window = max(1, round(seconds / len(reference) / 2))
    ref = np.zeros(seconds + 1, dtype=np.int64)
    hyp = np.zeros(seconds + 1, dtype=np.int64)
    for boundaries, marks in ((reference, ref), (found, hyp)):
        for start in boundaries:
            if 0 < start < seconds:
                marks[round(start)] += 1
    ref_count, hyp_count = np.cumsum(ref), np.cumsum(hyp)
    positions = np.arange(0, seconds - window)
    ref_between = ref_count[positions + window] - ref_count[positions]
    hyp_between = hyp_count[positions + window] - hyp_count[positions]
    pk = float(np.mean((ref_between > 0) != (hyp_between > 0)))
    window_diff = float(np.mean(ref_between != hyp_between))
    return pk, window_diff
