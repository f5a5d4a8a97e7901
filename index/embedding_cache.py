"""Vectors computed by earlier builds, so a rebuild only embeds passages whose text is new.

The key covers everything the vectors depend on: model, backend, chunker settings, the exact text and where its
sentences start and end. Each entry holds the passage's vector and its sentences' vectors (float16: they only
choose quotes). The cache is committed batch by batch, so a build that is killed resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.embedding import PassageText
from index.sqlite_util import connect

_MIGRATIONS = [
    """
    CREATE TABLE embeddings (
        key BLOB PRIMARY KEY,
        vector BLOB NOT NULL,
        used_at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # Passage vectors alone cannot serve builds that store sentence vectors: start afresh.
    """
    DROP TABLE embeddings;
    CREATE TABLE passages (
        key BLOB PRIMARY KEY,
        vector BLOB NOT NULL,
        sentences BLOB NOT NULL,
        used_at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
]
_LOOKUP_BATCH = 500
STALE_AFTER_DAYS = 30

Vectors = tuple[np.ndarray, list[np.ndarray]]  # passage vectors (n x d), each passage's sentence vectors (m x d)


class EmbeddingCache:
    def __init__(self, path: Path, *, model_id: str, backend: str, chunker: dict[str, int]) -> None:
        self._conn = connect(path, _MIGRATIONS)
        self._namespace = json.dumps([model_id, backend, chunker], sort_keys=True).encode()

    def key(self, passage: PassageText) -> bytes:
        text = json.dumps([passage.header, list(passage.sentences)], ensure_ascii=False)
        return hashlib.sha256(self._namespace + b"\0" + text.encode()).digest()

    def embed(
        self,
        passages: Sequence[PassageText],
        compute: Callable[[list[PassageText]], Vectors],
        *,
        dimension: int,
        batch: int = 128,
        on_missing: Callable[[int], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray], int]:
        """Passage and sentence vectors for `passages`, computing only the missing ones; returns them and how
        many passages were computed.

        `on_missing` hears how many passages must be computed before the first is; `on_batch` how many each
        committed batch held, so one progress bar can follow the whole build.
        """
        keys = [self.key(p) for p in passages]
        out = np.zeros((len(passages), dimension), dtype=np.float32)
        sentences: list[np.ndarray] = [np.zeros((0, dimension), dtype=np.float32)] * len(passages)
        found = self._lookup(keys, passages, dimension)
        missing: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            if key in found:
                out[i], sentences[i] = found[key]
            else:
                missing.setdefault(key, []).append(i)
        todo = list(missing)
        if on_missing is not None:
            on_missing(len(todo))
        for first in range(0, len(todo), batch):
            part = todo[first : first + batch]
            vectors, per_sentence = compute([passages[missing[k][0]] for k in part])
            now = time.time()
            with self._conn:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO passages (key, vector, sentences, used_at) VALUES (?, ?, ?, ?)",
                    [
                        (k, v.astype(np.float32).tobytes(), s.astype(np.float16).tobytes(), now)
                        for k, v, s in zip(part, vectors, per_sentence, strict=True)
                    ],
                )
            for k, v, s in zip(part, vectors, per_sentence, strict=True):
                for i in missing[k]:
                    out[i], sentences[i] = v, s.astype(np.float32)
            if on_batch is not None:
                on_batch(len(part))
        self._touch(list(found))
        return out, sentences, len(todo)

    def prune(self, older_than_days: float = STALE_AFTER_DAYS) -> int:
        """Forget vectors no build has used for a while, so the cache does not grow without bound."""
        with self._conn:
            cursor = self._conn.execute(
                "DELETE FROM passages WHERE used_at < ?", (time.time() - older_than_days * 86400,)
            )
        return cursor.rowcount

    def close(self) -> None:
        self._conn.close()

    def _lookup(
        self, keys: list[bytes], passages: Sequence[PassageText], dimension: int
    ) -> dict[bytes, tuple[np.ndarray, np.ndarray]]:
        sizes = dict(zip(keys, (len(p.sentences) for p in passages), strict=True))
        found: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        for first in range(0, len(keys), _LOOKUP_BATCH):
            part = keys[first : first + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            query = f"SELECT key, vector, sentences FROM passages WHERE key IN ({marks})"
            for row in self._conn.execute(query, part):
                vector, per_sentence = row["vector"], row["sentences"]
                if len(vector) == dimension * 4 and len(per_sentence) == sizes[row["key"]] * dimension * 2:
                    sentence_vectors = np.frombuffer(per_sentence, dtype=np.float16).reshape(-1, dimension)
                    found[row["key"]] = (np.frombuffer(vector, dtype=np.float32), sentence_vectors.astype(np.float32))
                # anything else is damage: embed again
        return found

    def _touch(self, keys: list[bytes]) -> None:
        now = time.time()
        with self._conn:
            self._conn.executemany("UPDATE passages SET used_at = ? WHERE key = ?", [(now, k) for k in keys])
