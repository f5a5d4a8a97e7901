"""Chapters: read from the places podcasts publish them, found where there are none, shown with every answer.

Reading and cleaning run on files of our own, hostile ones included; feeds are served over real HTTP on
127.0.0.1 and built with the real model; ID3 chapters ride on the espeak-ng episode of tests/data/audio,
transcribed by the real Whisper tiny.en. Automatic chapters are checked on synthetic vectors (the mechanics) and
on a real Go Time episode against chapters written by hand (eval/chapters).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.render import render_answer, render_episode
from index.build import STORE_FILE
from index.chapters import (
    MAX_CHAPTERS,
    clean_chapters,
    npt_seconds,
    parse_chapters_json,
    read_id3_chapters,
)
from index.episodes import read_feed
from index.errors import ChaptersError
from index.evaluation import segmentation_errors
from index.fetch import Fetcher
from index.layout import IndexLayout
from index.models import Chapter, Sentence
from index.related import related_episodes
from index.search import Searcher
from index.store import Store
from index.topics import Rarity, TopicSettings, auto_chapters, topic_starts
from tests.fake_discord import running_client
from tests.helpers import SAMPLES, CountingEmbedder, load_script
from tests.http_server import Site

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT / "tests" / "data" / "audio"
HAND_WRITTEN = ROOT / "eval" / "chapters"
PODCAST_NS = 'xmlns:podcast="https://podcastindex.org/namespace/1.0"'
PSC_NS = 'xmlns:psc="http://podlove.org/simple-chapters"'


def chapters_file(*chapters: dict) -> bytes:
    return json.dumps({"version": "1.2.0", "chapters": list(chapters)}).encode()


# --- reading and cleaning -----------------------------------------------------------------------------------


def test_the_json_format_of_the_spec_is_read_and_hidden_chapters_left_out():
    data = chapters_file(
        {"startTime": 0, "title": "Intro", "img": "https://x.example/a.jpg"},
        {"startTime": 168.5, "title": "Lock files", "url": "https://x.example/lock"},
        {"startTime": 170, "title": "Silent image", "toc": False},
        {"startTime": 240, "title": "Type hints", "url": "javascript:alert(1)", "endTime": 300},
    )
    assert parse_chapters_json(data, "ch.json") == [
        Chapter(0, "Intro"),
        Chapter(168.5, "Lock files", "https://x.example/lock"),
        Chapter(240, "Type hints"),  # only web links are kept: a chapter's url is shown as a link
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html><body>Not found</body></html>", "not a JSON chapters file (JSONDecodeError"),
        (b'{"version": "1.2.0"}', 'no "chapters" list'),
        (b"[1, 2, 3]", 'no "chapters" list'),
        (b"\xff\xfe\x00garbage", "not a JSON chapters file"),
        (b"[" * 100_000 + b"]" * 100_000, "not a JSON chapters file"),
        (b'{"chapters":[' + b",".join([b'{"startTime":1}'] * 100_000) + b"]}", "100,000 chapters, more than the 500"),
        (chapters_file(*[{"startTime": i, "title": f"chapter {i}"} for i in range(100_000)]), "larger than the 2 MB"),
    ],
)
def test_a_broken_or_hostile_chapters_file_is_refused_with_a_reason(data, reason):
    with pytest.raises(ChaptersError) as caught:
        parse_chapters_json(data, "https://host.example/ep1/chapters.json")
    assert str(caught.value).startswith("https://host.example/ep1/chapters.json: ") and reason in str(caught.value)


def test_chapters_are_fitted_to_their_episode():
    given = [
        Chapter(300, "Wrap-up"),
        Chapter(0, "Intro"),
        Chapter(120, "Backups\nwith a line break\x00 and a NUL " + "x" * 300),
        Chapter(120, "Same start twice"),
        Chapter(-5, "Before the start"),
        Chapter(9999, "Beyond the end"),
        Chapter(200, "   "),
    ]
    cleaned = clean_chapters(given, 400.0, "ch.json")
    assert [c.start for c in cleaned] == [0, 120, 300]  # sorted, inside, one per start, titled
    assert cleaned[1].title.startswith("Backups with a line break and a NUL x") and len(cleaned[1].title) == 200
    with pytest.raises(ChaptersError, match="none of its 2 chapters has a title and starts inside the episode"):
        clean_chapters([Chapter(500, "Late"), Chapter(10, "")], 400.0, "ch.json")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("00:00:00.000", 0), ("01:02:03.5", 3723.5), ("62:03", 3723), ("12.5", 12.5), ("1:00:00", 3600), ("x", None)],
)
def test_podlove_normal_play_time(value, seconds):
    assert npt_seconds(value) == seconds


def test_a_feed_item_links_its_chapters_file_or_writes_podlove_chapters_inline(tmp_path):
    feed = f"""<?xml version="1.0"?><rss version="2.0" {PODCAST_NS} {PSC_NS}><channel><title>Show</title>
    <item><title>One</title><guid>1</guid><podcast:transcript url="one.vtt" type="text/vtt"/>
      <podcast:chapters url="one.chapters.json" type="application/json+chapters"/></item>
    <item><title>Two</title><guid>2</guid><podcast:transcript url="two.vtt" type="text/vtt"/>
      <psc:chapters version="1.2"><psc:chapter start="00:00:00.000" title="Hello"/>
      <psc:chapter start="00:02:30.500" title="Lock files" href="https://x.example/lock"/></psc:chapters></item>
    </channel></rss>""".encode()
    one, two = read_feed(feed, str(tmp_path / "feed.xml")).episodes
    assert one.chapters_url == str(tmp_path / "one.chapters.json") and one.chapters == ()
    assert two.chapters_url is None
    assert two.chapters == (Chapter(0, "Hello"), Chapter(150.5, "Lock files", "https://x.example/lock"))


def id3_tagged(source: Path, target: Path, chapters: list[tuple[float, float, str]]) -> Path:
    """A copy of `source` with ID3 CHAP frames (listed backwards in the file, in order in the CTOC)."""
    from mutagen.id3 import CHAP, CTOC, ID3, TIT2, WXXX, CTOCFlags

    shutil.copy(source, target)
    tags = ID3()
    ids = [f"ch{i}" for i in range(len(chapters))]
    for element_id, (start, end, title) in reversed(list(zip(ids, chapters, strict=True))):
        sub = [TIT2(text=[title]), WXXX(desc="", url=f"https://garden.example/{element_id}")]
        tags.add(CHAP(element_id=element_id, start_time=int(start * 1000), end_time=int(end * 1000), sub_frames=sub))
    tags.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids))
    tags.save(target)
    return target


GARDEN_CHAPTERS = [(0, 68, "Bees on the roof"), (68, 98, "Tomatoes in buckets"), (98, 107, "Next week")]


def test_id3_chapters_are_read_from_the_audio(tmp_path):
    tagged = id3_tagged(AUDIO / "episode.mp3", tmp_path / "tagged.mp3", GARDEN_CHAPTERS)
    chapters = sorted(read_id3_chapters(tagged, "tagged.mp3"), key=lambda c: c.start)
    assert [(c.start, c.title, c.url) for c in chapters] == [
        (0, "Bees on the roof", "https://garden.example/ch0"),
        (68, "Tomatoes in buckets", "https://garden.example/ch1"),
        (98, "Next week", "https://garden.example/ch2"),
    ]
    assert read_id3_chapters(AUDIO / "clip-8k-mono.wav", "clip.wav") == []  # no ID3 tag: no chapters


# --- automatic chapters and related episodes: the mechanics ---------------------------------------------------


def topical(topics: list[tuple[int, int]], *, noise: float = 0.35, seconds_each: float = 10.0, dimension: int = 16):
    """Sentences that talk about topic t (a direction of its own, plus noise) for the given counts."""
    rng = np.random.default_rng(0)
    sentences, vectors, clock = [], [], 0.0
    for topic, count in topics:
        for _ in range(count):
            sentences.append(Sentence(clock, clock + seconds_each, f"sentence about topic {topic}", None))
            vector = np.eye(dimension)[topic] + noise * rng.standard_normal(dimension)
            vectors.append(vector / np.linalg.norm(vector))
            clock += seconds_each
    return sentences, np.asarray(vectors, dtype=np.float32)


def test_the_talk_is_cut_where_its_subject_changes():
    sentences, vectors = topical([(0, 60), (1, 45), (2, 70)])  # changes at 10:00 and 17:30
    starts = [sentences[i].start for i in topic_starts(sentences, vectors, TopicSettings())]
    assert starts[0] == 0 and len(starts) == 3
    assert abs(starts[1] - 600) <= 20 and abs(starts[2] - 1050) <= 20
    reference = [0, 600, 1050]
    assert segmentation_errors(reference, starts, sentences[-1].end)[0] < 0.05
    assert segmentation_errors(reference, [0], sentences[-1].end)[0] > 0.3


def test_one_subject_or_a_short_episode_is_one_chapter():
    one_subject, vectors = topical([(0, 200)], noise=0.15)  # every sentence near its subject (cosine about 0.85)
    assert topic_starts(one_subject, vectors, TopicSettings()) == [0]
    short, vectors = topical([(0, 10), (1, 10)])  # 200 s: shorter than two chapters of the minimum length
    assert topic_starts(short, vectors, TopicSettings()) == [0]


def test_related_episodes_are_the_nearest_with_the_closest_chapter_as_the_reason():
    axis = np.eye(4, dtype=np.float32)
    episodes = [axis[0], (axis[0] + axis[1]) / np.sqrt(2), axis[2], None]
    chapters = [[axis[0]], [axis[2], axis[0]], [axis[2]], []]
    found = related_episodes(episodes, chapters, keep=2)
    assert [(r.other, r.chapter) for r in found[0]] == [(1, 1), (2, 0)]  # episode 1's chapter on axis 0
    assert found[3] == []  # nothing but boilerplate: related to nothing


# --- published chapters through a real feed, shown with the answers ------------------------------------------

SAMPLE_ITEMS = {
    "sqlite": ("001-sqlite-in-production.vtt", "text/vtt"),
    "packaging": ("002-packaging-python-apps.txt", "text/plain"),
    "discord": ("003-running-a-discord-community.json", "application/json"),
    "search": ("004-search-for-podcasts.srt", "application/srt"),
}
SQLITE_CHAPTERS = chapters_file(  # out of order, one beyond the episode, titles that try to ping and format
    {
        "startTime": 200,
        "title": "Backups with @everyone and <@&123456789012345678> **now**",
        "url": "https://tinystack.example/b",
    },
    {"startTime": 0, "title": "Meet Marta"},
    {"startTime": 99_999, "title": "After the end"},
    {"startTime": 330, "title": "When not to use SQLite"},
)


def chapter_feed(site: Site) -> bytes:
    def item(key: str, extra: str = "") -> str:
        name, kind = SAMPLE_ITEMS[key]
        site.put(f"/{name}", (SAMPLES / "transcripts" / name).read_bytes())
        return (
            f"<item><title>{key.title()}</title><guid>{key}</guid><link>https://tinystack.example/{key}</link>"
            f'<podcast:transcript url="{name}" type="{kind}"/>{extra}</item>'
        )

    site.put("/sqlite.json", SQLITE_CHAPTERS)
    site.put("/search.json", b"<html>502 Bad Gateway</html>")
    site.put("/huge.json", chapters_file(*[{"startTime": i, "title": "x"} for i in range(MAX_CHAPTERS + 1)]))
    items = [
        item("sqlite", '<podcast:chapters url="sqlite.json" type="application/json+chapters"/>'),
        item(
            "packaging",
            '<psc:chapters version="1.2"><psc:chapter start="0" title="Hello"/>'
            '<psc:chapter start="02:48" title="Installing the artifact"/></psc:chapters>',
        ),
        item("discord"),
        item("search", '<podcast:chapters url="search.json" type="application/json+chapters"/>'),
    ]
    hive = (ROOT / "tests" / "data" / "transcripts" / "sample.vtt").read_bytes()
    site.put("/hive.vtt", hive)
    items.append(
        '<item><title>Hive</title><guid>hive</guid><podcast:transcript url="hive.vtt" type="text/vtt"/>'
        '<podcast:chapters url="huge.json" type="application/json+chapters"/></item>'
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0" {PODCAST_NS} {PSC_NS}><channel><title>The Tiny Stack</title>'
        "<link>https://tinystack.example/</link>" + "".join(items) + "</channel></rss>"
    ).encode()


@pytest.fixture(scope="module")
def chaptered(tmp_path_factory, real_embedder):
    """The sample show served over HTTP with chapters in every form (and broken ones), built with the real
    model by build_index.py; yields (index dir, the build's report)."""
    out = tmp_path_factory.mktemp("chaptered") / "index"
    script = load_script("build_index")
    script.load_embedder = lambda *args, **kwargs: real_embedder
    script.Fetcher = functools.partial(Fetcher, read_timeout=2, retries=1, backoff=0.01, sleep=lambda _: None)
    with Site() as site:
        site.put("/feed.xml", chapter_feed(site))
        import contextlib
        import io

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = script.main(["--feed", site.url("/feed.xml"), "--out", str(out), "--quiet"])
        assert code == 0
        yield out, printed.getvalue()


def test_a_build_reads_published_chapters_and_says_which_files_it_left_out(chaptered):
    out, printed = chaptered
    assert "chapters: 2 episodes published theirs, 3 got automatic ones" in printed
    assert re.search(r"Search: chapters skipped: http://127\.0\.0\.1:\d+/search\.json .*: not a JSON chapters", printed)
    assert re.search(r"Hive: chapters skipped: .*/huge\.json: 501 chapters, more than the 500", printed)
    store = Store(IndexLayout(out).current() / STORE_FILE)
    try:
        by_title = {e.title: store.chapters(e) for e in store.episodes}
    finally:
        store.close()
    assert [(c.start, c.title, c.auto) for c in by_title["Sqlite"]] == [
        (0, "Meet Marta", False),
        (200, "Backups with @everyone and <@&123456789012345678> **now**", False),
        (330, "When not to use SQLite", False),
    ]
    assert by_title["Sqlite"][1].end == 330 and by_title["Sqlite"][1].url == "https://tinystack.example/b"
    assert [(c.start, c.title) for c in by_title["Packaging"]] == [(0, "Hello"), (168, "Installing the artifact")]
    for auto in ("Discord", "Search", "Hive"):
        assert by_title[auto] and all(c.auto for c in by_title[auto]) and by_title[auto][0].start == 0


def test_every_answer_names_its_chapter_and_nobody_is_pinged(chaptered, real_embedder, capsys):
    out, _ = chaptered
    query = load_script("query")
    query.load_embedder = lambda *args, **kwargs: real_embedder
    assert query.main(["--index", str(out), "--json", "-k", "1", "What backup tool does Marta recommend?"]) == 0
    (hit,) = json.loads(capsys.readouterr().out)["hits"]
    assert hit["chapter"] == "Backups with @everyone and <@&123456789012345678> **now**" and hit["chapter_start"] == 200
    assert hit["chapter_auto"] is False and hit["quote_start"] >= 200

    assert query.main(["--index", str(out), "--json", "-k", "1", "how do they keep spam out of the server?"]) == 0
    (auto,) = json.loads(capsys.readouterr().out)["hits"]
    assert auto["episode_title"] == "Discord" and auto["chapter_auto"] is True and auto["chapter"]

    searcher = Searcher.open(out, real_embedder)
    try:
        (best,) = searcher.search("What backup tool does Marta recommend?", k=1)
    finally:
        searcher.close()
    (embed,) = render_answer("q", [best]).embeds
    line = embed.description.splitlines()[1]
    assert line.startswith(
        "in *Backups with @\u200beveryone and <@\u200b&123456789012345678> \\*\\*now\\*\\** · [3:20]("
    )
    assert "#t=200)" in line and "(automatic chapter)" not in line


def test_an_episode_card_lists_chapters_with_links_and_related_episodes(chaptered, real_embedder):
    out, _ = chaptered
    searcher = Searcher.open(out, real_embedder)
    try:
        rows = {e.title: e for e in searcher.store.episodes}
        card = searcher.episode_card(rows["Sqlite"])
        auto_card = searcher.episode_card(rows["Discord"])
        none_in_scope = searcher.episode_card(rows["Sqlite"], podcasts=("Another Show",))
    finally:
        searcher.close()
    embed = render_episode(card).to_dict()
    lines = embed["description"].splitlines()
    assert lines[0] == "**Chapters**"
    assert lines[1] == "[0:00](https://tinystack.example/sqlite#t=0) Meet Marta"
    assert lines[2].startswith("[3:20](https://tinystack.example/sqlite#t=200) Backups with @\u200beveryone")
    assert 1 <= len(card.related) <= 4 and "Sqlite" not in {r.episode.title for r in card.related}
    related = {f["name"]: f["value"] for f in embed["fields"]}["Related episodes"]
    assert related.count("• ") == len(card.related) and " — in *" in related
    assert (
        render_episode(auto_card)
        .to_dict()["description"]
        .startswith("**Chapters** (automatic: key phrases from each part)")
    )
    assert none_in_scope.related == []


# --- ID3 chapters of transcribed audio ---------------------------------------------------------------------------


@pytest.mark.parametrize("transcribed_first", [False, True], ids=["by-the-build", "by-transcribe.py-first"])
def test_the_id3_chapters_of_transcribed_audio_are_the_episodes_chapters(tmp_path, monkeypatch, transcribed_first):
    monkeypatch.chdir(tmp_path)
    for name in ("INDEX_DIR", "CACHE_DIR", "WHISPER_MODEL", "WHISPER_COMPUTE_TYPE"):
        monkeypatch.delenv(name, raising=False)
    id3_tagged(AUDIO / "episode.mp3", tmp_path / "tagged.mp3", GARDEN_CHAPTERS)
    if transcribed_first:  # the build then finds these bytes in the shared transcript cache
        monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
        assert load_script("transcribe").main([str(tmp_path / "tagged.mp3"), "--out", str(tmp_path / "vtt")]) == 0
    script = load_script("build_index")
    script.load_embedder = lambda *args, **kwargs: CountingEmbedder()
    out = tmp_path / "index"
    with Site(tmp_path) as site:
        site.put(
            "/feed.xml",
            (
                f'<?xml version="1.0"?><rss version="2.0" {PODCAST_NS}><channel><title>Garden Notes</title>'
                "<item><title>Bees</title><guid>g1</guid><link>https://garden.example/1</link>"
                '<enclosure url="tagged.mp3" type="audio/mpeg" length="1"/></item></channel></rss>'
            ).encode(),
        )
        for _ in range(2):  # the second run reads the audio's chapters from the transcript cache (a 304)
            assert script.main(["--feed", site.url("/feed.xml"), "--out", str(out), "--quiet", "--transcribe"]) == 0
            store = Store(IndexLayout(out).current() / STORE_FILE)
            try:
                (episode,) = store.episodes
                chapters = [(c.start, c.title, c.auto) for c in store.chapters(episode)]
            finally:
                store.close()
            assert chapters == [
                (0, "Bees on the roof", False),
                (68, "Tomatoes in buckets", False),
                (98, "Next week", False),
            ]
        assert site.statuses("/tagged.mp3")[-1] == 304


# --- automatic chapters on a real episode --------------------------------------------------------------------


def test_automatic_chapters_of_a_real_episode_beat_evenly_spaced_ones(network_index):
    """Go Time #250 (tests/data/corpus) against the chapters written by hand from its transcript."""
    reference = [c["startTime"] for c in json.loads((HAND_WRITTEN / "go-time-250.json").read_text())["chapters"]]
    store = Store(IndexLayout(network_index).current() / STORE_FILE)
    try:
        episode = next(e for e in store.episodes if e.source_file == "go-time-250.md")
        chapters = store.chapters(episode)
        said = {}  # the words said in each chapter
        for c in chapters:
            rows = store.query(
                "SELECT text FROM sentences WHERE episode_id = ? AND start >= ? AND start < ?",
                [episode.id, c.start, c.end],
            )
            said[c.start] = " ".join(re.findall(r"[\w+#.'-]+", " ".join(r["text"] for r in rows).lower()))
    finally:
        store.close()
    duration = episode.duration
    found = [c.start for c in chapters]
    evenly = [duration * i / len(found) for i in range(len(found))]
    assert all(c.auto for c in chapters) and 5 <= len(chapters) <= 25
    pk, _ = segmentation_errors(reference, found, duration)
    assert pk < segmentation_errors(reference, evenly, duration)[0] - 0.05, pk
    for chapter in chapters:  # every label is words said in its own chapter
        for phrase in chapter.title.split(", "):
            assert phrase.lower() in said[chapter.start], (chapter.title, phrase)


def test_labels_are_key_phrases_of_their_own_part(real_embedder):
    talk = {
        "bees": "We keep two hives of bees on the roof. The bees make honey. City honey tastes of lime trees.",
        "tomatoes": "The tomatoes grow in buckets. Tomatoes need bigger buckets. The tomato leaves turned yellow.",
    }
    sentences, clock = [], 0.0
    for words in talk.values():
        for text in words.split(". ") * 12:
            sentences.append(Sentence(clock, clock + 5, text, None))
            clock += 5
    vectors = real_embedder.embed([s.text for s in sentences])
    chapters = auto_chapters(
        sentences, vectors, real_embedder.embed, Rarity.of([sentences]), TopicSettings(window=60, min_length=60)
    )
    assert len(chapters) == 2 and chapters[0].start == 0 and all(c.auto for c in chapters)
    assert re.search(r"\b(bees|honey|hives)\b", chapters[0].title, re.IGNORECASE), chapters[0].title
    assert re.search(r"\b(tomato(es)?|buckets)\b", chapters[1].title, re.IGNORECASE), chapters[1].title


@pytest.mark.asyncio
async def test_the_episode_command_shows_chapters_and_related_episodes_and_pings_nobody(
    chaptered, fake_discord, settings, make_bot
):
    out, _ = chaptered
    async with running_client(make_bot(settings.model_copy(update={"index_dir": out})), fake_discord, wait="guilds"):
        card = await fake_discord.slash("episode", {"title": "Sqlite"})
        body = (await card.callback()).json["data"]
    assert body["allowed_mentions"] == {"parse": []}
    (embed,) = body["embeds"]
    assert embed["title"] == "Sqlite" and embed["description"].startswith("**Chapters**\n[0:00](")
    assert "@\u200beveryone" in embed["description"] and "**now**" not in embed["description"]
    related = next(f["value"] for f in embed["fields"] if f["name"] == "Related episodes")
    assert related.startswith("• ") and "(automatic chapter)" in related


def test_labels_keep_words_of_any_script_whole():
    def embed(texts):  # any unit vectors: with one chapter the label is the episode's rarest phrases
        vectors = np.random.default_rng(len(texts)).normal(size=(len(texts), 8)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    decomposed = "Poke\u0301mon"  # as some editors write it: NFD, an accent apart from its letter
    texts = [f"We collected {decomposed} cards as kids.", "Pokémon cards are expensive now.", "A résumé from Zürich."]
    sentences = [Sentence(i * 5.0, i * 5.0 + 5, t) for i, t in enumerate(texts)]
    rarity = Rarity.of([sentences, [Sentence(0, 5, "Nothing in common here at all.")]])
    (chapter,) = auto_chapters(sentences, embed(texts), embed, rarity)
    assert "Pokémon" in chapter.title and "Pok " not in chapter.title, chapter.title


def test_joiners_inside_emoji_and_words_are_kept_in_titles():
    titles = ["👨\u200d👩\u200d👧 Family news", "می\u200cخواهم بروم", "Zero\u200bwidth space"]
    cleaned = clean_chapters([Chapter(i * 10.0, t) for i, t in enumerate(titles)], 100.0, "ch.json")
    assert [c.title for c in cleaned] == [*titles[:2], "Zero width space"]
