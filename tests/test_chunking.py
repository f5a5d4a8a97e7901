import itertools

from index.chunking import ChunkerSettings, chunk_sentences, chunk_transcript, split_sentences
from index.models import Segment, Sentence


def words(n: int, tag: str = "w") -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def test_sentences_cross_cue_boundaries_and_get_interpolated_times():
    segments = [
        Segment(0.0, "Hello there. This sentence starts", 4.0),
        Segment(4.0, "in one cue and ends in the next. Short one!", 8.0),
    ]
    sentences = split_sentences(segments)
    assert [s.text for s in sentences] == [
        "Hello there.",
        "This sentence starts in one cue and ends in the next.",
        "Short one!",
    ]
    assert sentences[0].start == 0.0
    assert 1.0 < sentences[1].start < 2.5  # a third of the way into the first cue
    assert 6.0 < sentences[2].start < 8.0
    assert all(s.start <= s.end for s in sentences)


def test_speaker_change_always_ends_a_sentence():
    segments = [Segment(0, "I think that", speaker="Ann"), Segment(3, "we agree", speaker="Bob")]
    sentences = split_sentences(segments, duration=6)
    assert [(s.speaker, s.text) for s in sentences] == [("Ann", "I think that"), ("Bob", "we agree")]
    assert sentences[0].end == 3 and sentences[1].end <= 6


def test_unpunctuated_text_is_cut_at_segment_ends_once_long():
    segments = [Segment(float(i * 10), words(20, f"s{i}_"), float(i * 10 + 10)) for i in range(10)]
    sentences = split_sentences(segments)
    assert max(len(s.text.split()) for s in sentences) <= 80
    assert len(sentences) >= 3


def test_chunks_respect_target_and_overlap_by_whole_sentences():
    segments = [
        Segment(float(i * 5), f"Sentence number {i} has exactly seven words.", float(i * 5 + 5)) for i in range(60)
    ]
    chunks = chunk_transcript("ep", segments, ChunkerSettings(target_words=50, overlap_words=14))
    assert len(chunks) > 5
    for chunk in chunks:
        assert 35 <= len(chunk.text.split()) <= 63
        assert chunk.start <= chunk.end
    for previous, following in itertools.pairwise(chunks):
        shared = set(previous.sentences) & set(following.sentences)
        assert 1 <= len(shared) <= 2  # 14 words of overlap = two 7-word sentences at most
        assert following.start > previous.start
    covered = {s for c in chunks for s in c.sentences}
    assert len(covered) == 60  # nothing lost


def test_chunk_prefers_to_end_at_a_speaker_turn():
    sentences = split_sentences(
        [Segment(float(i), f"Point {i} is made here by me today.", float(i + 1), speaker="Ann") for i in range(9)]
        + [
            Segment(float(9 + i), f"Reply {i} comes from the other side.", float(10 + i), speaker="Bob")
            for i in range(9)
        ]
    )
    chunks = chunk_sentences("ep", sentences, ChunkerSettings(target_words=100, overlap_words=0))
    assert chunks[0].speakers == ("Ann",)


def test_chunks_stay_inside_their_episode():
    segments = [Segment(float(i * 3), f"Line {i} of the show.") for i in range(40)]
    chunks = chunk_transcript("ep", segments, ChunkerSettings(30, 10), duration=121.0)
    assert chunks[0].start == 0.0
    assert all(0.0 <= c.start <= c.end <= 121.0 for c in chunks)
    assert {c.episode_id for c in chunks} == {"ep"}


def test_a_huge_run_on_sentence_is_cut_into_timed_pieces():
    segments = [Segment(0.0, words(500) + ".", 100.0)]
    sentences = split_sentences(segments)
    assert max(len(s.text.split()) for s in sentences) <= 60
    assert " ".join(s.text for s in sentences) == words(500) + "."
    assert [s.start for s in sentences] == sorted(s.start for s in sentences)
    assert sentences[-1].start > 80  # timed by position, not all stamped at 0
    chunks = chunk_transcript("ep", segments, ChunkerSettings(100, 20))
    assert len(chunks) >= 5


def test_empty_input_makes_no_chunks():
    assert chunk_transcript("ep", [], ChunkerSettings()) == []


def test_abbreviations_and_initials_do_not_end_a_sentence_and_closers_stay_with_theirs():
    text = (
        "We asked Dr. Smith about the U.S. government, e.g. the J. R. R. Tolkien fans."
        ' He said "stop." Then (it ended.) Ok.'
    )
    assert [s.text for s in split_sentences([Segment(0, text, 10)])] == [
        "We asked Dr. Smith about the U.S. government, e.g. the J. R. R. Tolkien fans.",
        'He said "stop."',
        "Then (it ended.)",
        "Ok.",
    ]
    ends = "Neither did I. We left. Go with plan A. It is cheaper. It was 20 ms. Fast. At 9 p.m. Everyone came."
    assert len(split_sentences([Segment(0, ends, 10)])) == 8  # the pronoun, a plan, a unit, a time end theirs
    cues = [Segment(0, "She told me “it will never work.”", 3), Segment(4, "We shipped it anyway.", 6)]
    assert [(s.start, s.text) for s in split_sentences(cues)] == [
        (0.0, "She told me “it will never work.”"),
        (4.0, "We shipped it anyway."),  # a closing quote at the end of a cue still ends its sentence
    ]
    across = [Segment(0, "We asked Dr.", 3), Segment(4, "Smith about it.", 6)]
    assert [s.text for s in split_sentences(across)] == ["We asked Dr. Smith about it."]
    at_cue_end = [Segment(0, "He grew up in the U.S.", 3), Segment(4, "Next question.", 6)]
    assert [s.start for s in split_sentences(at_cue_end)] == [0.0, 4.0]


def test_chinese_and_japanese_stops_end_sentences_and_their_characters_count_as_words():
    segments = [Segment(i * 3.0, f"我们今天讨论机器学习的问题。这是第{i}句话。", i * 3.0 + 3) for i in range(400)]
    sentences = split_sentences(segments)
    assert len(sentences) == 800 and sentences[1].text == "这是第0句话。" and sentences[2].start == 3.0
    chunks = chunk_sentences("ep", sentences, ChunkerSettings())
    assert max(len(c.text) for c in chunks) < 200  # about 120 characters, as English passages hold 120 words


def test_no_passage_lies_inside_the_one_before_it():
    sentences = [Sentence(0, 8, words(20) + "."), Sentence(8, 32, words(60, "x") + ".")]
    sentences.append(Sentence(32, 72, words(100) + "."))
    chunks = chunk_sentences("ep", sentences, ChunkerSettings())
    assert [c.sentences for c in chunks] == [tuple(sentences[:2]), (sentences[2],)]
