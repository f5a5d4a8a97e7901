"""Feeds whose items have only audio: `build_index.py --feed URL --transcribe` over real HTTP on 127.0.0.1.

The audio is the espeak-ng episode of tests/data/audio, transcribed by the real bundled Whisper tiny.en; the
end-to-end test answers with the real embedding model through `scripts/query.py`. Fault tests use the counting
embedder: what they check happens before embedding.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from bot.render import render_about, render_answer
from index.audio.model import find_model
from index.build import STORE_FILE
from index.fetch import Fetcher
from index.layout import IndexLayout
from index.manifest import Manifest
from index.models import Hit
from index.store import Store
from tests.helpers import CountingEmbedder, load_script
from tests.http_server import Fault, Site

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT / "tests" / "data" / "audio"
SCRIPT = json.loads((AUDIO / "script.json").read_text(encoding="utf-8"))["episode.mp3"]
VTT = (ROOT / "tests" / "data" / "transcripts" / "sample.vtt").read_bytes()
GARDEN = "Garden Notes: Bees on the roof"
HIVE = "The Hive Mind 12"


def item(
    guid: str, title: str, *, audio: str | None = None, duration: str | None = None, vtt: str | None = None
) -> str:
    parts = [f"<title>{title}</title><guid>{guid}</guid><link>https://example.org/{guid}</link>"]
    if audio:
        parts.append(f'<enclosure url="{audio}" type="audio/mpeg" length="427990"/>')
    if duration:
        parts.append(f"<itunes:duration>{duration}</itunes:duration>")
    if vtt:
        parts.append(f'<podcast:transcript url="{vtt}" type="text/vtt"/>')
    return "<item>" + "".join(parts) + "</item>"


GARDEN_ITEM = item("garden-1", GARDEN, audio="episode.mp3", duration="1:47")
HIVE_ITEM = item("hive-12", HIVE, vtt="hive.vtt")


def feed(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
        ' xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>Small Places</title>'
        "<link>https://example.org/</link>" + "".join(items) + "</channel></rss>"
    ).encode()


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def script():
    return load_script("build_index")


@pytest.fixture
def site():
    with Site(AUDIO) as served:
        served.put("/hive.vtt", VTT)
        served.put("/feed.xml", feed(GARDEN_ITEM, HIVE_ITEM))
        yield served


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env
    for name in (
        "INDEX_DIR",
        "CACHE_DIR",
        "LINK_TEMPLATE",
        "WHISPER_MODEL",
        "WHISPER_COMPUTE_TYPE",
        "ENCLOSURE_MAX_MB",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def build(script, site, out, clean_env, monkeypatch, capsys):
    """Runs `build_index.py --feed <served feed> --out <out> --quiet ARGS` in-process, counting embedder."""
    fast = functools.partial(Fetcher, read_timeout=0.5, retries=2, backoff=0.01, sleep=lambda _: None)
    monkeypatch.setattr(script, "Fetcher", fast)
    monkeypatch.setattr(script, "load_embedder", lambda *args, **kwargs: CountingEmbedder())

    def run(*args: str) -> Run:
        code = script.main(["--feed", site.url("/feed.xml"), "--out", str(out), "--quiet", *args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def indexed(out: Path) -> dict[str, str]:
    """Episode title -> transcript origin, in the live build."""
    store = Store(IndexLayout(out).current() / STORE_FILE)
    try:
        return {e.title: e.origin for e in store.episodes}
    finally:
        store.close()


def transcripts_made(out: Path) -> int:
    conn = sqlite3.connect(out / "cache" / "transcripts.sqlite")
    try:
        return conn.execute("SELECT COUNT(*) FROM transcripts WHERE body IS NOT NULL").fetchone()[0]
    finally:
        conn.close()


def spoken_at(quote: str) -> float:
    """Where the script sentence the quote begins in was really spoken."""
    words = [(w, s["start"]) for s in SCRIPT for w in re.findall(r"[a-z']+", s["text"].lower())]
    heard = re.findall(r"[a-z']+", quote.lower())
    matcher = SequenceMatcher(None, [w for w, _ in words], heard, autojunk=False)
    first = next(block for block in matcher.get_matching_blocks() if block.size >= 2)
    return words[first.a][1]


def test_an_audio_only_episode_is_transcribed_indexed_found_and_never_transcribed_twice(
    build, site, out, script, monkeypatch, capsys, real_embedder
):
    monkeypatch.setattr(script, "load_embedder", lambda *args, **kwargs: real_embedder)
    first = build("--transcribe")
    assert first.code == 0, first.err
    assert re.search(rf"transcribed {GARDEN}: 1:46 of audio in [\d.]+ s \([\d.]+x real time\), \d+ words", first.out)
    assert "Transcription: 1 episode transcribed (1:46 of audio in" in first.out and "0 failed" in first.out
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"}

    query = load_script("query")
    monkeypatch.setattr(query, "load_embedder", lambda *args, **kwargs: real_embedder)

    def ask(question: str) -> dict:
        assert query.main(["--index", str(out), "--json", "-k", "1", question]) == 0
        return json.loads(capsys.readouterr().out)["hits"][0]

    hit = ask("Why did the tomato leaves turn yellow on the balcony?")
    assert (hit["episode_title"], hit["transcript"]) == (GARDEN, "machine")
    link = int(re.search(r"#t=(\d+)$", hit["url"])[1])
    assert abs(link - spoken_at(hit["quote"])) <= 2, (hit["url"], hit["quote"])
    assert 65 < link < 92  # the tomato paragraph
    assert ask("counting bees with a camera and a Raspberry Pi")["transcript"] == "published"

    site.clear_log()
    second = build("--transcribe")
    assert second.code == 0, second.err
    assert "Transcription: 0 episodes transcribed (0:00 of audio in 0 s), 1 from the transcript cache, 0 failed" in (
        second.out
    )
    assert site.statuses("/episode.mp3") == [304] and "0 passages embedded" in second.out
    assert transcripts_made(out) == 1

    build_dir = IndexLayout(out).current()
    store = Store(build_dir / STORE_FILE)
    try:
        about = render_about(Manifest.read(build_dir), store.episodes).to_dict()
    finally:
        store.close()
    assert {"name": "Machine-transcribed", "value": "1 of 2 episodes", "inline": False} in about["fields"]
    machine_hit = Hit(0, "garden-1", GARDEN, "Small Places", "episode.mp3", 0, 5, None, 0.8, [], origin="machine")
    (embed,) = render_answer("q", [machine_hit]).embeds
    assert embed.footer.text.endswith("machine transcript, may mishear words")

    site.put("/feed.xml", feed(item("garden-1", GARDEN, audio="episode.mp3", vtt="hive.vtt"), HIVE_ITEM))
    published = build("--transcribe")
    assert published.code == 0, published.err
    assert indexed(out) == {GARDEN: "published", HIVE: "published"}
    assert "1 updated" in published.out and "Transcription" not in published.out


def test_without_transcribe_the_report_counts_audio_only_episodes_and_estimates_the_time(build, site, out):
    result = build()
    assert result.code == 0, result.err
    assert indexed(out) == {HIVE: "published"}
    assert (
        "Audio only: 1 episode has audio only (1:47 of audio); transcribing takes about 9 s at 12x real time"
        " (the bundled model on 2 cores); --transcribe indexes them" in result.out
    )
    assert f"Small Places: {GARDEN}: {site.url('/episode.mp3')}: audio only: not transcribed yet" in result.out
    assert site.statuses("/episode.mp3") == []


def test_a_feed_of_audio_alone_fails_without_transcribe_and_says_what_transcribing_takes(build, site, out):
    site.put("/feed.xml", feed(GARDEN_ITEM))
    result = build()
    assert result.code == 1 and "error: nothing could be indexed" in result.err
    assert "Audio only: 1 episode has audio only (1:47 of audio); transcribing takes about" in result.err
    assert "--transcribe indexes them" in result.err


def test_a_dry_run_with_transcribe_prints_the_estimate_and_does_nothing(build, site, out):
    result = build("--dry-run", "--transcribe")
    assert result.code == 0, result.err
    assert "Audio only: 1 episode has audio only (1:47 of audio); transcribing takes about 9 s" in result.out
    assert "--transcribe would transcribe them" in result.out
    assert [r.path for r in site.requests()] == ["/feed.xml"]
    assert not out.exists()  # nothing written at all: no index, no cache, no transcript database


ONE_MB = 1024 * 1024
EPISODE = (AUDIO / "episode.mp3").read_bytes()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        pytest.param(Fault(status=404), "HTTP 404: Not Found", id="404"),
        pytest.param(Fault(stall=2.0), "the server stopped sending (read timeout) after 3 attempts", id="stalled"),
        pytest.param(Fault(truncate=True), "the response was cut short", id="cut-short-in-transit"),
        pytest.param(Fault(body=b"", content_type="audio/mpeg"), "empty response", id="empty"),
        pytest.param(
            Fault(body=b"<html><body>Moved to our new host</body></html>", content_type="audio/mpeg"),
            "not audio that can be decoded (Invalid data found when processing input)",
            id="not-audio-under-audio-mpeg",
        ),
        pytest.param(
            Fault(body=EPISODE[: len(EPISODE) * 2 // 5], content_type="audio/mpeg"),
            "the audio ends at 0:4",
            id="mp3-truncated-at-the-source",
        ),
        pytest.param(
            Fault(body=bytes(ONE_MB + 1), content_type="audio/mpeg"),
            "1048577 bytes is larger than the 1 MB limit",
            id="over-the-size-cap",
        ),
    ],
)
def test_an_audio_fault_is_reported_and_nothing_of_that_episode_is_indexed(
    build, site, out, monkeypatch, fault, reason
):
    monkeypatch.setenv("ENCLOSURE_MAX_MB", "1")
    site.fail_always("/episode.mp3", fault)
    result = build("--transcribe")
    assert result.code == 0, result.err
    url = site.url("/episode.mp3")
    assert re.search(rf"^  {re.escape(url)}: .*{re.escape(reason)}", result.out, re.M), result.out
    assert f"Small Places: {GARDEN}: {url}: " in result.out  # listed as skipped, with the same reason
    assert "1 failed" in result.out
    assert indexed(out) == {HIVE: "published"}
    assert not list((out / "cache" / "audio").glob("*")), "no partial download is left behind"


def test_a_failed_download_on_a_weekly_run_keeps_the_earlier_transcript(build, site, out):
    assert build("--transcribe").code == 0
    site.fail_always("/episode.mp3", Fault(status=503))
    result = build("--transcribe")
    assert result.code == 0, result.err
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"}
    url = site.url("/episode.mp3")
    assert f"  {url}: Service Unavailable after 3 attempts (used the transcript of an earlier run)" in result.out
    assert "(used the copy cached by an earlier run)" in result.out  # the download report says the same


def test_an_error_page_served_as_audio_on_a_weekly_run_keeps_the_earlier_transcript(build, site, out):
    assert build("--transcribe").code == 0
    url = site.url("/episode.mp3")
    site.fail_always("/episode.mp3", Fault(status=200, body=b"<html>Bandwidth limit exceeded</html>"))
    for _ in range(2):  # the page itself, then the same page again (its failure is cached against its bytes)
        result = build("--transcribe")
        assert result.code == 0, result.err
        assert indexed(out) == {GARDEN: "machine", HIVE: "published"}
        assert re.search(
            rf"^  {re.escape(url)}: not audio .*\(used the transcript of an earlier run\)$", result.out, re.M
        )
    site.fail_always("/episode.mp3", Fault(status=503))  # and a plain outage after it still falls back
    assert build("--transcribe").code == 0 and indexed(out) == {GARDEN: "machine", HIVE: "published"}


def test_when_only_audio_fails_nothing_is_published_and_the_live_index_keeps_serving(build, site, out):
    assert build().code == 0
    live = IndexLayout(out).current_id()
    site.put("/feed.xml", feed(GARDEN_ITEM))
    site.fail_always("/episode.mp3", Fault(status=404))
    result = build("--transcribe")
    assert result.code == 1
    assert "error: nothing could be indexed" in result.err and "HTTP 404: Not Found" in result.err
    assert IndexLayout(out).current_id() == live and indexed(out) == {HIVE: "published"}


def test_a_duration_the_feed_got_wrong_is_retried_once_the_feed_is_fixed(build, site, out):
    site.put("/feed.xml", feed(item("garden-1", GARDEN, audio="episode.mp3", duration="7:01"), HIVE_ITEM))
    wrong = build("--transcribe")
    assert "the feed says the episode is 7:01" in wrong.out and indexed(out) == {HIVE: "published"}
    site.put("/feed.xml", feed(GARDEN_ITEM, HIVE_ITEM))  # the publisher corrects <itunes:duration>
    fixed = build("--transcribe")
    assert fixed.code == 0, fixed.err
    assert "1 episode transcribed" in fixed.out, fixed.out  # the audio was fine: not a failure remembered
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"}


def test_a_model_that_cannot_load_fails_this_run_only(build, site, out, tmp_path, monkeypatch):
    model = tmp_path / "my-whisper"
    shutil.copytree(find_model("tiny.en").path, model)
    config = (model / "config.json").read_bytes()
    (model / "config.json").write_text("{ not json")  # the same weights (the same model id), unloadable
    monkeypatch.setenv("WHISPER_MODEL", str(model))
    broken = build("--transcribe")
    assert "cannot load the Whisper model" in broken.out and indexed(out) == {HIVE: "published"}
    (model / "config.json").write_bytes(config)
    fixed = build("--transcribe")
    assert fixed.code == 0, fixed.err
    assert "1 episode transcribed" in fixed.out, fixed.out  # not the failure remembered against its audio
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"}


def test_the_same_audio_under_a_new_url_is_not_transcribed_again(build, site, out):
    assert build("--transcribe").code == 0
    site.put("/feed.xml", feed(item("garden-1", GARDEN, audio="moved/episode.mp3", duration="1:47"), HIVE_ITEM))
    site.put("/moved/episode.mp3", EPISODE)
    result = build("--transcribe")
    assert result.code == 0, result.err
    assert "0 episodes transcribed" in result.out and "1 from the transcript cache" in result.out
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"} and transcripts_made(out) == 1


def test_a_killed_run_keeps_the_episodes_it_finished_and_the_next_run_resumes(build, site, out, clean_env):
    clip = (AUDIO / "clip-44k-stereo.mp3").read_bytes()
    site.put("/clip.mp3", clip)
    site.put("/feed.xml", feed(GARDEN_ITEM, item("bike-1", "Flat tyres", audio="clip.mp3", duration="0:17")))
    site.fail("/clip.mp3", Fault(stall=60.0))  # the second download hangs until the run is killed
    env = {k: v for k, v in os.environ.items() if k not in ("INDEX_DIR", "CACHE_DIR")}
    command = [sys.executable, str(ROOT / "scripts" / "build_index.py"), "--feed", site.url("/feed.xml")]
    run = subprocess.Popen(
        [*command, "--out", str(out), "--transcribe", "--quiet"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 240
        while not site.requests("/clip.mp3"):
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert transcripts_made(out) == 1 and not (out / "CURRENT").exists()

    resumed = build("--transcribe")
    assert resumed.code == 0, resumed.err
    assert "Transcription: 1 episode transcribed" in resumed.out and "1 from the transcript cache" in resumed.out
    assert "transcribed Flat tyres: 0:17 of audio" in resumed.out
    assert site.statuses("/episode.mp3") == [200, 304]
    assert indexed(out) == {GARDEN: "machine", "Flat tyres": "machine"}


def test_a_run_without_transcribe_keeps_the_episodes_transcribed_before(build, site, out):
    assert build("--transcribe").code == 0
    site.clear_log()
    result = build()
    assert result.code == 0, result.err
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"}
    assert "0 removed" in result.out and "Audio only" not in result.out
    assert site.statuses("/episode.mp3") == []  # read from the transcript cache without asking


def test_a_build_from_before_transcript_origins_is_read_as_published_to_tell_what_changed(build, site, out):
    site.put("/feed.xml", feed(HIVE_ITEM))
    assert build().code == 0
    database = IndexLayout(out).current() / STORE_FILE
    conn = sqlite3.connect(database)
    conn.execute("ALTER TABLE episodes DROP COLUMN origin")
    conn.commit()
    conn.close()
    from index.previous import previous_episodes

    assert [e.origin for e in previous_episodes(out)] == ["published"]


def test_a_missing_whisper_model_stops_only_a_run_that_transcribes_or_has_transcribed(
    build, out, tmp_path, monkeypatch
):
    monkeypatch.setenv("WHISPER_MODEL", str(tmp_path / "moved-away"))
    first = build()
    assert first.code == 0, first.err
    assert "warning: WHISPER_MODEL=" in first.err and indexed(out) == {HIVE: "published"}
    assert re.search(rf"Small Places: {GARDEN}: WHISPER_MODEL=.*not a directory", first.out), first.out
    assert build("--transcribe").code == 1
    monkeypatch.delenv("WHISPER_MODEL")
    assert build("--transcribe").code == 0 and indexed(out) == {GARDEN: "machine", HIVE: "published"}
    monkeypatch.setenv("WHISPER_MODEL", str(tmp_path / "moved-away"))
    weekly = build()  # its machine transcripts cannot be read without the model: nothing published, none lost
    assert weekly.code == 1 and "not a directory" in weekly.err
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"}


def test_downloads_a_killed_run_left_are_removed_by_a_later_run(build, site, out, tmp_path, monkeypatch):
    from index.audio.pipeline import STALE_DOWNLOAD_SECONDS, AudioTranscripts

    seen: list[Path] = []
    of_file = AudioTranscripts.of_file
    monkeypatch.setattr(
        AudioTranscripts, "of_file", lambda self, path, *a, **k: seen.append(path) or of_file(self, path, *a, **k)
    )
    monkeypatch.setenv("CACHE_DIR", str(out / "cache"))
    transcribe = load_script("transcribe")
    assert transcribe.main([site.url("/episode.mp3"), "--out", str(tmp_path / "vtt")]) == 0
    # transcribe.py downloads where the build does, under the name its clean-up looks for
    assert [(p.parent, p.name.startswith("audio-"), p.suffix) for p in seen] == [
        (out / "cache" / "audio", True, ".part")
    ]
    downloads = out / "cache" / "audio"
    old, fresh = downloads / "audio-killed.part", downloads / "audio-running.part"
    for path in (old, fresh):
        path.write_bytes(b"half an episode")
    os.utime(old, (time.time() - STALE_DOWNLOAD_SECONDS - 60,) * 2)
    assert build("--transcribe").code == 0
    assert sorted(p.name for p in downloads.iterdir()) == ["audio-running.part"]  # another run's may be in use


def test_audio_beside_a_feed_read_from_disk_is_transcribed_like_its_transcripts(
    script, clean_env, tmp_path, monkeypatch
):
    monkeypatch.setattr(script, "load_embedder", lambda *args, **kwargs: CountingEmbedder())
    show = tmp_path / "show"
    show.mkdir()
    shutil.copy(AUDIO / "episode.mp3", show / "episode.mp3")
    (show / "hive.vtt").write_bytes(VTT)
    (show / "feed.xml").write_bytes(feed(GARDEN_ITEM, HIVE_ITEM))
    out = tmp_path / "index"
    args = ["--feed", str(show / "feed.xml"), "--out", str(out), "--quiet", "--transcribe"]
    assert script.main(args) == 0
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"}
    assert script.main(args) == 0 and transcripts_made(out) == 1  # the same file is not transcribed twice


def test_a_new_whisper_setting_keeps_the_old_transcripts_serving_until_transcribe_makes_new_ones(
    build, site, out, monkeypatch
):
    assert build("--transcribe").code == 0
    monkeypatch.setenv("WHISPER_COMPUTE_TYPE", "float32")
    weekly = build()
    assert weekly.code == 0, weekly.err
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"} and "  removed: " not in weekly.out
    assert "Audio only" not in weekly.out  # nothing waits for --transcribe: the old transcript is indexed
    site.fail_always("/episode.mp3", Fault(status=503))
    outage = build("--transcribe")
    assert "(used the transcript of an earlier run)" in outage.out
    assert indexed(out) == {GARDEN: "machine", HIVE: "published"}
    site.fail_always("/episode.mp3", Fault())  # served normally again
    again = build("--transcribe")
    assert "Transcription: 1 episode transcribed" in again.out, again.out  # with the new setting, once
    assert transcripts_made(out) == 2 and indexed(out) == {GARDEN: "machine", HIVE: "published"}


def test_audio_that_fails_with_a_new_setting_keeps_the_transcript_made_with_the_old_one(build, site, out, monkeypatch):
    import index.audio.decode as decoding

    assert build("--transcribe").code == 0
    monkeypatch.setenv("WHISPER_COMPUTE_TYPE", "float32")
    monkeypatch.setattr(decoding, "MAX_HOURS", 0.01)  # the same bytes now fail: a limit the first run did not have
    for _ in range(2):  # the failure itself, then a run that finds it cached (a 304)
        result = build("--transcribe")
        assert result.code == 0, result.err
        assert "(used the transcript of an earlier run)" in result.out and "  removed: " not in result.out
        assert indexed(out) == {GARDEN: "machine", HIVE: "published"}
