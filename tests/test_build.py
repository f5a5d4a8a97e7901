import json
import shutil
import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from index.build import KEYWORDS_FILE, SENTENCES_FILE, STORE_FILE, VECTORS_FILE
from index.chunking import ChunkerSettings
from index.errors import IndexLoadError, IndexMismatchError, PodcastIndexError
from index.fetch import Fetcher
from index.layout import IndexLayout
from index.models import Episode
from index.previous import compare
from index.search import Searcher
from index.sources import Collected, collect
from index.store import Store
from tests.helpers import CountingEmbedder, build_folder_index, load_script, write_show

VTT = """WEBVTT

00:00:00.000 --> 00:00:05.000
<v Ann>Welcome back to the garden show. Today we talk about tomatoes.

00:00:05.000 --> 00:00:11.000
<v Ann>Tomatoes need full sun and deep watering twice a week.

00:00:11.000 --> 00:00:18.000
<v Ben>I prune the side shoots every Sunday, and I never water the leaves.

00:00:18.000 --> 00:00:25.000
<v Ann>Compost goes in before planting, never fresh manure.
"""

OTTER = """Ann Gardener 0:02
Bees love lavender more than any other plant in my garden.

Ben Grower 0:09
I keep three hives behind the shed and they make honey every July.
"""


def test_build_publishes_a_self_describing_index(tmp_path):
    episodes = write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT, "002-bees.txt": OTTER})
    embedder = CountingEmbedder()
    report = build_folder_index(episodes, tmp_path / "index", embedder)
    assert (report.episodes, report.skipped) == (2, [])
    assert report.chunks == report.embedded > 2
    live = IndexLayout(tmp_path / "index").current()
    manifest = json.loads((live / "manifest.json").read_text())
    assert manifest["model"] == "test-hash-embedder" and manifest["dimension"] == 64
    assert manifest["counts"] == {
        "episodes": 2,
        "sentences": report.sentences,
        "chunks": report.chunks,
        "boilerplate": 0,
    }
    assert manifest["chunker"]["target_words"] == 20
    assert set(manifest["files"]) == {STORE_FILE, VECTORS_FILE, SENTENCES_FILE, KEYWORDS_FILE}
    # A sentence's vector is what the passages holding it pooled for it (here each sentence's own words).
    sentences = np.load(live / SENTENCES_FILE)
    assert sentences.shape == (report.sentences, 64) and sentences.dtype == np.float16
    with sqlite3.connect(live / STORE_FILE) as conn:
        texts = [row[0] for row in conn.execute("SELECT text FROM sentences ORDER BY id")]
    np.testing.assert_allclose(sentences, embedder._bag_of_words(texts), atol=1e-3)
    searcher = Searcher.open(tmp_path / "index", embedder)
    hits = searcher.search("honey hives lavender", k=1)
    assert hits[0].source_file == "002-bees.txt" and hits[0].speakers
    assert "honey" in " ".join(s.text for s in hits[0].quote)


def test_bad_transcripts_are_skipped_with_file_and_line_and_the_rest_builds(tmp_path):
    episodes = write_show(
        tmp_path / "show",
        {
            "001-tomatoes.vtt": VTT,
            "002-empty.vtt": "",
            "003-backwards.vtt": VTT.replace("00:00:18.000 --> 00:00:25.000", "00:00:01.000 --> 00:00:02.000"),
            "004-prose.txt": "Just some words with no timestamps at all.\nAnd another line.\n",
            "005-truncated.json": '{"version": "1.0.0", "segments": [{"startTime": 1, "body": "hi"',
        },
    )
    report = build_folder_index(episodes, tmp_path / "index", CountingEmbedder())
    assert report.episodes == 1
    skipped = {s.source.rsplit("/", 1)[-1]: s.reason for s in report.skipped}
    assert set(skipped) == {"002-empty.vtt", "003-backwards.vtt", "004-prose.txt", "005-truncated.json"}
    assert "003-backwards.vtt:12" in skipped["003-backwards.vtt"]
    assert "005-truncated.json:1" in skipped["005-truncated.json"]
    assert "skipped" in report.summary() and "003-backwards.vtt" in report.summary()


