"""Vector indexes on synthetic data: the approximate index against the exact one, filters and reconstruct on
both index types, and a saved index read back."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from index.errors import IndexLoadError
from index.vectors import (
    EXACT_FILTER_LIMIT,
    build_vector_index,
    index_type,
    load_vector_index,
    save_vector_index,
    search_vectors,
    stored_vectors,
)

DIMENSION = 96
COUNT = 6000


def clustered(count: int, seed: int) -> np.ndarray:
    """Normalised vectors around 60 shared centres: structured like text embeddings, unlike uniform noise."""
    centres = np.random.default_rng(0).standard_normal((60, DIMENSION))
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, len(centres), count)] + 0.6 * rng.standard_normal((count, DIMENSION))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return clustered(COUNT, seed=1)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered(100, seed=2)


@pytest.fixture(scope="module")
def indexes(data) -> dict[str, faiss.Index]:
    return {
        "flat": build_vector_index(data, approximate_above=COUNT),
        "hnsw": build_vector_index(data, approximate_above=COUNT - 1),
    }


def exact(data: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    scores = data @ query
    if allowed is not None:
        mask = np.full(len(data), -np.inf)
        mask[allowed] = 0
        scores = scores + mask
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]


def test_the_threshold_picks_the_index_type(indexes):
    assert index_type(indexes["flat"]) == "flat" and isinstance(indexes["flat"], faiss.IndexFlatIP)
    assert index_type(indexes["hnsw"]) == "hnsw" and isinstance(indexes["hnsw"], faiss.IndexHNSWFlat)
    assert all(index.ntotal == COUNT for index in indexes.values())


def test_flat_is_exact_and_hnsw_recall_at_10_is_at_least_095(data, queries, indexes):
    recalls = {}
    for name, index in indexes.items():
        found = [len({i for i, _ in search_vectors(index, q, 10)} & set(exact(data, q, 10))) for q in queries]
        recalls[name] = sum(found) / (10 * len(queries))
    assert recalls["flat"] == 1.0
    assert recalls["hnsw"] >= 0.95, recalls


@pytest.mark.parametrize("name", ["flat", "hnsw"])
def test_scores_are_cosines_best_first(data, queries, indexes, name):
    hits = search_vectors(indexes[name], queries[0], 5)
    assert len(hits) == 5
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    for i, score in hits:
        assert score == pytest.approx(float(data[i] @ queries[0]), abs=1e-5)


@pytest.mark.parametrize("name", ["flat", "hnsw"])
@pytest.mark.parametrize("share", [0.002, 0.05, 0.6])
def test_filters_return_only_allowed_ids_and_find_their_best(data, queries, indexes, name, share):
    rng = np.random.default_rng(3)
    allowed = np.sort(rng.choice(COUNT, max(1, int(COUNT * share)), replace=False)).astype(np.int64)
    found = 0
    for q in queries[:30]:
        hits = search_vectors(indexes[name], q, 10, allowed=allowed)
        assert len(hits) == min(10, len(allowed))
        assert {i for i, _ in hits} <= set(allowed.tolist())
        found += len({i for i, _ in hits} & set(exact(data, q, 10, allowed)))
    assert found / (30 * min(10, len(allowed))) >= (1.0 if name == "flat" else 0.95)


def test_a_large_filter_on_hnsw_walks_the_graph(monkeypatch, data, queries, indexes):
    """Above EXACT_FILTER_LIMIT allowed ids the HNSW search itself applies the selector."""
    monkeypatch.setattr("index.vectors.EXACT_FILTER_LIMIT", 100)
    allowed = np.arange(0, COUNT, 2, dtype=np.int64)
    hits = search_vectors(indexes["hnsw"], queries[1], 10, allowed=allowed)
    assert len(hits) == 10 and all(i % 2 == 0 for i, _ in hits)
    assert EXACT_FILTER_LIMIT >= 1000


@pytest.mark.parametrize("name", ["flat", "hnsw"])
def test_empty_and_out_of_range_filters_find_nothing(queries, indexes, name):
    assert search_vectors(indexes[name], queries[0], 5, allowed=np.array([], dtype=np.int64)) == []
    assert search_vectors(indexes[name], queries[0], 5, allowed=np.array([COUNT + 5], dtype=np.int64)) == []


@pytest.mark.parametrize("name", ["flat", "hnsw"])
def test_reconstruct_and_stored_vectors_give_the_vectors_back(data, indexes, name):
    ids = np.array([0, 17, COUNT - 1], dtype=np.int64)
    np.testing.assert_array_equal(indexes[name].reconstruct_batch(ids), data[ids])
    view = stored_vectors(indexes[name])
    assert view.shape == data.shape and not view.flags.writeable
    np.testing.assert_array_equal(view[ids], data[ids])


def test_an_empty_index_finds_nothing(queries):
    index = build_vector_index(np.zeros((0, DIMENSION), dtype=np.float32))
    assert search_vectors(index, queries[0], 5) == []
    assert stored_vectors(index).shape == (0, DIMENSION)


@pytest.mark.parametrize("name", ["flat", "hnsw"])
def test_a_saved_index_loads_with_its_type_and_refuses_a_wrong_shape(tmp_path, data, queries, indexes, name):
    path = tmp_path / "vectors.faiss"
    save_vector_index(indexes[name], path)
    loaded = load_vector_index(path, dimension=DIMENSION, count=COUNT)
    assert index_type(loaded) == name
    assert search_vectors(loaded, queries[0], 5) == search_vectors(indexes[name], queries[0], 5)
    with pytest.raises(IndexLoadError, match="the manifest says"):
        load_vector_index(path, dimension=DIMENSION, count=COUNT + 1)
