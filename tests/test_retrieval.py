"""Keyword search, spelling variants, fusion and the evaluation metrics, on small indexes we write."""

import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from index.chunking import ChunkerSettings
from index.errors import IndexLoadError
from index.evaluation import (
    Question,
    first_answer_rank,
    load_questions,
    mrr_interval,
    paired_difference,
    quote_answers,
    score,
)
from index.fusion import keyword_bonus, reciprocal_rank
from index.keyword import COLUMN_WEIGHTS, KeywordIndex, KeywordIndexWriter, spelling_variants
from index.models import Hit, Sentence
from index.search import Searcher, SearchOptions
from index.text import soundex
from tests.helpers import CountingEmbedder, build_folder_index, write_show

EPISODES = {
    "001-async.vtt": """WEBVTT

00:00:00.000 --> 00:00:10.000
<v Host>Today we talk about async Python and the event loop.

00:00:10.000 --> 00:00:20.000
<v Guest>David Beasley gave a famous talk about the GIL years ago.

00:00:20.000 --> 00:00:30.000
<v Guest>We deploy with Gunnicorn workers behind a proxy.
""",
    "002-desk.vtt": """WEBVTT

00:00:00.000 --> 00:00:10.000
<v Host>My standing desk changed how I work every day.

00:00:10.000 --> 00:00:20.000
<v Guest>Dask scales pandas dataframes across a cluster.
""",
}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    root = tmp_path_factory.mktemp("retrieval")
    out = root / "index"
    chunker = ChunkerSettings(target_words=8, overlap_words=0, title_header=False)
    build_folder_index(write_show(root / "show", EPISODES), out, chunker=chunker)
    return Searcher.open(out, CountingEmbedder())


def test_asr_spellings_of_names_are_found_for_the_correct_spelling(searcher):
    assert spelling_variants(searcher.keywords, "beazley") == ["beasley"]
    assert spelling_variants(searcher.keywords, "gunicorn") == ["gunnicorn"]
    hits = searcher.search("David Beazley's talk", k=1, mode="keyword")
    assert hits and "Beasley" in hits[0].text
    plain = Searcher(searcher.build_dir, CountingEmbedder(), options=SearchOptions(fuzzy=False))
    assert all("Beasley" not in h.text for h in plain.search("Beazley", k=3, mode="keyword"))


def test_ordinary_words_are_not_taken_for_misspellings(searcher):
    assert spelling_variants(searcher.keywords, "dask") == []  # "desk" is a word of its own
    assert spelling_variants(searcher.keywords, "ok") == []


def test_a_typo_in_the_question_is_corrected_to_the_index_spelling(searcher):
    assert spelling_variants(searcher.keywords, "pandsa") == ["pandas"]


def test_fts_syntax_in_questions_is_inert(searcher):
    for question in ['"unbalanced', "NEAR(a b)", "a* OR b:", "col:value ^start", "-", "AND OR NOT"]:
        searcher.search(question, k=3, mode="keyword")  # must not raise
    assert searcher.keywords.search("what is it?", k=3) == []  # only stop words: nothing to match


def test_keyword_scores_are_sqlite_fts5_bm25_with_column_weights(tmp_path):
    """With FTS5's k1 and b, the eager scores equal what SQLite's own bm25() gives the same passages, tokenized and
    stemmed alike: the formula, column weights and tokens are FTS5's; only the two constants are ours."""
    passages = [
        ("Bees make honey, and honey keeps.", ["Ada"], "Bees"),
        ("A camera counted the bees at the hive's door: café-grade data!", ["Tom", "Ada"], "Counting"),
        ("Honey.", [], "Honey harvesting"),
        ("Nothing about that at all here today, friends.", ["Tom"], "Other"),
    ]
    writer = KeywordIndexWriter(k1=1.2, b=0.75)  # FTS5's fixed values
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5(text, speakers, title, tokenize='porter unicode61 remove_diacritics 2')"
    )
    for i, (text, speakers, title) in enumerate(passages):
        writer.add(i, text, speakers, title)
        conn.execute(
            "INSERT INTO t (rowid, text, speakers, title) VALUES (?, ?, ?, ?)", (i, text, " ".join(speakers), title)
        )
    writer.save(tmp_path / "k.npz")
    index = KeywordIndex(tmp_path / "k.npz", passages=len(passages))
    weights = ", ".join(map(str, COLUMN_WEIGHTS))
    for query in ("honey", "bee cameras", "ada honey", "harvest door", "cafe counting"):
        expression = " OR ".join(f'"{w}"' for w in query.split())
        fts = conn.execute(f"SELECT rowid, -bm25(t, {weights}) FROM t WHERE t MATCH ? ORDER BY 2 DESC", (expression,))
        expected = [(i, pytest.approx(score, rel=1e-5)) for i, score in fts]
        assert index.search(query, k=10, fuzzy=False) == expected, query
    assert index.search("honey", k=1, fuzzy=False, allowed=np.array([False, True, True, True]))[0][0] == 2


