"""Test doubles for our own interfaces (never for libraries we depend on)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from index.build import BuildReport, build_index
from index.chunking import ChunkerSettings
from index.embedding import Embedder, PassageText
from index.episodes import episodes_from_folder
from index.models import Episode
from index.sources import read_local

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"  # The Tiny Stack: invented episodes, ours (MIT)
CORPUS = ROOT / "tests" / "data" / "corpus"  # a few real episodes with their licences (see its README)


class CountingEmbedder:
    """A deterministic bag-of-words embedder that records every text it embeds.

    Lets storage and caching tests assert exactly what was (re-)embedded without loading a model; every
    pipeline path is also covered with the real model elsewhere.
    """

    model_id = "test-hash-embedder"
    backend = "test"
    dimension = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self._bag_of_words(texts)

    def embed_passages(self, passages: Sequence[PassageText]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors through `embed` (so they are counted), and each sentence's own bag of words."""
        return self.embed([p.text for p in passages]), [self._bag_of_words(p.sentences) for p in passages]

    def _bag_of_words(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
            out[row] /= max(float(np.linalg.norm(out[row])), 1e-9)
        return out


def write_show(folder: Path, files: dict[str, str]) -> list[Episode]:
    """Write transcripts into `folder` and return its episodes, as `--transcripts folder` would see them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return episodes_from_folder(folder)


def build_folder_index(
    episodes: Sequence[Episode], out: Path, embedder: Embedder | None = None, chunker: ChunkerSettings | None = None
) -> BuildReport:
    """Index local episodes into `out` (cache in `out/cache`), with the counting embedder by default."""
    return build_index(
        episodes,
        out,
        embedder=embedder or CountingEmbedder(),
        chunker=chunker or ChunkerSettings(target_words=20, overlap_words=5),
        read=lambda e: read_local(e.transcript),
        cache_dir=out / "cache",
    )


def load_script(name: str) -> ModuleType:
    """A script of scripts/ as a fresh module, to run its main() in-process (with a test's monkeypatches)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
