"""A build killed with SIGKILL at any moment leaves the previous index loadable and answering the same."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.layout import IndexLayout
from index.search import Searcher
from tests.helpers import CORPUS, SAMPLES

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Can SQLite be used in production?"


def start_build(out: Path, feed: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "build_index.py"), "--feed", str(feed), "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.005)


def one_episode_feed(folder: Path) -> Path:
    transcript = CORPUS / "changelog" / "transcripts" / "go-time-300.md"
    feed = folder / "feed.xml"
    feed.write_text(
        '<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>Go Time</title>'
        f'<item><title>Go Time 300</title><guid>gt300</guid><podcast:transcript url="{transcript}"/></item>'
        "</channel></rss>"
    )
    return feed


@pytest.fixture(scope="module")
def live_index(tmp_path_factory):
    out = tmp_path_factory.mktemp("killed") / "index"
    first = start_build(out, SAMPLES / "feed.xml")
    assert first.wait(timeout=300) == 0, first.stderr.read().decode()
    return out


def answers(out: Path, embedder) -> list[tuple[str, float, float]]:
    searcher = Searcher.open(out, embedder)
    try:
        return [(h.episode_id, h.start, h.end) for h in searcher.search(QUESTION, k=5)]
    finally:
        searcher.close()


@pytest.mark.parametrize("moment", ["while-loading", "while-embedding", "while-publishing"])
def test_sigkill_mid_build_keeps_the_previous_index(live_index, real_embedder, moment, tmp_path):
    # Each case on its own copy: a killed build leaves vectors in the embedding cache, and a later case that
    # found them there would have nothing left to embed (and no moment to be killed in).
    index = tmp_path / "index"
    shutil.copytree(live_index, index)
    layout = IndexLayout(index)
    before_id = layout.current_id()
    before = answers(index, real_embedder)

    build = start_build(index, one_episode_feed(tmp_path))
    try:
        if moment == "while-loading":
            time.sleep(1.0)
        elif moment == "while-embedding":
            wait_for(lambda: (index / "cache" / "embeddings.sqlite-wal").exists())
            time.sleep(0.5)
        else:
            wait_for(lambda: any(layout.builds.glob(".staging-*")))
        os.kill(build.pid, signal.SIGKILL)
    finally:
        build.wait(timeout=60)
    assert build.returncode == -signal.SIGKILL  # killed, not finished first

    assert layout.current_id() == before_id
    assert answers(index, real_embedder) == before


def test_ctrl_c_mid_build_says_nothing_was_published_and_keeps_the_previous_index(live_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(live_index, index)
    layout = IndexLayout(index)
    before_id = layout.current_id()
    build = start_build(index, one_episode_feed(tmp_path))
    try:
        wait_for(lambda: (index / "cache" / "embeddings.sqlite-wal").exists())
        build.send_signal(signal.SIGINT)
    finally:
        build.wait(timeout=60)
    stderr = build.stderr.read().decode()
    assert build.returncode == 130, stderr
    assert "Interrupted: nothing was published" in stderr and "Traceback" not in stderr
    assert layout.current_id() == before_id and not list(layout.builds.glob(".staging-*"))
