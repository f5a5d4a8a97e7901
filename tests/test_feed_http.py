"""Indexing a podcast from its feed URL over real HTTP: a server on 127.0.0.1 serves talkpython from the corpus.

Most tests run `scripts/build_index.py`'s `main` in-process, as a maintainer's weekly run, with a short-timeout
Fetcher and the counting embedder; one runs the real model end to end.
"""

import functools
import importlib.util
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pytest

from index.build import STORE_FILE, VECTORS_FILE, build_index
from index.chunking import ChunkerSettings
from index.episodes import read_feed
from index.fetch import Fetcher
from index.layout import IndexLayout
from index.search import Searcher
from index.sources import collect, transcript_reader
from index.store import Store
from tests.helpers import CORPUS, CountingEmbedder
from tests.http_server import Fault, Site

ROOT = Path(__file__).resolve().parents[1]
SHOW = CORPUS / "talkpython"
_FEED = (SHOW / "feed.xml").read_text(encoding="utf-8")
HEAD = _FEED[: _FEED.index("<item>")]
ITEMS = {int(re.search(r"<itunes:episode>(\d+)<", i)[1]): i for i in re.findall(r"<item>.*?</item>", _FEED, re.S)}
A, B, C, D = 396, 358, 329, 398  # four short episodes, in plain timed text and WebVTT
NO_TRANSCRIPT = "<item><title>Live show announcement</title><guid>talkpython-live</guid></item>"


def embedded(report: str) -> int:
    """How many passages the build report says it embedded (the count, not a substring of "90")."""
    return int(re.search(r"(\d+) passages embedded", report).group(1))


def feed(*numbers: int, extra: str = "") -> bytes:
    return (HEAD + "\n".join(ITEMS[n] for n in numbers) + extra + "\n</channel>\n</rss>\n").encode()


def transcript_path(number: int) -> str:
    return "/" + re.search(r'url="([^"]+)"', ITEMS[number])[1]


def title(number: int) -> str:
    return re.search(r"<title>(.*?)</title>", ITEMS[number])[1]


