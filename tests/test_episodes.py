from pathlib import Path

import pytest

from index.episodes import episodes_from_folder, read_feed
from index.errors import FeedError
from tests.helpers import CORPUS, SAMPLES

FEED = """<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0">
<channel>
<title>Caf\u00e9 &amp; <b>Code</b></title>
<link>https://cafe.example/</link>
{items}
</channel>
</rss>
"""


def feed(items: str, encoding: str = "UTF-8") -> bytes:
    return FEED.format(items=items, encoding=encoding).encode("utf-8" if encoding == "UTF-8" else encoding)


@pytest.mark.parametrize("folder", [CORPUS / "talkpython", CORPUS / "changelog", SAMPLES], ids=lambda f: f.name)
def test_feeds_resolve_transcripts_next_to_the_feed(folder):
    path = folder / "feed.xml"
    parsed = read_feed(path.read_bytes(), str(path))
    assert parsed.episodes and not parsed.skipped
    for episode in parsed.episodes:
        assert (folder / "transcripts" / episode.source_file).is_file()
        assert episode.title and episode.link and episode.link.startswith("https://")
    if folder.name == "talkpython":
        first = parsed.episodes[0]
        assert (first.number, first.guid, first.title) == (300, "talkpython-300", "#300: Data Sci Startup")
        assert first.transcript_type == "text/vtt"


def test_relative_transcripts_resolve_against_a_feed_url():
    data = feed('<item><title>One</title><guid>g1</guid><podcast:transcript url="t/1.vtt" type="text/vtt"/></item>')
    parsed = read_feed(data, "https://cafe.example/podcast/feed.xml")
    assert parsed.episodes[0].transcript == "https://cafe.example/podcast/t/1.vtt"


def test_most_precise_transcript_wins_and_metadata_is_cleaned():
    data = feed(
        """<item><title>Ep &lt;i&gt;one&lt;/i&gt; &amp; more</title><guid>g1</guid>
        <link>https://cafe.example/1</link><pubDate>Tue, 10 Jun 2025 09:00:00 GMT</pubDate>
        <itunes:episode> 12 </itunes:episode>
        <podcast:transcript url="https://cdn.example/1.html" type="text/html"/>
        <podcast:transcript url="https://cdn.example/1.txt" type="text/plain"/>
        <podcast:transcript url="https://cdn.example/1.vtt" type="text/vtt"/>
        <podcast:transcript url="https://cdn.example/1.json" type="application/json"/>
        </item>"""
    )
    (episode,) = read_feed(data, "https://cafe.example/feed.xml").episodes
    assert episode.transcript == "https://cdn.example/1.vtt"
    assert episode.title == "Ep one & more"
    assert episode.podcast == "Café & Code"
    assert (episode.number, episode.published, episode.link) == (12, "2025-06-10", "https://cafe.example/1")


def test_items_without_transcripts_and_duplicate_guids_are_reported():
    data = feed(
        """<item><title>No transcript</title><guid>a</guid></item>
        <item><title>First</title><guid>b</guid><podcast:transcript url="b.vtt"/></item>
        <item><title>Repost</title><guid>b</guid><podcast:transcript url="b.vtt"/></item>
        <item><title>Same guid, other episode</title><guid>b</guid><podcast:transcript url="c.vtt"/></item>
        <item><podcast:transcript url="d.srt"/></item>"""
    )
    parsed = read_feed(data, "https://cafe.example/feed.xml")
    assert [e.title for e in parsed.episodes] == ["First", "Same guid, other episode", "item 5"]
    assert len({e.episode_id for e in parsed.episodes}) == 3
    reasons = dict(parsed.skipped)
    assert "no <podcast:transcript>" in reasons["No transcript"]
    assert "duplicate" in reasons["Repost"]


def test_episode_ids_stay_when_new_items_are_published():
    home = "<link>https://cafe.example/</link>"  # the show's page on every item, and no guid
    older = [
        f'<item><title>Two</title>{home}<podcast:transcript url="2.vtt"/></item>',
        f'<item><title>One</title>{home}<podcast:transcript url="1.vtt"/></item>',
        '<item><title>Repost</title><guid>g</guid><podcast:transcript url="r2.vtt"/></item>',
        '<item><title>Original</title><guid>g</guid><podcast:transcript url="r1.vtt"/></item>',
    ]
    newer = f'<item><title>Three</title>{home}<podcast:transcript url="3.vtt"/></item>'
    url = "https://cafe.example/feed.xml"

    def ids(items: list[str]) -> dict[str, str]:
        return {e.title: e.episode_id for e in read_feed(feed("".join(items)), url).episodes}

    before, after = ids(older), ids([newer, *older])
    assert len(set(before.values())) == 4 and len(set(after.values())) == 5
    assert {title: after[title] for title in before} == before


