"""scripts/insights.py as a maintainer runs it: a real process over a seeded bot database; the page parses, its
charts are PNGs that decode, --json has the same numbers, and bad databases get a clear one-line error."""

from __future__ import annotations

import base64
import io
import json
import os
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from bot.store import BotStore
from tests.insights_seed import DOWN_VOTED, seed

ROOT = Path(__file__).resolve().parents[1]
VOID = {"meta", "img", "br", "hr", "link", "input"}


def run(*args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"]}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "insights.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


class Page(HTMLParser):
    """Checks that every element is closed in order, and collects images, headings and table rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.headings: list[str] = []
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        if tag == "a":
            self.links.append(dict(attrs)["href"] or "")
        if tag == "tr":
            self.rows.append([])
        if tag in ("h2", "td"):
            self._text = []
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()
        if tag in ("h2", "td") and self._text is not None:
            text = "".join(self._text).strip()
            (self.headings if tag == "h2" else self.rows[-1]).append(text)
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


@pytest.fixture(scope="module")
def bot_db(tmp_path_factory, real_embedder) -> Path:
    path = tmp_path_factory.mktemp("insights") / "bot.sqlite"
    store = BotStore(path)
    seed(store, real_embedder, guild_id=7)
    store.close()
    return path


def test_the_html_report_parses_and_its_charts_decode(bot_db, tmp_path):
    out = tmp_path / "report" / "insights.html"
    result = run("--db", str(bot_db), "--days", "30", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{out}: 264 questions, {DOWN_VOTED} 👎"
    html = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    page.close()
    assert page.open == [] and html.startswith("<!doctype html>")
    assert page.headings[:3] == [
        "Top questions, grouped by meaning",
        "Coverage gaps: no confident match or 👎",
        "Most linked episodes",
    ]
    assert len(page.images) == 2
    for image in page.images:
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,") and image["alt"]
        decoded = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        decoded.verify()
        assert decoded.format == "PNG"
    assert ["48", "where do they talk about backing up a SQLite database?", "48"] in page.rows  # size, medoid, people
    assert ["6", "what did they say about the broken linkmoth release?", "0", "6"] in page.rows  # a gap of 👎
    assert ["88", "SQLite in Production"] in page.rows
    assert page.links and all(link.startswith("https://tinystack.example/episodes/") for link in page.links)
    assert "<script" not in html and "http" not in html.split("<body>")[0]  # nothing is fetched to show it
    hashes = [r[0] for r in sqlite3.connect(bot_db).execute("SELECT DISTINCT user_hash FROM questions")]
    assert not any(h[:12] in html for h in hashes)


def test_json_has_the_same_numbers(bot_db):
    result = run("--db", str(bot_db), "--json", "--guild", "7")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 264 and report["askers"] == 90 and report["down"] == DOWN_VOTED
    assert [g["size"] for g in report["top"][:3]] == [48, 40, 36]
    assert len(report["per_day"]) == 30 and len(report["reviews"]) == DOWN_VOTED
    assert report["reviews"][0]["shown"][0]["title"] == "Packaging Python Apps"
    other = json.loads(run("--db", str(bot_db), "--json", "--guild", "8").stdout)
    assert other["questions"] == 0 and other["top"] == [] and other["reviews"] == []


def test_bad_databases_get_a_one_line_error(tmp_path):
    missing = run("--db", str(tmp_path / "nope.sqlite"), "--json")
    assert missing.returncode == 1 and "nope.sqlite: no such database" in missing.stderr
    old = tmp_path / "old.sqlite"
    sqlite3.connect(old).executescript("CREATE TABLE questions (id INTEGER PRIMARY KEY, question TEXT);")
    upgraded = run("--db", str(old), "--json")
    assert upgraded.returncode == 1 and "written by an older bot" in upgraded.stderr
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    refused = run("--db", str(junk), "--json")
    assert refused.returncode == 1 and "junk.sqlite" in refused.stderr and "Traceback" not in refused.stderr
    usage = run("--db", str(old))
    assert usage.returncode == 2 and "--out report.html, or --json" in usage.stderr