def indexed(out: Path) -> set[int]:
    """Episode numbers in the live build, as the bot's store reads them."""
    store = Store(IndexLayout(out).current() / STORE_FILE)
    try:
        return {e.number for e in store.episodes}
    finally:
        store.close()


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def site():
    with Site(SHOW) as served:
        served.put("/feed.xml", feed(A, B, C))
        yield served


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("build_index_script", ROOT / "scripts" / "build_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def embedder():
    return CountingEmbedder()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def out(tmp_path):
    return tmp_path / "index"


@pytest.fixture
def build(script, site, out, tmp_path, monkeypatch, capsys, embedder, sleeps):
    """Runs `build_index.py --feed <served feed> --out <out> --quiet ARGS` in-process."""
    monkeypatch.chdir(tmp_path)  # no .env
    for name in ("INDEX_DIR", "CACHE_DIR", "LINK_TEMPLATE", "CHUNK_WORDS", "CHUNK_OVERLAP_WORDS"):
        monkeypatch.delenv(name, raising=False)
    fast = functools.partial(Fetcher, read_timeout=0.5, retries=2, backoff=0.01, sleep=sleeps.append)
    monkeypatch.setattr(script, "Fetcher", fast)
    monkeypatch.setattr(script, "load_embedder", lambda *args, **kwargs: embedder)

    def run(*args: str) -> Run:
        code = script.main(["--feed", site.url("/feed.xml"), "--out", str(out), "--quiet", *args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    run.capsys = capsys
    return run


def dump(out: Path) -> tuple[list[tuple], list[tuple], list[tuple], np.ndarray]:
    """Everything a build holds but where its transcripts were read from."""
    build = IndexLayout(out).current()
    conn = sqlite3.connect(build / STORE_FILE)
    episodes = conn.execute(
        "SELECT key, podcast, title, link, guid, number, published, transcript_type, transcript_format,"
        " source_file, link_template, duration FROM episodes ORDER BY id"
    ).fetchall()
    sentences = conn.execute("SELECT id, episode_id, start, end, speaker, text FROM sentences ORDER BY id").fetchall()
    chunks = conn.execute("SELECT id, episode_id, start, end, speakers, text FROM chunks ORDER BY id").fetchall()
    conn.close()
    vectors = faiss.read_index(str(build / VECTORS_FILE))
    return episodes, sentences, chunks, vectors.reconstruct_n(0, vectors.ntotal)


def test_the_index_built_over_http_matches_the_one_built_from_disk(site, tmp_path):
    site.put("/feed.xml", feed(A, B, C, D))
    local = tmp_path / "local"
    local.mkdir()
    (local / "feed.xml").write_bytes(feed(A, B, C, D))
    (local / "transcripts").symlink_to(SHOW / "transcripts")

    def build_with(episodes, out, fetcher):
        return build_index(
            episodes,
            out,
            embedder=CountingEmbedder(),
            chunker=ChunkerSettings(),
            read=transcript_reader(fetcher),
            cache_dir=out / "cache",
        )

    with Fetcher(tmp_path / "disk-http") as fetcher:
        on_disk = read_feed((local / "feed.xml").read_bytes(), str(local / "feed.xml")).episodes
        build_with(on_disk, tmp_path / "from-disk", fetcher)
    with Fetcher(tmp_path / "http") as fetcher:
        found = collect([(site.url("/feed.xml"), None)], [], fetcher=fetcher)
        report = build_with(found.episodes, tmp_path / "from-http", fetcher)
    assert report.episodes == 4 and not report.skipped
    assert [e.transcript for e in found.episodes] == [site.url(transcript_path(n)) for n in (A, B, C, D)]
    assert (fetcher.stats.downloaded, fetcher.stats.failures) == (5, [])

    disk, http = dump(tmp_path / "from-disk"), dump(tmp_path / "from-http")
    assert http[0] == disk[0] and http[1] == disk[1] and http[2] == disk[2]
    np.testing.assert_array_equal(http[3], disk[3])


def test_first_run_then_an_unchanged_second_run_with_the_real_model(
    build, site, out, script, monkeypatch, real_embedder
):
    monkeypatch.setattr(script, "load_embedder", lambda *args, **kwargs: real_embedder)
    site.put("/feed.xml", feed(A))
    first = build()
    assert first.code == 0, first.err
    assert "  1 episode, " in first.out and embedded(first.out) > 0
    assert "Downloads: 2 downloaded, 0 not modified (304), 0 from the cache, 0 failed" in first.out
    assert "Changes since the previous build: 1 new, 0 updated, 0 removed" in first.out

    site.clear_log()
    second = build()
    assert second.code == 0, second.err
    assert embedded(second.out) == 0
    assert "Downloads: 0 downloaded, 2 not modified (304), 0 from the cache, 0 failed" in second.out
    assert "Changes since the previous build: 0 new, 0 updated, 0 removed" in second.out
    assert [(r.path, r.status) for r in site.requests()] == [("/feed.xml", 304), (transcript_path(A), 304)]

    searcher = Searcher.open(out, real_embedder)
    try:
        (hit,) = searcher.search("the lawsuit against GitHub Copilot for writing code", k=1)
    finally:
        searcher.close()
    assert hit.episode_title == title(A)
    assert hit.url.startswith(f"https://talkpython.fm/episodes/show/{A}/") and "#t=" in hit.url


def test_a_build_shows_one_line_per_phase_and_one_bar_over_every_passage_it_embeds(script, site, out, build):
    assert build().code == 0  # the default feed, A, B and C: its passages are now in the cache
    site.put("/feed.xml", feed(A, B, C, D))
    code = script.main(["--feed", site.url("/feed.xml"), "--out", str(out)])
    assert code == 0
    lines = build.capsys.readouterr().err.replace("\r", "\n").splitlines()
    assert "Sources: 1 feed read, 4 episodes listed" in lines
    (read,) = [line for line in lines if line.startswith("Transcripts: ")]
    assert (
        read.startswith("Transcripts: 4 episodes read in ") and "(2 downloaded, 3 not modified)" in read
    )  # the feed and D; A, B, C
    (passages,) = [line for line in lines if line.startswith("Passages: ")]
    pattern = r"Passages: ([\d,]+) passages in 4 episodes; ([\d,]+) to embed, ([\d,]+) reused from the cache"
    total, todo, reused = (int(n.replace(",", "")) for n in re.fullmatch(pattern, passages).groups())
    assert todo > 128 and reused > 0 and todo + reused == total  # D alone is several cache batches
    bars = [line for line in lines if line.startswith("Embedding:")]
    assert sum(f" 0/{todo} " in line for line in bars) == 1  # one bar for the whole build, not one per batch
    assert "100%" in bars[-1] and f" {todo}/{todo} " in bars[-1]
    assert lines.index(passages) < lines.index(bars[0]) and "Writing the index…" in lines


def test_an_episode_added_is_indexed_and_one_removed_disappears(build, site, out, embedder):
    assert build().code == 0
    embedded_before = len(embedder.embedded)
    site.put("/feed.xml", feed(B, C, D).replace(title(C).encode(), b"#329: Energy Storage, Revisited"))
    site.clear_log()
    result = build()
    assert result.code == 0, result.err
    assert indexed(out) == {B, C, D}
    assert "Changes since the previous build: 1 new, 1 updated, 1 removed" in result.out
    assert f"new: {title(D)}" in result.out and f"removed: {title(A)}" in result.out
    assert "updated: #329: Energy Storage, Revisited" in result.out
    assert "Downloads: 2 downloaded, 2 not modified (304)" in result.out
    assert site.statuses(transcript_path(D)) == [200] and site.statuses(transcript_path(A)) == []
    assert len(embedder.embedded) > embedded_before  # what D brought


def test_keep_missing_keeps_what_the_feed_dropped_without_asking_for_it(build, site, out):
    assert build().code == 0
    site.put("/feed.xml", feed(C, D))
    site.clear_log()
    kept = build("--keep-missing")
    assert kept.code == 0, kept.err
    assert indexed(out) == {A, B, C, D}
    assert f"kept: {title(A)} (--keep-missing)" in kept.out and f"kept: {title(B)} (--keep-missing)" in kept.out
    assert "2 from the cache" in kept.out
    assert site.statuses(transcript_path(A)) == site.statuses(transcript_path(B)) == []

    dropped = build()
    assert indexed(out) == {C, D} and "2 removed" in dropped.out


def test_a_dry_run_shows_what_would_change_and_changes_nothing(build, site, out, embedder):
    assert build().code == 0
    live, embedded = IndexLayout(out).current_id(), len(embedder.embedded)
    cache = sorted(p.name for p in (out / "cache" / "http").iterdir())
    site.put("/feed.xml", feed(B, C, D, extra=NO_TRANSCRIPT))
    site.clear_log()
    result = build("--dry-run")
    assert result.code == 0, result.err
    assert "3 episodes would be indexed: 1 transcripts to download, 2 to revalidate" in result.out
    assert f"download: {title(D)} ({site.url(transcript_path(D))})" in result.out
    assert f"new: {title(D)}" in result.out and f"removed: {title(A)}" in result.out
    assert "Live show announcement: no <podcast:transcript> in this item" in result.out
    assert [r.path for r in site.requests()] == ["/feed.xml"]
    assert IndexLayout(out).current_id() == live and len(embedder.embedded) == embedded
    assert sorted(p.name for p in (out / "cache" / "http").iterdir()) == cache

    kept = build("--dry-run", "--keep-missing")
    assert f"kept: {title(A)} (--keep-missing)" in kept.out and "1 from the cache" in kept.out


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        pytest.param([Fault(status=404)], "HTTP 404: Not Found", id="404"),
        pytest.param([Fault(status=500)], None, id="500-then-success"),
        pytest.param([Fault(status=429, headers={"Retry-After": "2"})], None, id="429-retry-after"),
        pytest.param([Fault(stall=2.0)] * 3, "no response: the server stopped sending (read timeout)", id="stall"),
        pytest.param(
            [Fault(body=b"<html><h1>Gateway Timeout</h1></html>", content_type="text/html")],
            "HTTP 200: unusable response",
            id="error-page-served-with-200",
        ),
    ],
)
def test_a_transcript_fault_on_a_weekly_run_loses_nothing(build, site, out, sleeps, faults, reason):
    assert build().code == 0
    site.clear_log()
    site.fail(transcript_path(B), *faults)
    result = build()
    assert result.code == 0, result.err
    assert indexed(out) == {A, B, C}
    assert embedded(result.out) == 0 and "0 removed" in result.out
    if reason is None:
        assert "0 failed" in result.out and site.statuses(transcript_path(B))[-1] == 304
    else:
        line = next(x for x in result.out.splitlines() if x.strip().startswith(site.url(transcript_path(B))))
        assert reason in line and line.endswith("(used the copy cached by an earlier run)")
        assert "1 from the cache, 1 failed" in result.out
    if faults[0].status == 429:
        assert sleeps == [2.0]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault(status=404), "HTTP 404: Not Found"),
        (Fault(stall=2.0), "no response: the server stopped sending (read timeout) after 3 attempts"),
        (Fault(truncate=True), "no response: the response was cut short"),
        (Fault(status=503), "HTTP 503: Service Unavailable after 3 attempts"),
    ],
)
def test_a_new_transcript_that_cannot_be_downloaded_is_left_out_and_reported(build, site, out, fault, reason):
    site.fail_always(transcript_path(B), fault)
    result = build()
    assert result.code == 0, result.err
    assert indexed(out) == {A, C}
    url = site.url(transcript_path(B))
    assert f"{url}: {reason}" in result.out and "(nothing cached: left out)" in result.out
    assert "1 skipped:" in result.out and f"    {url}: {url}" in result.out
    assert "Changes since the previous build: 2 new," in result.out  # the one left out is not new: it is skipped