def test_two_shows_whose_episode_ids_collide_are_both_indexed(tmp_path):
    first = write_show(tmp_path / "garden-show", {"001-tomatoes.vtt": VTT})
    (bees,) = write_show(tmp_path / "bee-show", {"001-bees.txt": OTTER})
    second = [replace(bees, episode_id="1")]  # two feeds whose first items both say <guid>1</guid>
    first = [replace(first[0], episode_id="1")]
    report = build_folder_index([*first, *second], tmp_path / "index")
    assert (report.episodes, report.skipped) == (2, [])
    searcher = Searcher.open(tmp_path / "index", CountingEmbedder())
    assert {e.podcast for e in searcher.store.episodes} == {first[0].podcast, second[0].podcast}
    searcher.close()
    again = build_folder_index([*first, *first], tmp_path / "index")  # the same show twice is a duplicate
    assert again.episodes == 1 and "duplicate episode id" in again.skipped[0].reason


def test_nothing_indexable_is_an_error_and_publishes_nothing(tmp_path):
    episodes = write_show(tmp_path / "show", {"001-empty.vtt": "   "})
    with pytest.raises(PodcastIndexError, match="nothing could be indexed"):
        build_folder_index(episodes, tmp_path / "index", CountingEmbedder())
    assert IndexLayout(tmp_path / "index").current_id() is None


def test_unchanged_rebuild_embeds_nothing_and_an_edit_reembeds_only_what_changed(tmp_path):
    episodes = write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT, "002-bees.txt": OTTER})
    first = build_folder_index(episodes, tmp_path / "index", CountingEmbedder())

    again = CountingEmbedder()
    second = build_folder_index(episodes, tmp_path / "index", again)
    assert again.embedded == [] and second.reused == first.chunks

    (tmp_path / "show" / "002-bees.txt").write_text(OTTER.replace("every July", "every August"))
    edited = CountingEmbedder()
    third = build_folder_index(episodes, tmp_path / "index", edited)
    assert edited.embedded and all("August" in text for text in edited.embedded)
    # Passages carry the show's header; the rest are the new key phrases of the edited chapter's label.
    passages = [text for text in edited.embedded if text.startswith("show: ")]
    assert third.embedded == len(passages) < third.chunks


def test_changing_chunker_settings_is_not_served_from_the_cache(tmp_path):
    episodes = write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT})
    build_folder_index(episodes, tmp_path / "index", CountingEmbedder(), ChunkerSettings(20, 5))
    other = CountingEmbedder()
    report = build_folder_index(episodes, tmp_path / "index", other, ChunkerSettings(200, 5))
    assert report.embedded == report.chunks == len([text for text in other.embedded if text.startswith("show: ")])


def test_a_failing_build_leaves_the_live_index_untouched(tmp_path):
    episodes = write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT})
    build_folder_index(episodes, tmp_path / "index", CountingEmbedder())
    layout = IndexLayout(tmp_path / "index")
    before = layout.current_id()

    class Exploding(CountingEmbedder):
        model_id = "another-model"

        def embed(self, texts):
            raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        build_folder_index(write_show(tmp_path / "show", {"002-bees.txt": OTTER}), tmp_path / "index", Exploding())
    assert layout.current_id() == before
    assert not list(layout.builds.glob(".staging-*"))
    assert Searcher.open(tmp_path / "index", CountingEmbedder()).search("tomatoes")


def test_loading_refuses_another_model_with_a_clear_message(tmp_path):
    build_folder_index(write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT}), tmp_path / "index", CountingEmbedder())

    class Other(CountingEmbedder):
        model_id = "all-MiniLM-L6-v2"
        backend = "torch"

    with pytest.raises(IndexMismatchError, match=r"built with model .test-hash-embedder.*EMBEDDING_MODEL"):
        Searcher.open(tmp_path / "index", Other())


