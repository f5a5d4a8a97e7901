"""The ONNX backends with the real bundled model: exported offline, normalised, close to torch, and an index
built with one backend refused by a searcher using another."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.embedding import (
    BACKENDS,
    EXPORT_META,
    STALE_EXPORT_SECONDS,
    OnnxEmbedder,
    _publish,
    export_onnx,
    load_embedder,
)
from index.episodes import episodes_from_folder
from index.errors import IndexMismatchError, PodcastIndexError
from index.search import Searcher
from index.sources import read_local
from tests.helpers import CORPUS, SAMPLES

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "how do I run my own Mastodon server?",
    "what did they think about moving off Twitter?",
    "is sqlite fine in production?",
]


@pytest.fixture(scope="module")
def passages() -> list[str]:
    """Real speech: 120-word passages of a Talk Python episode, of every length up to 40, and real questions."""
    transcript = CORPUS / "talkpython" / "transcripts" / "390-mastodon.txt"
    lines = transcript.read_text(encoding="utf-8").splitlines()
    words = " ".join(re.sub(r"^\d\d:\d\d:\d\d\s*", "", line) for line in lines).split()
    passages = [" ".join(words[i : i + 120]) for i in range(0, len(words), 360)]
    return [p for p in passages if p][:40] + QUESTIONS


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> Path:
    """A cache directory in which both ONNX variants are exported once, with the network unreachable."""
    cache = tmp_path_factory.mktemp("embedding-cache")

    def refuse(*args, **kwargs):
        raise OSError("network access during an offline export")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        for backend in ("onnx", "onnx-int8"):
            export_onnx("all-MiniLM-L6-v2", backend, cache)
    return cache


@pytest.fixture(scope="module")
def embedders(onnx_cache) -> dict:
    return {b: load_embedder(backend=b, cache_dir=onnx_cache) for b in BACKENDS}


def test_every_backend_names_its_vector_space(embedders):
    assert set(embedders) == set(BACKENDS)
    for backend, embedder in embedders.items():
        assert (embedder.model_id, embedder.backend, embedder.dimension) == ("all-MiniLM-L6-v2", backend, 384)


@pytest.fixture(scope="module")
def vectors(embedders, passages) -> dict[str, np.ndarray]:
    return {backend: embedder.embed(passages) for backend, embedder in embedders.items()}


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_vectors_are_normalised_and_agree_with_torch(embedders, vectors, passages, backend):
    floor = 0.9999 if backend == "onnx" else 0.98
    got = vectors[backend]
    assert got.shape == (len(passages), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosine = (got * vectors["torch"]).sum(axis=1)
    assert cosine.min() >= floor, cosine.min()
    # A question embedded alone (the query path: no batch, no padding) agrees with torch as well.
    for i, question in enumerate(QUESTIONS, start=len(passages) - len(QUESTIONS)):
        alone = embedders[backend].embed([question])[0]
        assert float(alone @ vectors["torch"][i]) >= floor


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_ranks_passages_like_torch(vectors, backend):
    body, questions = slice(0, -len(QUESTIONS)), slice(-len(QUESTIONS), None)
    expected = np.argsort(-(vectors["torch"][questions] @ vectors["torch"][body].T), axis=1)[:, :3]
    got = np.argsort(-(vectors[backend][questions] @ vectors[backend][body].T), axis=1)[:, 0]
    assert all(best in top for best, top in zip(got, expected, strict=True)), (got, expected)


def test_an_export_is_reused_and_leaves_no_staging_behind(onnx_cache):
    first = export_onnx("all-MiniLM-L6-v2", "onnx-int8", onnx_cache)
    stamp = (first / "model.onnx").stat().st_mtime_ns
    assert export_onnx("sentence-transformers/all-MiniLM-L6-v2", "onnx-int8", onnx_cache) == first
    assert (first / "model.onnx").stat().st_mtime_ns == stamp
    assert sorted(p.name.split("-")[-2] for p in (onnx_cache / "onnx").iterdir()) == ["int8", "onnx"]
    assert not [p for p in (onnx_cache / "onnx").iterdir() if p.name.startswith(".")]


def test_an_export_killed_midway_is_swept_up_by_a_later_one(tmp_path):
    target = tmp_path / "onnx" / "m-onnx-abc"
    target.parent.mkdir()
    killed = target.parent / f".{target.name}.killed"  # SIGKILL skips an export's own clean-up
    killed.mkdir()
    (killed / "model.onnx").write_bytes(b"half an export")
    os.utime(killed, (time.time() - 2 * STALE_EXPORT_SECONDS,) * 2)
    running = target.parent / f".{target.name}.running"  # another process exporting right now
    running.mkdir()
    assert _publish(target, lambda staging: (staging / EXPORT_META).write_text("{}")) == target
    assert (target / EXPORT_META).is_file() and not killed.exists() and running.exists()


def test_an_exported_model_answers_without_importing_torch(onnx_cache):
    code = (
        "import sys; from pathlib import Path; from index.embedding import load_embedder; "
        f"e = load_embedder(backend='onnx-int8', cache_dir=Path({str(onnx_cache)!r})); "
        "v = e.embed(['is sqlite fine in production?']); "
        "print(round(float((v * v).sum()), 3), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1.0", "False", "False"]


def test_unknown_backend_and_missing_model_are_refused(tmp_path):
    with pytest.raises(PodcastIndexError, match="unknown embedding backend"):
        load_embedder(backend="tensorflow", cache_dir=tmp_path)
    with pytest.raises(PodcastIndexError, match="nothing is downloaded"):
        load_embedder(model="no/such-model", backend="onnx", cache_dir=tmp_path)


def test_an_index_refuses_a_searcher_with_another_backend(tmp_path, embedders):
    out = tmp_path / "index"
    build_index(
        episodes_from_folder(SAMPLES / "transcripts"),
        out,
        embedder=embedders["onnx-int8"],
        chunker=ChunkerSettings(),
        read=lambda e: read_local(e.transcript),
        cache_dir=out / "cache",
    )
    searcher = Searcher.open(out, embedders["onnx-int8"])
    assert searcher.manifest.backend == "onnx-int8"
    assert searcher.search("is SQLite fine in production?", k=1)
    searcher.close()
    for other in ("torch", "onnx"):
        with pytest.raises(IndexMismatchError, match=r"\(onnx-int8\).*EMBEDDING_BACKEND"):
            Searcher.open(out, embedders[other])


def test_onnx_embedder_reads_its_export_directory(onnx_cache):
    embedder = OnnxEmbedder(export_onnx("all-MiniLM-L6-v2", "onnx", onnx_cache), batch_size=2)
    vectors = embedder.embed(["one", "two words", "three words here", ""])
    assert vectors.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_settings_choose_the_backend_and_the_cache(onnx_cache, tmp_path):
    from index.settings import IndexSettings

    settings = IndexSettings(_env_file=None, embedding_backend="onnx-int8", cache_dir=onnx_cache, index_dir=tmp_path)
    embedder = load_embedder(settings)
    assert (embedder.backend, embedder.export_dir.parent) == ("onnx-int8", onnx_cache / "onnx")
    settings = IndexSettings(_env_file=None, embedding_backend="onnx", index_dir=tmp_path)
    assert load_embedder(settings, cache_dir=onnx_cache).backend == "onnx"  # an explicit argument wins
