"""Vectors computed by earlier builds, so a rebuild only embeds passages whose text is new.

The key covers everything the vector depends on: model, backend, chunker settings and the exact text. The
cache is committed batch by batch, so a build that is killed resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.sqlite_util import connect

_MIGRATIONS = [
    """
    CREATE TABLE embeddings (
        key BLOB PRIMARY KEY,
        vector BLOB NOT NULL,
        used_at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
]
_LOOKUP_BATCH = 500
STALE_AFTER_DAYS = 30


class EmbeddingCache:
    def __init__(self, path: Path, *, model_id: str, backend: str, chunker: dict[str, int]) -> None:
        self._conn = connect(path, _MIGRATIONS)
        self._namespace = json.dumps([model_id, backend, chunker], sort_keys=True).encode()

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self._namespace + b"\0" + text.encode()).digest()

    def embed(
        self,
        texts: Sequence[str],
        compute: Callable[[list[str]], np.ndarray],
        *,
        dimension: int,
        batch: int = 128,
        on_missing: Callable[[int], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, computing only the missing ones; returns (vectors, how many were computed).

        `on_missing` hears how many texts must be computed before the first is; `on_batch` how many each
        committed batch held, so one progress bar can follow the whole build.
        """
        keys = [self.key(t) for t in texts]
        out = np.zeros((len(texts), dimension), dtype=np.float32)
        found = self._lookup(keys, dimension)
        missing: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            if key in found:
                out[i] = found[key]
            else:
                missing.setdefault(key, []).append(i)
        todo = list(missing)
        if on_missing is not None:
            on_missing(len(todo))
        for first in range(0, len(todo), batch):
            part = todo[first : first + batch]
            vectors = compute([texts[missing[k][0]] for k in part])
            now = time.time()
            with self._conn:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, vector, used_at) VALUES (?, ?, ?)",
                    [(k, v.astype(np.float32).tobytes(), now) for k, v in zip(part, vectors, strict=True)],
                )
            for k, v in zip(part, vectors, strict=True):
                out[missing[k]] = v
            if on_batch is not None:
                on_batch(len(part))
        self._touch(list(found))
        return out, len(todo)

    def prune(self, older_than_days: float = STALE_AFTER_DAYS) -> int:
        """Forget vectors no build has used for a while, so the cache does not grow without bound."""
        with self._conn:
            cursor = self._conn.execute(
                "DELETE FROM embeddings WHERE used_at < ?", (time.time() - older_than_days * 86400,)
            )
        return cursor.rowcount

    def close(self) -> None:
        self._conn.close()

    def _lookup(self, keys: list[bytes], dimension: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for first in range(0, len(keys), _LOOKUP_BATCH):
            part = keys[first : first + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            for row in self._conn.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", part):
                if len(row["vector"]) == dimension * 4:  # anything else is damage: embed again
                    found[row["key"]] = np.frombuffer(row["vector"], dtype=np.float32)
        return found

    def _touch(self, keys: list[bytes]) -> None:
        now = time.time()
        with self._conn:
            self._conn.executemany("UPDATE embeddings SET used_at = ? WHERE key = ?", [(now, k) for k in keys])