@pytest.mark.parametrize("damage", ["truncate-vectors", "garble-store", "drop-manifest", "bad-pointer"])
def test_damaged_index_is_refused_with_the_reason(tmp_path, damage):
    build_folder_index(write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT}), tmp_path / "index", CountingEmbedder())
    layout = IndexLayout(tmp_path / "index")
    live = layout.current()
    if damage == "truncate-vectors":
        data = (live / VECTORS_FILE).read_bytes()
        (live / VECTORS_FILE).write_bytes(data[: len(data) // 2])
    elif damage == "garble-store":
        with open(live / STORE_FILE, "r+b") as handle:
            handle.seek(200)
            handle.write(b"\xff" * 64)
    elif damage == "drop-manifest":
        (live / "manifest.json").unlink()
    else:
        (tmp_path / "index" / "CURRENT").write_text("no-such-build\n")
    with pytest.raises(IndexLoadError):
        Searcher.open(tmp_path / "index", CountingEmbedder())


def test_only_recent_builds_are_kept(tmp_path):
    episodes = write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT})
    ids = []
    for _ in range(4):
        build_folder_index(episodes, tmp_path / "index", CountingEmbedder())
        ids.append(IndexLayout(tmp_path / "index").current_id())
    remaining = sorted(p.name for p in (tmp_path / "index" / "builds").iterdir())
    assert remaining == sorted(ids[-2:])


def test_an_index_directory_can_be_a_single_build(tmp_path):
    build_folder_index(write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT}), tmp_path / "index", CountingEmbedder())
    copy = tmp_path / "copy"
    shutil.copytree(IndexLayout(tmp_path / "index").current(), copy)
    assert Searcher.open(copy, CountingEmbedder()).search("sun and watering")


def test_an_unread_feed_keeps_what_is_missing_even_under_a_title_another_feed_has():
    read = Episode(episode_id="a", podcast="Cafe", title="A", transcript="https://one.example/a.vtt")
    lost = Episode(episode_id="b", podcast="Cafe", title="B", transcript="https://two.example/b.vtt")
    found = Collected(episodes=[read], complete={"Cafe"}, unread=["https://two.example/feed.xml"])
    changes = compare(found, [read, lost])
    assert changes.removed == [] and changes.kept == [(lost, "could not read https://two.example/feed.xml")]
    assert compare(Collected(episodes=[read], complete={"Cafe"}), [read, lost]).removed == [lost]  # all read


def test_an_empty_folder_keeps_the_episodes_it_had(tmp_path):
    episodes = write_show(tmp_path / "show", {"001-tomatoes.vtt": VTT})
    (tmp_path / "show" / "001-tomatoes.vtt").unlink()  # the share is not mounted this time
    with Fetcher(tmp_path / "http") as fetcher:
        found = collect([], [tmp_path / "show"], fetcher=fetcher)
    changes = compare(found, episodes)
    assert changes.removed == [] and [e for e, _ in changes.kept] == episodes


@pytest.mark.parametrize("gone", ["unmounted", "deleted"])
def test_local_episodes_kept_after_their_file_is_gone_are_in_the_published_build(tmp_path, monkeypatch, gone):
    monkeypatch.chdir(tmp_path)
    for name in ("INDEX_DIR", "CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    script = load_script("build_index")
    monkeypatch.setattr(script, "load_embedder", lambda *args, **kwargs: CountingEmbedder())
    write_show(tmp_path / "garden", {"001-tomatoes.vtt": VTT, "002-beans.vtt": VTT.replace("tomato", "bean")})
    write_show(tmp_path / "kitchen", {"001-bread.vtt": VTT.replace("tomato", "bread")})
    args = ["--transcripts", str(tmp_path / "garden"), "--transcripts", str(tmp_path / "kitchen")]
    args += ["--out", str(tmp_path / "index"), "--quiet"]
    assert script.main(args) == 0
    if gone == "unmounted":  # a share that is not mounted this time: its folder is empty
        (tmp_path / "kitchen" / "001-bread.vtt").unlink()
    else:  # a file deleted on purpose, kept with --keep-missing
        (tmp_path / "garden" / "002-beans.vtt").unlink()
        args.append("--keep-missing")
    assert script.main(args) == 0
    store = Store(IndexLayout(tmp_path / "index").current() / STORE_FILE)
    try:
        assert len(store.episodes) == 3  # what the report calls kept is published, from the copy of the last read
    finally:
        store.close()
