"""Chaos test: SIGKILL a real build at random moments, again and again; the live index must not notice.

    .venv/bin/python scripts/chaos_build.py                      # 20 kills, in a temporary directory
    .venv/bin/python scripts/chaos_build.py --kills 50 --seed 7 --out /tmp/chaos

First a baseline index is built from the Django Chat feed (../shared/corpus). Then, `--kills` times, a build
of that feed plus `--episodes` Talk Python episodes (about 14,000 new passages to embed) is started as a real
subprocess of scripts/build_index.py and killed with SIGKILL after a random delay. After each kill this
process checks: the pointer still names the live build, the live index loads (a fresh LiveIndex, as a
restarted bot would) and answers every question exactly as before, the embedding cache passes SQLite's
integrity check, and the build lock was released. A killed build that finished first has published: from
then on its build is the one compared. Last, one build runs to the end: its report says how many passages
came from the embedding cache the killed builds filled. Prints one line per kill and a Markdown table row
for docs/reliability.md. Not a test: it takes minutes (the model loads in every build).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from index.embedding import Embedder, load_embedder
from index.layout import IndexLayout
from index.live import LiveIndex
from index.settings import IndexSettings

ROOT = Path(__file__).resolve().parents[1]

CORPUS = ROOT.parent / "shared" / "corpus"
QUESTIONS = [
    "Can SQLite be used in production?",
    "Which talks did they enjoy?",
    "What did they think of the COVID policy?",
    "async views in Django",
]
REPORT = re.compile(r"(\d[\d,]*) passages embedded, (\d[\d,]*) reused from the cache")


def talkpython_feed(folder: Path, episodes: int) -> Path:
    """The first `episodes` items of the Talk Python feed, with transcript paths made absolute."""
    source = (CORPUS / "talkpython" / "feed.xml").read_text(encoding="utf-8")
    head, _, rest = source.partition("<item>")
    items = re.findall(r"<item>.*?</item>", "<item>" + rest, flags=re.DOTALL)[:episodes]
    transcripts = CORPUS / "talkpython"
    items = [re.sub(r'url="(transcripts/[^"]+)"', lambda m: f'url="{transcripts / m[1]}"', item) for item in items]
    feed = folder / "talkpython-part.xml"
    feed.write_text(head + "\n".join(items) + "\n</channel>\n</rss>\n", encoding="utf-8")
    return feed


def build_command(out: Path, feeds: list[Path]) -> list[str]:
    command = [sys.executable, str(ROOT / "scripts" / "build_index.py"), "--out", str(out), "--quiet"]
    for feed in feeds:
        command += ["--feed", str(feed)]
    return command


def answers(out: Path, embedder: Embedder) -> tuple[str, list]:
    live = LiveIndex(out, embedder)
    try:
        found = [
            [(h.episode_id, h.start, h.end, h.quote_start, round(h.score, 5)) for h in live.searcher.search(q, k=5)]
            for q in QUESTIONS
        ]
    finally:
        live.searcher.close()
    return live.build_id, found


def cached_vectors(out: Path) -> int:
    path = out / "cache" / "embeddings.sqlite"
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    finally:
        conn.close()


def cache_integrity(out: Path) -> str:
    path = out / "cache" / "embeddings.sqlite"
    if not path.exists():
        return "ok (no cache yet)"
    conn = sqlite3.connect(path)  # read-write, so a hot WAL left by the killed build is recovered as a bot would
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def lock_is_free(out: Path) -> bool:
    import fcntl

    with open(out / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=100, help="Talk Python episodes in the killed builds")
    parser.add_argument("--min-delay", type=float, default=0.5, help="seconds after start, at the earliest")
    parser.add_argument("--max-delay", type=float, default=25.0, help="seconds after start, at the latest")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="index directory (default: a temporary one)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    out = args.out or work / "index"
    baseline_feed = CORPUS / "djangochat" / "feed.xml"
    feeds = [baseline_feed, talkpython_feed(work, args.episodes)]
    print(f"chaos: {args.kills} SIGKILLs after {args.min_delay}-{args.max_delay} s, seed {seed}, index {out}")

    began = time.monotonic()
    subprocess.run(build_command(out, [baseline_feed]), check=True, capture_output=True)
    embedder = load_embedder(IndexSettings())  # the backend build_index.py uses (EMBEDDING_BACKEND)
    live_id, expected = answers(out, embedder)
    print(f"baseline build {live_id} ({time.monotonic() - began:.0f} s)")

    layout = IndexLayout(out)
    outcomes: dict[str, int] = {}
    problems: list[str] = []
    for kill in range(1, args.kills + 1):
        delay = rng.uniform(args.min_delay, args.max_delay)
        before = cached_vectors(out)
        build = subprocess.Popen(build_command(out, feeds), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            build.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            staging = any(layout.builds.glob(".staging-*"))
            os.kill(build.pid, signal.SIGKILL)
            build.communicate(timeout=60)
            phase = "writing the build" if staging else ("embedding" if cached_vectors(out) > before else "loading")
        else:
            build.communicate(timeout=60)
            phase = f"finished first (exit {build.returncode})"
        outcomes[phase] = outcomes.get(phase, 0) + 1
        if build.returncode == 0:  # it won the race and published: that build is the live one from now on
            live_id, expected = answers(out, embedder)
        checks = {
            "pointer": layout.current_id() == live_id,
            "answers": answers(out, embedder) == (live_id, expected),
            "cache": cache_integrity(out) == "ok",
            "lock": lock_is_free(out),
        }
        failed = [name for name, ok in checks.items() if not ok]
        problems += [f"kill {kill}: {name}" for name in failed]
        print(
            f"kill {kill:2d} after {delay:5.1f} s while {phase:<16} cache {cached_vectors(out):6,} vectors  "
            + ("all checks passed" if not failed else "FAILED: " + ", ".join(failed)),
            flush=True,
        )

    final = subprocess.run(build_command(out, feeds), capture_output=True, text=True)
    found = REPORT.search(final.stdout)
    embedded, reused = (int(found[1].replace(",", "")), int(found[2].replace(",", ""))) if found else (-1, -1)
    final_id, final_answers = answers(out, embedder)
    if final.returncode != 0 or final_id == live_id or not all(final_answers):
        problems.append(f"final build: exit {final.returncode}, {final.stderr[-500:]}")
    print(f"final build {final_id}: {embedded:,} passages embedded, {reused:,} reused from the cache")
    print(f"total {time.monotonic() - began:.0f} s; problems: {problems or 'none'}")
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)
    phases = ", ".join(f"{n} {phase}" for phase, n in sorted(outcomes.items()))
    print(
        f"| SIGKILL of a real build at random delays ({args.min_delay:g}-{args.max_delay:g} s, seed {seed}) "
        f"| {args.kills} | {phases}; after each: pointer unchanged, a fresh LiveIndex loads and answers "
        f"{len(QUESTIONS)} questions identically, cache integrity ok, lock free"
        f"{' (' + str(len(problems)) + ' FAILURES)' if problems else ''}; the final build reused {reused:,} "
        f"of {embedded + reused:,} passages from the cache |"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