def test_a_changed_transcript_cut_short_is_downloaded_again_or_the_old_copy_kept(build, site, out):
    assert build().code == 0
    original = (SHOW / transcript_path(B).lstrip("/")).read_bytes()

    def change(words: str) -> None:
        site.put(transcript_path(B), original + f"\n00:46:47.000 --> 00:46:52.000\n{words}\n".encode())

    def said(words: str) -> bool:
        conn = sqlite3.connect(IndexLayout(out).current() / STORE_FILE)
        try:
            return conn.execute("SELECT count(*) FROM sentences WHERE text = ?", (words,)).fetchone()[0] == 1
        finally:
            conn.close()

    change("Our sponsor this week is a garden centre.")
    site.fail(transcript_path(B), Fault(truncate=True))
    once = build()
    assert once.code == 0 and "0 failed" in once.out and said("Our sponsor this week is a garden centre.")

    change("Next week we talk about bees.")
    site.fail(transcript_path(B), *[Fault(truncate=True)] * 3)
    always = build()
    assert always.code == 0 and indexed(out) == {A, B, C}
    assert f"{site.url(transcript_path(B))}: no response: the response was cut short" in always.out
    assert "(used the copy cached by an earlier run)" in always.out
    assert said("Our sponsor this week is a garden centre.") and not said("Next week we talk about bees.")