def test_a_repeated_word_counts_for_less_than_in_fts5(tmp_path):
    """Speech repeats words: saying "honey" three times is less evidence than FTS5's constants make it."""
    passages = ["honey honey honey bread milk tea", "honey bread milk tea cake jam", "bread milk tea cake jam rice"]

    def repeat_ratio(writer: KeywordIndexWriter, name: str) -> float:
        for i, text in enumerate(passages):
            writer.add(i, text, [], "")
        writer.save(tmp_path / name)
        scores = dict(KeywordIndex(tmp_path / name, passages=3).search("honey", k=3, fuzzy=False))
        assert set(scores) == {0, 1}
        return scores[0] / scores[1]

    ours = repeat_ratio(KeywordIndexWriter(), "ours.npz")
    assert 1.0 < ours < repeat_ratio(KeywordIndexWriter(k1=1.2, b=0.75), "fts5.npz")


def test_episode_scores_count_a_words_rarity_inside_the_passages_episode(tmp_path):
    """A word said all through an episode points at the episode, not at one of its moments."""
    passages = [
        "pydantic validates data",  # episode 0: pydantic everywhere, raspberry once
        "pydantic models are classes",
        "pydantic wheels install on a raspberry pi",
        "pydantic settings read the environment",
        "our raspberry pi runs the home lab",  # episode 1: raspberry everywhere, pydantic once
        "the raspberry pi case got hot",
        "a raspberry pi cluster with pydantic configs",
        "raspberry pi sensors in the garden",
    ]
    episode_of = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    writer = KeywordIndexWriter()
    for i, text in enumerate(passages):
        writer.add(i, text, [], "")
    writer.save(tmp_path / "k.npz")
    index = KeywordIndex(tmp_path / "k.npz", passages=len(passages))
    every = np.arange(len(passages))
    local = index.episode_scores("pydantic raspberry", every, episode_of, fuzzy=False)

    assert local[2] > 10 * max(local[[0, 1, 3]])  # in episode 0 only "raspberry" sets passage 2 apart
    assert local[6] > 10 * max(local[[4, 5, 7]])  # and in episode 1 only "pydantic" sets passage 6 apart
    assert local[:4].argmax() == 2 and local[4:].argmax() == 2
    # Globally both words are in half the passages; within one episode, the index's own scores come back.
    one_episode = index.episode_scores("pydantic raspberry", every, np.zeros(8, dtype=np.int64), fuzzy=False)
    whole = dict(index.search("pydantic raspberry", k=8, fuzzy=False))
    assert one_episode.tolist() == pytest.approx([whole.get(i, 0.0) for i in every], rel=1e-5)
    assert index.episode_scores("nothing matches", every, episode_of).tolist() == [0.0] * 8
    assert index.episode_scores("what is the", every, episode_of).tolist() == [0.0] * 8  # stopwords only
    assert index.episode_scores("pydantic", np.array([], dtype=np.int64), episode_of).shape == (0,)
    long_question = " ".join(["pydantic raspberry"] * 500)  # repeated words count once, as in search()
    assert index.episode_scores(long_question, every, episode_of).tolist() == pytest.approx(local.tolist())


CONTRAST_SHOW = {
    "001-pydantic.vtt": """WEBVTT

00:00:00.000 --> 00:00:10.000
<v Host>Does pydantic install on a laptop? Pydantic install is easy.

00:03:20.000 --> 00:03:30.000
<v Guest>Pydantic models install cleanly with pip.

00:06:40.000 --> 00:06:50.000
<v Guest>The wheels even work on a Raspberry Pi board, after years of compilers, toolchains and cross builds.

00:10:00.000 --> 00:10:10.000
<v Host>Pydantic settings read the environment.
""",
    "002-garden.vtt": """WEBVTT

00:00:00.000 --> 00:00:10.000
<v Host>Sensors in the garden water the tomatoes.
""",
}


def test_episode_contrast_orders_moments_but_leaves_the_scores_the_floor_judges(tmp_path):
    """The words rare in an episode pick its moment; the match score (and so the floor) stays as it was."""
    out = tmp_path / "index"
    chunker = ChunkerSettings(target_words=8, overlap_words=0, title_header=False)
    build_folder_index(write_show(tmp_path / "show", CONTRAST_SHOW), out, chunker=chunker)
    question = "does pydantic install on a raspberry pi"

    def page(weight: float):
        searcher = Searcher.open(out, CountingEmbedder(), options=SearchOptions(episode_contrast=weight))
        try:
            return searcher.search_page(question, k=5, quotes=False)
        finally:
            searcher.close()

    plain, contrasted = page(0.0), page(1.0)
    assert plain.hits[0].start == 0.0  # says "pydantic install" most, so it matches the words best
    assert contrasted.hits[0].start == 400.0  # "raspberry pi" is what sets a moment of this episode apart
    assert {h.chunk_id: h.score for h in contrasted.hits} == {h.chunk_id: h.score for h in plain.hits}
    assert contrasted.top_score == plain.top_score == max(h.score for h in plain.hits)
    dense = Searcher.open(out, CountingEmbedder(), options=SearchOptions(episode_contrast=1.0))
    assert dense.search(question, mode="dense", quotes=False)[0].start == 0.0  # hybrid only
    dense.close()


