"""The manifest that makes an index directory self-describing, and the checks run before it is used."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from index.errors import IndexLoadError, IndexMismatchError
from index.layout import MANIFEST

FORMAT_VERSION = 1


@dataclass
class Manifest:
    build_id: str
    created_at: str  # ISO 8601, UTC
    model: str
    backend: str
    dimension: int
    chunker: dict[str, int]
    index_type: str
    counts: dict[str, int]
    podcasts: list[str] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"bytes", "sha256"}
    normalized: bool = True
    format_version: int = FORMAT_VERSION

    def write(self, directory: Path) -> None:
        """Record size and checksum of every file already in `directory`, then write the manifest."""
        self.files = {
            p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
            for p in sorted(directory.iterdir())
            if p.is_file() and p.name != MANIFEST
        }
        (directory / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except FileNotFoundError:
            raise IndexLoadError(f"{path}: missing; is this an index directory?") from None
        except (OSError, ValueError, TypeError) as exc:
            raise IndexLoadError(f"{path}: unreadable or damaged manifest ({exc})") from exc
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"{path}: index format {manifest.format_version}, this version reads {FORMAT_VERSION}; rebuild it"
            )
        return manifest

    def verify_files(self, directory: Path) -> None:
        """Refuse a build whose files were truncated or changed after the manifest was written."""
        for name, expected in self.files.items():
            path = directory / name
            if not path.is_file():
                raise IndexLoadError(f"{path}: missing from the index")
            if path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
                raise IndexLoadError(f"{path}: damaged (size or checksum differs from the manifest)")

    def check_model(self, model_id: str, backend: str) -> None:
        if (self.model, self.backend) != (model_id, backend):
            raise IndexMismatchError(
                f"the index was built with model {self.model!r} ({self.backend}) but the searcher uses "
                f"{model_id!r} ({backend}); set EMBEDDING_MODEL/EMBEDDING_BACKEND to match or rebuild the index"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
