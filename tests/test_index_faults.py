"""Index faults: damaged or foreign builds, a deleted directory, a full disk, a reload failing midway.

In every case the build being served keeps answering exactly as before, and the log says why (once). The
vectors come from the deterministic test embedder so each case costs milliseconds; the same code paths run
with the real model in tests/test_kill_during_build.py and tests/test_bot_abuse.py.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

import index.layout
import index.search
import index.store
from index.build import KEYWORDS_FILE, SENTENCES_FILE, STORE_FILE, VECTORS_FILE
from index.errors import IndexLoadError, IndexMismatchError, PodcastIndexError
from index.layout import IndexLayout
from index.live import LiveIndex
from index.manifest import Manifest
from tests.helpers import CountingEmbedder, build_folder_index, write_show
from tests.test_build import OTTER, VTT

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["tomatoes full sun watering", "honey hives lavender", "prune side shoots on Sunday"]


def answers(searcher) -> list[list[tuple[str, float, float, float]]]:
    return [[(h.episode_id, h.start, h.end, round(h.score, 5)) for h in searcher.search(q, k=3)] for q in QUESTIONS]


@pytest.fixture
def show(tmp_path):
    return write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT, "002-bees.txt": OTTER})


@pytest.fixture
def served(tmp_path, show):
    """(index dir, LiveIndex serving its first build, that build's answers)."""
    out = tmp_path / "index"
    build_folder_index(show, out, CountingEmbedder())
    live = LiveIndex(out, CountingEmbedder())
    return out, live, answers(live.searcher)


def publish_another(tmp_path, out: Path) -> Path:
    """A second, different build published over the first; returns its directory."""
    (tmp_path / "show" / "002-bees.txt").write_text(OTTER.replace("every July", "every August"))
    episodes = write_show(tmp_path / "show", {})
    build_folder_index(episodes, out, CountingEmbedder())
    return IndexLayout(out).current()


def rehash(build_dir: Path) -> None:
    """Record the files as they are now, as if the damage had happened before the manifest was written."""
    Manifest.read(build_dir).write(build_dir)


def edit_manifest(build_dir: Path, **changes) -> None:
    path = build_dir / "manifest.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def cut(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def garble(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.seek(path.stat().st_size // 3)
        handle.write(b"\xa5" * 64)


def other_dimension(path: Path) -> None:
    index = faiss.IndexFlatIP(32)
    index.add(np.ones((3, 32), dtype=np.float32))
    faiss.write_index(index, str(path))


def empty_database(path: Path) -> None:
    path.unlink()
    sqlite3.connect(path).execute("CREATE TABLE unrelated (x)").connection.close()


DAMAGE = {
    "vectors-truncated": lambda b, root: cut(b / VECTORS_FILE),
    "vectors-garbled": lambda b, root: garble(b / VECTORS_FILE),
    "vectors-empty": lambda b, root: cut(b / VECTORS_FILE, 0),
    "vectors-missing": lambda b, root: (b / VECTORS_FILE).unlink(),
    "keywords-truncated": lambda b, root: cut(b / KEYWORDS_FILE),
    "keywords-missing": lambda b, root: (b / KEYWORDS_FILE).unlink(),
    "consistent-garbage-keywords": lambda b, root: ((b / KEYWORDS_FILE).write_bytes(os.urandom(4096)), rehash(b)),
    "sentences-truncated": lambda b, root: cut(b / SENTENCES_FILE),
    "sentences-missing": lambda b, root: (b / SENTENCES_FILE).unlink(),
    "sqlite-truncated": lambda b, root: cut(b / STORE_FILE),
    "sqlite-garbled": lambda b, root: garble(b / STORE_FILE),
    "sqlite-missing": lambda b, root: (b / STORE_FILE).unlink(),
    "manifest-truncated": lambda b, root: cut(b / "manifest.json"),
    "manifest-not-json": lambda b, root: (b / "manifest.json").write_text("\x00\xff garbage"),
    "manifest-a-list": lambda b, root: (b / "manifest.json").write_text("[1, 2]"),
    "manifest-missing": lambda b, root: (b / "manifest.json").unlink(),
    "manifest-no-passage-count": lambda b, root: edit_manifest(b, counts={}),
    "manifest-files-as-list": lambda b, root: edit_manifest(b, files=[]),
    "manifest-dimension-text": lambda b, root: edit_manifest(b, dimension="64"),
    "manifest-path-escape": lambda b, root: edit_manifest(b, files={"../../CURRENT": {"bytes": 1, "sha256": "0"}}),
    "manifest-other-model": lambda b, root: edit_manifest(b, model="all-MiniLM-L6-v2", backend="torch"),
    "manifest-future-format": lambda b, root: edit_manifest(b, format_version=99, new_field=1),
    # The files are damaged but the manifest agrees with them (damage before the checksums were taken):
    "consistent-garbage-vectors": lambda b, root: ((b / VECTORS_FILE).write_bytes(os.urandom(4096)), rehash(b)),
    "consistent-other-dimension": lambda b, root: (other_dimension(b / VECTORS_FILE), rehash(b)),
    "consistent-garbage-sentences": lambda b, root: ((b / SENTENCES_FILE).write_bytes(os.urandom(4096)), rehash(b)),
    "consistent-sentences-short": lambda b, root: (
        np.save(b / SENTENCES_FILE, np.zeros((2, 64), np.float16)),
        rehash(b),
    ),
    "consistent-garbage-sqlite": lambda b, root: ((b / STORE_FILE).write_bytes(os.urandom(8192)), rehash(b)),
    "consistent-foreign-sqlite": lambda b, root: (empty_database(b / STORE_FILE), rehash(b)),
    "pointer-to-nothing": lambda b, root: (root / "CURRENT").write_text("20990101T000000.000000Z-000000\n"),
    "pointer-empty": lambda b, root: (root / "CURRENT").write_text(""),
    "pointer-escapes": lambda b, root: (root / "CURRENT").write_text("../../etc\n"),
    "pointer-is-a-directory": lambda b, root: ((root / "CURRENT").unlink(), (root / "CURRENT").mkdir()),
    "build-deleted": lambda b, root: shutil.rmtree(b),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_new_build_is_refused_and_the_served_one_keeps_answering(tmp_path, served, damage, caplog):
    out, live, before = served
    serving = live.build_id
    fresh = publish_another(tmp_path, out)
    DAMAGE[damage](fresh, out)

    with caplog.at_level(logging.WARNING, logger="index.live"):
        assert live.refresh() is False
        assert live.refresh() is False  # polled again: nothing new to say
    assert live.build_id == serving and answers(live.searcher) == before
    warnings = [r.getMessage() for r in caplog.records if r.name == "index.live"]
    assert len(warnings) == 1 and warnings[0].startswith(f"keeping build {serving}: the published index cannot")

    # An operator's reload retries and hears the reason as the domain error, never a raw KeyError or sqlite3 error.
    with pytest.raises(PodcastIndexError) as refused:
        live.refresh(raise_errors=True)
    assert str(refused.value) in warnings[0]
    if damage == "manifest-other-model":
        assert isinstance(refused.value, IndexMismatchError) and "EMBEDDING_MODEL" in str(refused.value)
    assert live.build_id == serving and answers(live.searcher) == before


@pytest.mark.parametrize(
    "damage", ["vectors-garbled", "consistent-foreign-sqlite", "manifest-other-model", "pointer-escapes"]
)
def test_a_restart_with_a_damaged_published_build_serves_an_earlier_one(tmp_path, served, damage, caplog):
    out, live, before = served
    fresh = publish_another(tmp_path, out)
    DAMAGE[damage](fresh, out)
    with caplog.at_level(logging.WARNING, logger="index.live"):
        restarted = LiveIndex(out, CountingEmbedder())
        assert restarted.refresh() is False  # the damaged build is not retried at every poll
    if damage.startswith("pointer"):  # the builds are fine, the pointer is not: the newest build serves
        assert restarted.build_id == fresh.name and all(answers(restarted.searcher))
    else:
        assert restarted.build_id == live.build_id and answers(restarted.searcher) == before
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "index.live"]
    assert "cannot be loaded" in warning and f"serving the earlier build {restarted.build_id}" in warning


def test_a_restart_prefers_the_build_before_the_damaged_one_to_a_build_never_published(tmp_path, served):
    """A build killed between its rename and the pointer switch is complete but was never published: a restart
    falls back to the build that was live before, not to that one."""
    out, live, before = served
    first = live.searcher.build_dir
    fresh = publish_another(tmp_path, out)
    orphan = IndexLayout(out).builds / "29990101T000000.000000Z-0rphan"
    shutil.copytree(fresh, orphan)
    garble(fresh / VECTORS_FILE)
    restarted = LiveIndex(out, CountingEmbedder())
    assert restarted.searcher.build_dir == first and answers(restarted.searcher) == before


def test_a_restart_with_nothing_loadable_fails_with_the_reason(tmp_path, served):
    out, _, _ = served
    for build_dir in IndexLayout(out).published_builds():
        garble(build_dir / VECTORS_FILE)
    with pytest.raises(IndexLoadError, match="damaged"):
        LiveIndex(out, CountingEmbedder())


def test_the_index_directory_deleted_while_serving(tmp_path, served, show, caplog):
    out, live, before = served
    serving = live.build_id
    shutil.rmtree(out)
    # Open files and vectors in memory keep answering; the poller says what happened, once.
    with caplog.at_level(logging.WARNING, logger="index.live"):
        for _ in range(3):
            assert live.refresh() is False
            assert answers(live.searcher) == before
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "index.live"]
    assert f"keeping build {serving}" in warning and f"no index in {out}" in warning

    build_folder_index(show, out, CountingEmbedder())  # someone rebuilds it
    assert live.refresh() is True and live.build_id != serving
    assert answers(live.searcher) == before  # same transcripts, same answers


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def small_sqlite(connect):
    """sqlite3.connect whose databases may not grow past 10 pages: SQLite's own 'database or disk is full'."""

    def limited(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA max_page_count = 10")
        return conn

    return limited


FULL_DISK = {
    "faiss-write": lambda mp: mp.setattr(faiss, "write_index", disk_full),
    "faiss-write-runtime-error": lambda mp: mp.setattr(
        faiss, "write_index", lambda *a: (_ for _ in ()).throw(RuntimeError("fwrite: No space left on device"))
    ),
    "sqlite-store-full": lambda mp: mp.setattr(index.store.sqlite3, "connect", small_sqlite(sqlite3.connect)),
    "manifest-write": lambda mp: mp.setattr(
        Path,
        "write_text",
        lambda self, *a, **k: disk_full() if self.name == "manifest.json" else Path.write_bytes(self, a[0].encode()),
    ),
    "fsync-at-publish": lambda mp: mp.setattr(index.layout, "_fsync", disk_full),
    "pointer-replace": lambda mp: mp.setattr(index.layout.os, "replace", disk_full),
}


@pytest.mark.parametrize("fault", list(FULL_DISK))
def test_a_full_disk_during_a_build_publishes_nothing_and_the_next_build_resumes(
    tmp_path, served, show, fault, monkeypatch
):
    out, live, before = served
    layout = IndexLayout(out)
    serving = layout.current_id()
    builds = sorted(p.name for p in layout.builds.iterdir())
    (tmp_path / "show" / "003-new.vtt").write_text(VTT.replace("tomatoes", "peppers").replace("Ann", "Cy"))
    episodes = write_show(tmp_path / "show", {})

    with monkeypatch.context() as patched:
        FULL_DISK[fault](patched)
        with pytest.raises((OSError, sqlite3.OperationalError, RuntimeError)) as failed:
            build_folder_index(episodes, out, CountingEmbedder())
    assert "space" in str(failed.value) or "full" in str(failed.value)
    assert layout.current_id() == serving and sorted(p.name for p in layout.builds.iterdir()) == builds
    assert live.refresh() is False and answers(live.searcher) == before
    assert answers(LiveIndex(out, CountingEmbedder()).searcher) == before  # and after a restart too

    again = CountingEmbedder()
    report = build_folder_index(episodes, out, again)  # space freed: the vectors embedded before the fault are reused
    assert report.reused == report.chunks and again.embedded == []
    assert live.refresh() is True and live.build_id == report.build_id
    assert (layout.builds / serving).is_dir()  # the build served before is kept to fall back on, not a failed one


BUILD_IN_A_SMALL_FILESYSTEM = """
import resource, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.helpers import CountingEmbedder, build_folder_index, write_show
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))  # writes past this fail with EFBIG
build_folder_index(write_show(Path({show!r}), {{}}), Path({out!r}), CountingEmbedder())
"""


def test_a_real_write_error_from_the_kernel_leaves_the_live_index(tmp_path, served):
    """Not a mock: the build runs with RLIMIT_FSIZE, so the kernel refuses (EFBIG) to grow the new SQLite file."""
    out, live, before = served
    layout = IndexLayout(out)
    serving = layout.current_id()
    (tmp_path / "show" / "003-new.vtt").write_text(VTT.replace("tomatoes", "peppers").replace("Ann", "Cy"))
    script = BUILD_IN_A_SMALL_FILESYSTEM.format(
        root=str(ROOT), limit=32 * 1024, show=str(tmp_path / "show"), out=str(out)
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "sqlite3.OperationalError: disk I/O error" in result.stderr, result.stderr[-2000:]
    assert layout.current_id() == serving and not list(layout.builds.glob(".staging-*"))
    assert live.refresh() is False and answers(live.searcher) == before

    again = CountingEmbedder()
    # With room again: the vectors embedded before the write failed come from the cache.
    report = build_folder_index(write_show(tmp_path / "show", {}), out, again)
    assert report.episodes == 3 and again.embedded == []


def test_a_reload_failing_midway_keeps_the_old_searcher_whole(tmp_path, served, monkeypatch, caplog):
    """The new build's SQLite is opened, then loading its vectors fails: the served build is untouched."""
    out, live, before = served
    serving = live.searcher
    publish_another(tmp_path, out)
    opened: list[index.store.Store] = []
    real_store = index.search.Store

    def tracking_store(path):
        opened.append(real_store(path))
        return opened[-1]

    def failing_load(*args, **kwargs):
        raise MemoryError("cannot allocate the vectors")

    monkeypatch.setattr(index.search, "Store", tracking_store)
    monkeypatch.setattr(index.search, "load_vector_index", failing_load)
    with caplog.at_level(logging.WARNING, logger="index.live"):
        assert live.refresh() is False
        with pytest.raises(MemoryError):
            live.refresh(raise_errors=True)
    assert opened, "the failure happened after the new store was opened"
    for store in opened:  # and the half-loaded build let go of its database
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            store._conn.execute("SELECT 1")
    assert live.searcher is serving and answers(live.searcher) == before
    record = next(r for r in caplog.records if r.name == "index.live")
    assert "MemoryError: cannot allocate the vectors" in record.getMessage() and record.exc_info  # traceback kept

    monkeypatch.undo()
    assert live.refresh() is True  # the next good attempt swaps


def test_queries_in_flight_while_builds_are_published_and_refused(tmp_path, served):
    """Searches in four threads while good and damaged builds are published and refreshed: none fails."""
    out, live, _ = served
    failures: list[BaseException] = []
    asked = [0] * 4
    done = threading.Event()

    def ask(worker: int) -> None:
        while not done.is_set():
            try:
                got = answers(live.searcher)
                assert got and all(got)
                asked[worker] += 1
            except BaseException as exc:  # collected and asserted below
                failures.append(exc)
                return

    workers = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    try:
        for round_ in range(6):
            fresh = publish_another(tmp_path, out)
            if round_ % 2:
                garble(fresh / VECTORS_FILE)
            live.refresh()
    finally:
        done.set()
        for worker in workers:
            worker.join(timeout=30)
    assert not failures, failures
    assert all(asked) and not any(w.is_alive() for w in workers), asked  # every worker searched, none hung
    assert live.refresh() is False