def test_a_wrongly_declared_transcript_type_is_read_from_its_content(build, site, out):
    item = ITEMS[B].replace('type="text/vtt"', 'type="text/html"')
    site.put("/feed.xml", (HEAD + ITEMS[A] + item + "\n</channel>\n</rss>\n").encode())
    site.fail_always(transcript_path(B), Fault(content_type="application/octet-stream"))
    result = build()
    assert result.code == 0 and "0 failed" in result.out and "skipped" not in result.out
    store = Store(IndexLayout(out).current() / STORE_FILE)
    formats = {e.number: (e.transcript_format, e.duration > 1000) for e in store.episodes}
    store.close()
    assert formats == {A: ("timed-lines", True), B: ("vtt", True)}


def test_a_malformed_feed_is_read_and_what_it_may_have_lost_is_kept(build, site, out):
    assert build().code == 0
    broken = feed(A, D, B, C).replace(b"</title>", b" & friends</title>", 2)  # an unescaped & in the titles
    site.put("/feed.xml", broken[: broken.index(f"<itunes:episode>{C}<".encode())])  # cut inside the last item
    result = build()
    assert result.code == 0, result.err
    assert indexed(out) == {A, B, C, D}
    assert f"new: {title(D)}" in result.out and "0 removed" in result.out
    assert f"kept: {title(C)} (feed {site.url('/feed.xml')} is not well-formed XML (" in result.out