def test_a_keyword_index_of_another_build_is_refused(tmp_path):
    writer = KeywordIndexWriter()
    writer.add(0, "one passage", [], "title")
    writer.save(tmp_path / "k.npz")
    with pytest.raises(IndexLoadError, match="does not match the build's 5 passages"):
        KeywordIndex(tmp_path / "k.npz", passages=5)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(IndexLoadError, match="unreadable keyword index"):
        KeywordIndex(tmp_path / "bad.npz", passages=1)


def test_soundex_matches_names_that_sound_alike():
    assert soundex("Beazley") == soundex("Beasley") == "B240"
    assert soundex("pandas") == soundex("pondos")
    assert soundex("") == ""


def test_keyword_bonus_keeps_the_cosine_scale():
    fused = dict(keyword_bonus({1: 0.5, 2: 0.4, 3: 0.45}, {2: 10.0, 3: 5.0}, weight=0.1))
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.5})
    assert dict(keyword_bonus({1: 0.3}, {}, weight=0.1)) == {1: 0.3}


def test_reciprocal_rank_fusion_rewards_agreement():
    fused = reciprocal_rank([[1, 2, 3], [3, 1]])
    assert [i for i, _ in fused] == [1, 3, 2]


def hit(source: str, start: float, end: float) -> Hit:
    return Hit(0, "e", "t", "p", source, start, end, None, 0.5, [])


def test_a_hit_answers_when_it_overlaps_the_gold_window_with_tolerance():
    question = Question("q", "?", "a.vtt", 100, 120)
    assert first_answer_rank([hit("b.vtt", 100, 120), hit("a.vtt", 130, 200)], question) == 2
    assert first_answer_rank([hit("a.vtt", 136, 200)], question) is None
    assert first_answer_rank([hit("a.vtt", 0, 84)], question) is None
    assert first_answer_rank([hit("a.vtt", 0, 86)], question) == 1


def test_a_quote_answers_when_it_overlaps_the_gold_window_wherever_its_passage_lies():
    question = Question("q", "?", "a.vtt", 100, 120)
    passage = Hit(0, "e", "t", "p", "a.vtt", 0, 200, None, 0.5, [Sentence(0, 40, "Intro."), Sentence(95, 110, "It.")])
    assert quote_answers(replace(passage, quote_first=1, quote_last=1), question)
    assert not quote_answers(replace(passage, quote_first=0, quote_last=0), question)  # the link lands at 0:00
    assert not quote_answers(replace(passage, quote_first=1, quote_last=1, source_file="b.vtt"), question)


def test_scores_are_recall_at_cutoffs_and_mrr():
    scores = score([1, 3, None, 11])
    assert scores.recall == {1: 0.25, 3: 0.5, 5: 0.5, 10: 0.5}
    assert scores.mrr == pytest.approx((1 + 1 / 3) / 4)


def test_a_paired_difference_counts_questions_that_rose_and_fell_with_an_interval_around_the_change():
    base, other = [1, 2, None, 1, 4, 11], [1, 1, None, 3, 4, 2]
    difference = paired_difference(base, other)
    assert (difference.better, difference.worse) == (2, 1)  # 2 -> 1 and beyond the cutoffs -> 2; 1 -> 3
    assert difference.mrr == pytest.approx(((1 - 1 / 2) + (1 / 3 - 1) + 1 / 2) / 6)
    assert difference.low < 0 < difference.mrr < difference.high  # three questions moved: no sign to trust
    same = paired_difference(base, base)
    assert (same.better, same.worse, same.mrr, same.low, same.high) == (0, 0, 0.0, 0.0, 0.0)
    assert same.cell() == "+0 -0, +0.000 [+0.000, +0.000]"


def test_a_clean_sweep_has_an_interval_above_zero_and_an_mrr_interval_brackets_the_mrr():
    base, other = [2] * 30, [1] * 30
    assert paired_difference(base, other).low == pytest.approx(0.5)  # every question rose by the same amount
    ranks = [1, 2, None, 5, 1, 3, 1, None, 2, 1]
    low, high = mrr_interval(ranks)
    assert low < score(ranks).mrr < high
    assert mrr_interval(ranks) == (low, high)  # seeded: the same numbers every run
    assert mrr_interval([1] * 8) == (1.0, 1.0)
    assert mrr_interval([]) == (0.0, 0.0) and paired_difference([], []).cell() == "+0 -0, +0.000 [+0.000, +0.000]"


def test_question_files_name_the_bad_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": 1, "question": "a"}\nnot json\n')
    with pytest.raises(ValueError, match=r"q\.jsonl:2"):
        load_questions(path)
