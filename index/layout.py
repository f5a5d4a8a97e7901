"""The on-disk layout of an index directory, and atomic publication of a new build.

    INDEX_DIR/
        CURRENT                 name of the live build; replaced atomically (write, fsync, rename)
        builds/<build id>/      manifest.json, vectors.faiss, meta.sqlite
        builds/.staging-<id>/   a build in progress; never read, removed by the next build
        cache/                  embedding and download caches that outlive builds
        .lock                   held by the one build that may run at a time

A reader resolves CURRENT once and reads only that build, so it sees the old index or the new one, never
half of either; a build that crashes or is killed leaves CURRENT, and so the live index, untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from index.errors import IndexLoadError, PodcastIndexError

POINTER = "CURRENT"
MANIFEST = "manifest.json"
KEEP_BUILDS = 2  # the live build and the one before it


@dataclass(frozen=True, slots=True)
class StagedBuild:
    path: Path
    build_id: str


class IndexLayout:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.builds = self.root / "builds"

    def current_id(self) -> str | None:
        """The live build's name, or None when nothing was published yet."""
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexLoadError(f"{self.root / POINTER}: cannot read the index pointer ({exc})") from exc
        return name or None

    def current(self) -> Path:
        """The live build's directory. A directory holding a manifest itself is accepted as a build too."""
        if (self.root / MANIFEST).is_file():
            return self.root
        name = self.current_id()
        if name is None:
            raise IndexLoadError(
                f"no index in {self.root}: build one with `python scripts/build_index.py --out {self.root} ...`"
            )
        build = self.builds / name
        if not build.is_dir() or "/" in name or name.startswith("."):
            raise IndexLoadError(f"{self.root / POINTER} names build {name!r}, which does not exist")
        return build

    def published_builds(self) -> list[Path]:
        """Every published build directory, newest first (build ids sort by time)."""
        if not self.builds.is_dir():
            return []
        return sorted((p for p in self.builds.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Only one build at a time may write into this directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PodcastIndexError(f"another build is writing to {self.root}; try again later") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def staging(self) -> Iterator[StagedBuild]:
        """A fresh directory to write a build into; published when the block ends without an error.

        Call inside `lock()`.
        """
        self._remove_stale_staging()
        build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(3)  # sorts by time
        staging = self.builds / f".staging-{build_id}"
        staging.mkdir(parents=True)
        try:
            yield StagedBuild(staging, build_id)
            for path in staging.iterdir():
                _fsync(path)
            _fsync(staging)  # its entries too: after a power cut, a published build has all of its files
            final = self.builds / build_id
            staging.rename(final)
            _fsync(self.builds)
            self._point_to(build_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if self.current_id() != build_id:  # renamed but never published: pruning must not keep it over the live one
                shutil.rmtree(self.builds / build_id, ignore_errors=True)
            raise
        self._prune()

    def _point_to(self, build_id: str) -> None:
        temporary = self.root / f".{POINTER}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(build_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.root / POINTER)
        _fsync(self.root)

    def _remove_stale_staging(self) -> None:
        if self.builds.is_dir():
            for path in self.builds.glob(".staging-*"):
                shutil.rmtree(path, ignore_errors=True)

    def _prune(self) -> None:
        live = self.current_id()
        builds = sorted(p for p in self.builds.iterdir() if p.is_dir() and not p.name.startswith("."))
        keep = {p.name for p in builds[-KEEP_BUILDS:]} | {live}
        for path in builds:
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