def test_a_feed_url_serving_an_error_page_or_failing_falls_back_to_the_cached_feed(build, site, out):
    assert build().code == 0
    site.put("/feed.xml", b"<html><body><h1>Down for maintenance</h1></body></html>")
    page = build()
    assert page.code == 0, page.err
    assert indexed(out) == {A, B, C} and "0 removed" in page.out
    assert f"{site.url('/feed.xml')}: HTTP 200: unusable response: " in page.out and "not a podcast feed" in page.out

    site.fail_always("/feed.xml", Fault(status=503))
    down = build()
    assert down.code == 0 and indexed(out) == {A, B, C}
    assert "HTTP 503: Service Unavailable after 3 attempts (used the copy cached by an earlier run)" in down.out


def test_when_the_whole_run_fails_the_previous_index_keeps_serving(build, site, out):
    assert build().code == 0
    live = IndexLayout(out).current_id()
    for path in (out / "cache" / "http").iterdir():
        path.unlink()
    site.fail_always("/feed.xml", Fault(status=503))
    result = build()
    assert result.code == 1
    assert "error: no source could be read" in result.err and "Nothing was published" in result.err
    assert f"{site.url('/feed.xml')}: HTTP 503: Service Unavailable after 3 attempts" in result.err
    assert IndexLayout(out).current_id() == live and indexed(out) == {A, B, C}


@pytest.mark.parametrize(("encoding", "show"), [("iso-8859-1", "Café Python"), ("gb2312", "播客 Python")])
def test_a_feed_from_the_wild(build, site, out, encoding, show):
    vtt, txt, other = (site.url(transcript_path(B)), transcript_path(A).lstrip("/"), transcript_path(C).lstrip("/"))
    document = f"""<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel><title>{show}</title><link>https://example.org/</link>
<item><title>&lt;b&gt;Pandas&lt;/b&gt; &amp;amp; {show}</title><guid>ep-1</guid><link>https://example.org/1</link>
  <pubDate>Tue, 10 Jun 2025 09:00:00 GMT</pubDate><itunes:episode>1</itunes:episode>
  <podcast:transcript url="{txt}" type="text/plain"/>
  <podcast:transcript url="{vtt}" type="text/vtt"/></item>
<item><title>Repost</title><guid>ep-1</guid><podcast:transcript url="{vtt}" type="text/vtt"/></item>
<item><title>Trailer</title><guid>trailer</guid></item>
<item><podcast:transcript url="{other}"/></item>
</channel></rss>"""
    site.put("/feed.xml", document.encode(encoding))
    result = build()
    assert result.code == 0, result.err
    store = Store(IndexLayout(out).current() / STORE_FILE)
    episodes = sorted((e.title, e.podcast, e.source_file, e.published) for e in store.episodes)
    store.close()
    assert episodes == [
        (f"Pandas & {show}", show, Path(vtt).name, "2025-06-10"),
        ("item 4", show, Path(other).name, None),
    ]
    assert f"{show}: Repost: duplicate of an earlier item" in result.out
    assert f"{show}: Trailer: no <podcast:transcript> in this item" in result.out
    assert "0 failed" in result.out


def test_two_shows_that_share_guids_are_both_indexed_and_an_unchanged_run_changes_nothing(build, site, out):
    site.put("/other.xml", feed(A, B).replace(b"<title>Talk Python", b"<title>Another Show", 1))  # same guids
    first = build("--feed", site.url("/other.xml"))
    assert first.code == 0, first.err
    assert "duplicate episode id" not in first.out and len(Store(IndexLayout(out).current() / STORE_FILE).episodes) == 5
    again = build("--feed", site.url("/other.xml"))
    assert again.code == 0, again.err
    assert "0 new, 0 updated, 0 removed" in again.out, again.out
