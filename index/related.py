"""Related episodes: the episodes nearest to each other by what they talk about, and the chapter that shows it.

An episode's vector is the mean of its passage vectors (sponsor reads, intros and outros left out: every episode
of a show shares them); a chapter's is the mean of its sentence vectors, likewise. Both are compared after the
build's mean episode vector is taken away: what every episode of a Python show has in common would otherwise
make the broadest episodes (an AMA, "10 tips") everybody's neighbours. For each episode the nearest others by
cosine are kept with, as the reason, the chapter of the other episode closest to any chapter of this
one ("both talk about *Using SQLite in production*"). Computed at build time, a matrix product per build.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KEEP = 10  # per episode; a card shows up to five of those in the channel's scope


@dataclass(frozen=True, slots=True)
class Related:
    other: int  # position of the related episode in the build
    score: float
    chapter: int | None  # position of its chapter that is the reason, in that episode's chapter list


def unit_mean(vectors: np.ndarray) -> np.ndarray | None:
    """The normalised mean of `vectors`; None for none (or a zero mean)."""
    if not len(vectors):
        return None
    mean = vectors.astype(np.float32).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else None


def related_episodes(
    episodes: Sequence[np.ndarray | None], chapters: Sequence[Sequence[np.ndarray | None]], *, keep: int = KEEP
) -> list[list[Related]]:
    """For each episode (its vector, or None for one with nothing but boilerplate), the `keep` nearest others,
    best first, each with the chapter of that episode closest to any chapter of this one."""
    present = [i for i, v in enumerate(episodes) if v is not None]
    out: list[list[Related]] = [[] for _ in episodes]
    if len(present) < 2:
        return out
    matrix = np.stack([episodes[i] for i in present])
    centre = matrix.mean(axis=0)
    matrix = _normalised(matrix - centre)
    scores = matrix @ matrix.T
    np.fill_diagonal(scores, -np.inf)
    chapter_matrices = [_stack(chapters[i], centre) for i in range(len(episodes))]
    for row, i in enumerate(present):
        order = np.argsort(-scores[row], kind="stable")[: min(keep, len(present) - 1)]
        mine, _ = chapter_matrices[i]
        for column in order:
            j = present[column]
            theirs, positions = chapter_matrices[j]
            reason = None
            if len(mine) and len(theirs):
                reason = positions[int((mine @ theirs.T).max(axis=0).argmax())]
            out[i].append(Related(j, float(scores[row, column]), reason))
    return out


def _stack(vectors: Sequence[np.ndarray | None], centre: np.ndarray) -> tuple[np.ndarray, list[int]]:
    positions = [p for p, v in enumerate(vectors) if v is not None]
    if not positions:
        return np.zeros((0, 1), np.float32), []
    return _normalised(np.stack([vectors[p] for p in positions]) - centre), positions


def _normalised(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
