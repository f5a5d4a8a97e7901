"""FAISS vector indexes: exact inner product while it is fast enough, HNSW above a size threshold.

Vectors are L2-normalised, so inner product is cosine similarity. The FAISS id of a vector is the id of its
chunk in SQLite (chunks are numbered 0..n-1 in each build).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.errors import IndexLoadError

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


def build_vector_index(vectors: np.ndarray, *, approximate_above: int = 200_000) -> faiss.Index:
    """A Flat index up to `approximate_above` vectors, an HNSW graph beyond (recall@10 vs exact ≥ 0.95)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dimension = vectors.shape[1]
    if len(vectors) > approximate_above:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dimension)
    index.add(vectors)
    return index


def index_type(index: faiss.Index) -> str:
    return "hnsw" if isinstance(index, faiss.IndexHNSWFlat) else "flat"


def save_vector_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_vector_index(path: Path, *, dimension: int, count: int) -> faiss.Index:
    """Read `path`, refusing a file whose shape disagrees with the manifest."""
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexLoadError(f"{path}: not a readable FAISS index ({str(exc).splitlines()[0]})") from exc
    if index.d != dimension or index.ntotal != count:
        raise IndexLoadError(
            f"{path}: holds {index.ntotal} vectors of dimension {index.d}, "
            f"the manifest says {count} of dimension {dimension}"
        )
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def search_vectors(index: faiss.Index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) for the `k` nearest vectors, best first."""
    if index.ntotal == 0:
        return []
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), min(k, index.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
