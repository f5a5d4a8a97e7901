"""The manifest that makes an index directory self-describing, and the checks run before it is used."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from index.errors import IndexLoadError, IndexMismatchError
from index.layout import MANIFEST

FORMAT_VERSION = 3  # 3: sentence vectors (sentences.npy)


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
            p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
            for p in sorted(directory.iterdir())
            if p.is_file() and p.name != MANIFEST
        }
        (directory / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            version = data.get("format_version") if isinstance(data, dict) else None
            if version != FORMAT_VERSION:  # before reading fields: another version may have other fields
                raise IndexMismatchError(
                    f"{path}: index format {version}, this version reads {FORMAT_VERSION}; rebuild it"
                )
            manifest = cls(**data)
        except FileNotFoundError:
            raise IndexLoadError(f"{path}: missing; is this an index directory?") from None
        except (OSError, ValueError, TypeError) as exc:
            raise IndexLoadError(f"{path}: unreadable or damaged manifest ({exc})") from exc
        manifest._check_fields(path)
        return manifest

    def _check_fields(self, path: Path) -> None:
        """Refuse a manifest whose fields have the wrong shape, rather than fail later with a KeyError."""
        for name, kind in _FIELD_TYPES.items():
            value = getattr(self, name)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise IndexLoadError(
                    f"{path}: damaged manifest ({name} is {type(value).__name__}, not {kind.__name__})"
                )
        if self.dimension <= 0 or not isinstance(self.counts.get("chunks"), int) or self.counts["chunks"] < 0:
            raise IndexLoadError(f"{path}: damaged manifest (dimension or passage count)")
        for name, entry in self.files.items():
            sane = "/" not in name and "\\" not in name and not name.startswith(".")  # files inside the build only
            shaped = (
                isinstance(entry, dict) and isinstance(entry.get("bytes"), int) and isinstance(entry.get("sha256"), str)
            )
            if not sane or not shaped:
                raise IndexLoadError(f"{path}: damaged manifest (file entry {name[:80]!r})")

    def verify_files(self, directory: Path) -> None:
        """Refuse a build whose files were truncated or changed after the manifest was written."""
        for name, expected in self.files.items():
            path = directory / name
            if not path.is_file():
                raise IndexLoadError(f"{path}: missing from the index")
            if path.stat().st_size != expected["bytes"] or file_sha256(path) != expected["sha256"]:
                raise IndexLoadError(f"{path}: damaged (size or checksum differs from the manifest)")

    def check_model(self, model_id: str, backend: str) -> None:
        if (self.model, self.backend) != (model_id, backend):
            raise IndexMismatchError(
                f"the index was built with model {self.model!r} ({self.backend}) but the searcher uses "
                f"{model_id!r} ({backend}); set EMBEDDING_MODEL/EMBEDDING_BACKEND to match or rebuild the index"
            )


_FIELD_TYPES: dict[str, type] = {
    "build_id": str,
    "created_at": str,
    "model": str,
    "backend": str,
    "dimension": int,
    "chunker": dict,
    "index_type": str,
    "counts": dict,
    "podcasts": list,
    "files": dict,
    "normalized": bool,
}


def file_sha256(path: Path) -> str:
    """The checksum a manifest records for a file (also what the bundled Whisper model is checked against)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
