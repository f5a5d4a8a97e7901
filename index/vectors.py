"""FAISS vector indexes: exact inner product while it is fast enough, HNSW above a size threshold.

Vectors are L2-normalised, so inner product is cosine similarity. The FAISS id of a vector is the id of its
chunk in SQLite (chunks are numbered 0..n-1 in each build).

Why these numbers (docs/benchmarks.md, section 4, from `scripts/bench.py`): a Flat scan grows linearly with the
index (36 ms p50 at 100k vectors, 184 ms at 1M on the shared 2-core machine) while HNSW stays under a millisecond
with recall@10 ≥ 0.99 against the exact scan up to 1M. HNSW supports what the searcher needs as it is: filters
(an ID selector) and `reconstruct` (hybrid fusion). IVF did as well on recall at 1M (1.000 at nprobe 32) and
builds twice as fast, but needs a training pass, a direct map for `reconstruct`, SearchParametersIVF for filters
and nlist/nprobe retuned as the corpus grows; it is the option to revisit if million-passage rebuilds matter.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.errors import IndexLoadError

APPROXIMATE_ABOVE = 100_000  # more vectors than this get an HNSW graph: Flat is then ~10% of an answer's time
HNSW_M = 32  # graph degree; the links add 18% to the vectors' memory
HNSW_EF_CONSTRUCTION = 80  # at 100k, 200 built 2.1x slower (100 s vs 47 s) for the same recall@10 at ef ≥ 64
HNSW_EF_SEARCH = 128  # recall@10 0.998 / 1.000 / 0.991 at 10k / 100k / 1M (ef 64: 0.982 at 1M), 0.3 ms
EXACT_FILTER_LIMIT = 20_000  # a filter allowing at most this many vectors is scored exactly, graph or not


def build_vector_index(vectors: np.ndarray, *, approximate_above: int = APPROXIMATE_ABOVE) -> faiss.Index:
    """A Flat (exact) index up to `approximate_above` vectors, an HNSW graph beyond.

    The threshold trades exactness and build time (Flat builds instantly; HNSW took 27 s for 100k vectors and
    5.6 min for 1M on 2 cores, paid again at every rebuild) against query time (Flat grows linearly with size).
    """
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


def stored_vectors(index: faiss.Index) -> np.ndarray:
    """The vectors of a Flat or HNSW index as a read-only (n, d) view, without copying them."""
    flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSWFlat) else index
    if not isinstance(flat, faiss.IndexFlat) or flat.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    view.flags.writeable = False
    return view


def search_vectors(
    index: faiss.Index, query: np.ndarray, k: int, *, allowed: np.ndarray | None = None
) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) for the `k` nearest vectors, best first; only ids in `allowed` if given.

    A filter is exact on a Flat index. On an HNSW graph a small allowed set (≤ EXACT_FILTER_LIMIT) is scored
    exactly from the stored vectors, since a graph walk that may only keep a few nodes misses some of them;
    a large one is searched in the graph with an ID selector.
    """
    query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    if allowed is None:
        if index.ntotal == 0:
            return []
        scores, ids = index.search(query, min(k, index.ntotal))
    else:
        allowed = np.unique(np.asarray(allowed, dtype=np.int64))
        allowed = allowed[(allowed >= 0) & (allowed < index.ntotal)]
        if not len(allowed):
            return []
        k = min(k, len(allowed))
        if isinstance(index, faiss.IndexHNSWFlat):
            if len(allowed) <= EXACT_FILTER_LIMIT:
                return _exact(stored_vectors(index), query[0], k, allowed)
            params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(allowed), efSearch=max(HNSW_EF_SEARCH, k))
        else:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        scores, ids = index.search(query, k, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def _exact(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
    scores = vectors[allowed] @ query
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(allowed[i]), float(scores[i])) for i in top]