def test_a_guid_used_three_times_keeps_ids_unique_and_skips_the_repost():
    """Regression, found by the feed fuzzer: the third item repeats the second's guid and transcript."""
    items = "".join(
        f'<item><title>{t}</title><guid>0</guid><podcast:transcript url="{u}"/></item>'
        for t, u in (("a", "00"), ("b", "0"), ("c", "0"))
    )
    parsed = read_feed(feed(items), "https://cafe.example/podcast/feed.xml")
    assert [e.title for e in parsed.episodes] == ["a", "b"] and len({e.episode_id for e in parsed.episodes}) == 2
    assert dict(parsed.skipped) == {"c": "duplicate of an earlier item with guid 0"}


def test_declared_non_utf8_encoding_is_honoured():
    data = feed(
        '<item><title>Caf\u00e9 cr\u00e8me</title><guid>x</guid><podcast:transcript url="x.vtt"/></item>',
        encoding="ISO-8859-1",
    )
    parsed = read_feed(data, "https://cafe.example/feed.xml")
    assert parsed.episodes[0].title == "Café crème"


def test_malformed_xml_is_still_read_like_podcast_apps_do():
    data = feed('<item><title>Broken & unescaped</title><guid>x</guid><podcast:transcript url="x.vtt"/></item>')
    parsed = read_feed(data, "https://cafe.example/feed.xml")
    assert [e.transcript for e in parsed.episodes] == ["https://cafe.example/x.vtt"]


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02binary", b"<html><body>not a feed</body></html>", b"plain words"])
def test_not_a_feed_is_a_feed_error(data):
    with pytest.raises(FeedError, match="not a podcast feed"):
        read_feed(data, "https://cafe.example/feed.xml")


def test_transcript_urls_of_a_feed_read_from_disk_resolve_against_it(tmp_path):
    items = "".join(
        f'<item><title>{n}</title><guid>{n}</guid><podcast:transcript url="{url}" type="text/vtt"/></item>'
        for n, url in enumerate(["t.vtt", "//cdn.example/t.vtt", "https://cdn.example/u.vtt"])
    )
    parsed = read_feed(feed(items), str(tmp_path / "feed.xml"))
    assert sorted(e.transcript for e in parsed.episodes) == sorted(
        [str(tmp_path / "t.vtt"), "https://cdn.example/t.vtt", "https://cdn.example/u.vtt"]
    )


def test_episode_links_that_are_not_web_pages_are_dropped():
    items = "".join(
        f'<item><title>{n}</title><guid>{n}</guid><link>{link}</link><podcast:transcript url="{n}.vtt"/></item>'
        for n, link in (("a", "javascript:alert(1)"), ("b", "https://cafe.example/b"))
    )
    links = {e.title: e.link for e in read_feed(feed(items), "https://cafe.example/feed.xml").episodes}
    assert links == {"a": "https://cafe.example/", "b": "https://cafe.example/b"}  # the show's page instead


def test_a_feed_body_naming_a_file_or_a_url_is_not_read_from_there(tmp_path):
    secret = tmp_path / "local-feed.xml"
    secret.write_bytes(feed('<item><title>Private</title><guid>p</guid><podcast:transcript url="p.vtt"/></item>'))
    for body in (str(secret).encode(), b"/dev/zero", b"https://cafe.example/other-feed.xml"):
        with pytest.raises(FeedError, match="not a podcast feed"):
            read_feed(body, "https://cafe.example/feed.xml")


def test_folder_titles_and_numbers_come_from_file_names(tmp_path):
    folder = tmp_path / "my-show"
    folder.mkdir()
    for name in ["042-why-SQLite-wins.vtt", "bonus_episode.srt", "notes.pdf", "007 spies.md"]:
        (folder / name).write_text("x")
    episodes = episodes_from_folder(folder)
    assert [(e.number, e.title) for e in episodes] == [
        (7, "#7: Spies"),
        (42, "#42: Why SQLite Wins"),
        (None, "Bonus Episode"),
    ]
    assert {e.podcast for e in episodes} == {"my-show"}
    assert len({e.episode_id for e in episodes}) == 3


def test_a_folder_reads_its_seasons_skips_hidden_files_and_is_named_however_it_is_typed(tmp_path, monkeypatch):
    folder = tmp_path / "my-show"
    (folder / "season-2").mkdir(parents=True)
    (folder / ".git").mkdir()
    for name in ["001-start.vtt", "._001-start.vtt", ".draft.vtt", "season-2/001-start.vtt", ".git/x.vtt"]:
        (folder / name).write_text("x")
    episodes = episodes_from_folder(folder)
    assert sorted(e.episode_id for e in episodes) == ["my-show/001-start.vtt", "my-show/season-2/001-start.vtt"]
    monkeypatch.chdir(folder)
    assert [e.episode_id for e in episodes_from_folder(Path("."))] == [e.episode_id for e in episodes]
