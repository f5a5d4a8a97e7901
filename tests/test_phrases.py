import pytest

from index.search import Searcher
from tests.helpers import CountingEmbedder, build_folder_index, write_show

EPISODES = {
    "001-types.vtt": """WEBVTT

00:00:01.000 --> 00:00:05.000
<v Ann>Type hints help readers. Type-hints help tools too, and TYPE HINTS help me.

00:01:05.000 --> 00:01:09.000
<v Ben>I never write type hints in scripts.
""",
    "002-other.srt": """1
00:00:02,000 --> 00:00:06,000
We talked about hints for typing faster, not type hints... well, once.

2
00:00:10,000 --> 00:00:14,000
Nothing about that here.
""",
    "003-abroad.vtt": """WEBVTT

00:00:03.000 --> 00:00:09.000
We asked Dr. Smith about the U.S. military. The café near the cafe is a café. Straße and STRASSE and straße.
""",
}


@pytest.fixture(scope="module")
def searcher(tmp_path_factory) -> Searcher:
    root = tmp_path_factory.mktemp("phrases")
    build_folder_index(write_show(root / "show", EPISODES), root / "index")
    return Searcher.open(root / "index", CountingEmbedder(), link_template="{link}#t={seconds}")


def test_every_mention_is_counted_per_episode_whatever_the_case_or_punctuation(searcher):
    report = searcher.find_phrase("type hints")
    assert report.total == 5
    assert [(e.title, n) for e, n in report.per_episode] == [("#1: Types", 4), ("#2: Other", 1)]
    first = report.occurrences[0]
    assert (first.episode.title, round(first.start), first.speaker) == ("#1: Types", 1, "Ann")
    assert [round(o.start) for o in report.occurrences] == [1, 2, 65, 2]  # one per sentence, time order


def test_words_out_of_order_or_apart_are_not_the_phrase(searcher):
    assert searcher.find_phrase("hints type").total == 0
    assert searcher.find_phrase("type faster").total == 0


def test_a_phrase_can_be_limited_to_one_episode(searcher):
    only = searcher.find_phrase("type hints", episode="show/002-other.srt")
    assert only.total == 1 and only.per_episode[0][0].key == "show/002-other.srt"


@pytest.mark.parametrize(
    ("phrase", "total"),
    [
        ("", 0),
        ("   ", 0),
        ("!!!", 0),
        ('"', 0),
        # FTS5 syntax is only words: NEAR, OR and column filters would match "type" and "hints" apart, or fail.
        ("NEAR(type hints)", 0),
        ("type* OR hints", 0),
        ("col:type", 0),
        # and its punctuation is punctuation: these are the phrase "type hints", said five times.
        ('"type hints"', 5),
        ("type* hints", 5),
        ("^type hints)", 5),
    ],
)
def test_odd_input_is_inert(searcher, phrase, total):
    report = searcher.find_phrase(phrase)
    assert report.total == total and len(report.occurrences) == (4 if total else 0)


def test_occurrences_are_capped_but_counts_are_not(searcher):
    report = searcher.find_phrase("type hints", limit=1)
    assert report.total == 5 and len(report.occurrences) == 1


@pytest.mark.parametrize(
    ("phrase", "total"),
    [("Dr. Smith", 1), ("dr smith", 1), ("U.S. military", 1), ("cafe", 3), ("Café", 3), ("straße", 3)],
)
def test_abbreviations_accents_and_case_are_counted_as_the_match_is_made(searcher, phrase, total):
    assert searcher.find_phrase(phrase).total == total
