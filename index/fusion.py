"""Combining dense and keyword rankings into one. Pure functions over scores; see docs/retrieval.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def keyword_bonus(dense: Mapping[int, float], keyword: Mapping[int, float], weight: float) -> list[tuple[int, float]]:
    """Dense cosine plus `weight` times the keyword score relative to this query's best keyword score.

    The result stays on the cosine scale (a passage no keyword matched keeps its cosine), so one score floor
    works for every mode. `dense` must hold a cosine for every id in `keyword`.
    """
    best = max(keyword.values(), default=0.0)
    fused = {
        chunk_id: score + (weight * keyword.get(chunk_id, 0.0) / best if best > 0 else 0.0)
        for chunk_id, score in dense.items()
    }
    return sorted(fused.items(), key=lambda item: item[1], reverse=True)


def reciprocal_rank(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion (Cormack et al. 2009): the usual baseline, kept for comparison."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)
