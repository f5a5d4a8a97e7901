"""Bad input: one domain error naming the file and line, bounded work, and nothing else ever escapes."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.errors import TranscriptError
from index.parsing import parse_transcript
from index.parsing.decode import MAX_INPUT_BYTES, MAX_LINES
from tests.fuzzing import FUZZ, mutated
from tests.helpers import CORPUS, SAMPLES

DATA = Path(__file__).parent / "data" / "transcripts"


def error_for(data: bytes | str, source: str, hint: str | None = None) -> TranscriptError:
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(data, source, hint=hint)
    assert source in str(caught.value)
    return caught.value


def fixture_with(name: str, old: str, new: str) -> str:
    text = (DATA / name).read_text(encoding="utf-8-sig")
    assert old in text
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


VTT_CUES = "WEBVTT\n\n00:01:00.000 --> 00:01:02.000\nHi.\n\n"


@pytest.mark.parametrize(
    ("source", "text", "bad_line", "reason"),
    [
        ("bad-arrow.vtt", VTT_CUES + "2\n00:00:03.000 -> 00:00:04.000\nHo.\n", 7, "timing line"),
        ("bad-time.vtt", VTT_CUES + "00:00:0x.000 --> 00:00:04.000\nHo.\n", 6, "malformed"),
        ("bad-end.vtt", "WEBVTT\n\n00:00:01.000 --> \nHi.\n", 3, "malformed"),
        ("bad-seconds.vtt", "WEBVTT\n\n00:00:61.000 --> 00:01:02.000\nHi.\n", 3, "malformed"),
        ("reversed.vtt", "WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nHi.\n", 3, "ends before it starts"),
        ("backwards.vtt", VTT_CUES + "00:00:00.000 --> 00:00:02.000\nHo.\n", 6, "backwards"),
        ("bad.srt", "1\n00:00:01,000 --> 00:00:02,500\nHi.\n\n2\n00:00:0x,000 --> 00:00:04,000\nHo.\n", 6, "malformed"),
        (
            "backwards.srt",
            "1\n00:00:10,000 --> 00:00:12,000\nHi.\n\n2\n00:00:05,000 --> 00:00:06,000\n",
            6,
            "backwards",
        ),
        ("backwards.txt", "00:00:01 One.\n00:10:00 Two.\ncontinued\n00:05:00 Three.\n", 4, "backwards"),
        ("bad-clock.txt", "00:00:01 One.\n00:75:00 Two.\n", 2, "invalid timestamp"),
        ("backwards-otter.txt", "Ada Byrne 0:06\nHi.\n\nTom Quill 10:12\nHo.\n\nAda Byrne 2:00\nHa.\n", 7, "backwards"),
        ("backwards.md", "**A:** \\[10:00\\] one.\n\n**B:** two.\n\n**A:** \\[05:00\\] three.\n", 5, "backwards"),
        ("bad-marker.md", "**A:** \\[10:00\\] one.\n\n**B:** \\[10:99\\] two.\n", 3, "invalid time marker"),
        (
            "truncated.json",
            '{"version": "1.0.0",\n "segments": [\n  {"startTime": 1, "body": "Hi"},\n',
            4,
            "invalid JSON",
        ),
        ("broken.json", '{"segments": [\n {"start": 1, "text": "Hi"}\n {"start": 2}]}', 3, "invalid JSON"),
        ("bad.sbv", "0:00:01.000,0:00:02.000\nHi.\n\n0:00:0x.000,0:00:04.000\nHo.\n", 4, "caption timing line"),
        ("reversed.sbv", "0:00:05.000,0:00:02.000\nHi.\n", 1, "ends before it starts"),
        ("backwards.sbv", "0:10:00.000,0:10:02.000\nHi.\n\n0:01:00.000,0:01:02.000\nHo.\n", 4, "backwards"),
        (
            "bad-word-time.vtt",
            "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nhi<00:00:02.000><c> there</c>\n\n"
            "00:00:04.000 --> 00:00:06.000\nhi there\nyou<00:00:75.000><c> two</c>\n",
            8,
            "invalid word time",
        ),
        (
            "bad-time.html",
            "<cite>A:</cite><time>0:01</time><p>Hi.</p>\n<time>1:75</time><p>Ho.</p>",
            2,
            "invalid <time>",
        ),
        ("backwards.html", "<time>9:00</time>\n<p>Hi.</p>\n<time>1:00</time>\n<p>Ho.</p>", 3, "backwards"),
        (  # what is cut out before parsing keeps its lines, so the line is the file's
            "styled.html",
            "<!DOCTYPE\nhtml>\n<!-- a\ncomment -->\n<style>\np {}\n</style>\n"
            "<time>0:01</time><p>Hi.</p>\n<time>0:7O</time>",
            9,
            "invalid <time>",
        ),
        ("bad-header.txt", "Ada Byrne 0:06\nHi.\n\nTom Quill 0:75\nHo.\n", 4, "invalid timestamp"),
        ("long-fraction.txt", "00:00:01 One.\n00:30:00.1234567 Two.\n", 2, "invalid timestamp"),
        ("comma-marker.md", "**A:** \\[10:00\\] one.\n\n**B:** \\[10:99,5\\] two.\n", 3, "invalid time marker"),
        ("reversed.json", '{"segments": [{"start": 10, "end": 2, "text": "Hi."}]}', None, "ends (2 s) before"),
    ],
)
def test_malformed_input_names_file_and_line(source: str, text: str, bad_line: int | None, reason: str) -> None:
    error = error_for(text, source)
    assert error.line == bad_line
    assert f"{source}:{bad_line}:" in str(error) if bad_line else f"{source}: segment 0" in str(error)
    assert reason in error.reason


@pytest.mark.parametrize(
    ("name", "old", "new", "reason"),
    [
        ("sample.vtt", "00:00:04.500 --> 00:00:09.250", "00:00:04.500 --> 00:00:09,2x0", "malformed"),
        ("sample.vtt", "00:01:05.250 --> 00:01:10.000", "00:00:01.250 --> 00:00:02.000", "backwards"),
        ("sample.srt", "00:01:00,000 --> 00:01:04,000", "00:01:00,000 --> x01:04,000", "malformed"),
        ("sample.srt", "00:00:06,500 --> 00:00:09,000", "00:00:06,500 -> 00:00:09,000", "timing line"),
        ("timed.txt", "0:07 Short form", "0:00 Short form", "backwards"),
        ("otter.txt", "Speaker 3 1:00:05", "Speaker 3 0:05", "backwards"),
        ("episode.md", "\\[08:00\\]", "\\[02:00\\]", "backwards"),
        ("podcasting20.srt", "00:00:15,350 --> 00:00:18,000", "00:00:15,350 --> 00:00:1x,000", "malformed"),
        ("captions.sbv", "0:00:06.000,0:00:09.500", "0:00:06.000;0:00:09.500", "caption timing line"),
        ("podcasting20.html", "<time>1:05</time>", "<time>0:05</time>", "backwards"),
        ("youtube-auto.vtt", "<00:00:03.520>", "<00:00:99.520>", "invalid word time"),
    ],
)
def test_malformed_fixture_variants(name: str, old: str, new: str, reason: str) -> None:
    text = fixture_with(name, old, new)
    error = error_for(text, name)
    assert error.line == line_of(text, new)
    assert reason in error.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t\r\n ", "empty"),
        ("\ufeff\n\n", "empty"),
        (b"WEBVTT\n\n\x00\x01\x02\x03", "binary"),
        (bytes(range(256)) * 4, "binary"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "binary"),
        ("0:01 Caf\u00e9\n".encode() * 20 + b"\x92", "cannot tell the text encoding"),
        (b"\xff\xfe\x00\xd8", "byte-order mark"),
        ("This is an essay about bees.\nIt has no timestamps whatsoever.\n", "no timestamps"),
        ("WEBVTT\n\nNOTE nothing but a note\n", "no timed text"),
        ("**Ada Byrne:** Speaker labels but no time markers at all.\n", "no time markers"),
        ('{"segments": []}', "neither a Podcasting 2.0 nor a Whisper"),
        ('{"words": [1, 2]}', "neither a Podcasting 2.0 nor a Whisper"),
        ('[{"start": 1, "text": "a list"}]', "neither a Podcasting 2.0 nor a Whisper"),
        ('{"segments": [{"startTime": "1.5", "body": "Hi"}]}', "segment 0: 'startTime' must be a number"),
        ('{"segments": [{"start": NaN, "text": "Hi"}]}', "segment 0: 'start' must be a number"),
        ('{"segments": [{"start": 1, "text": 7}]}', "segment 0: 'text' must be a string"),
        ('{"segments": [{"start": 1, "text": "a"}, 5]}', "segment 1 is not an object"),
        ('{"segments": [{"startTime": 9, "body": "a"}, {"startTime": 1, "body": "b"}]}', "segment 1: time goes"),
        ("[" * 100_000, "nested too deeply"),
        ('{"segments": [{"start": 1' + "0" * 5000 + ', "text": "x"}]}', "invalid JSON"),
    ],
)
def test_bad_input_is_one_domain_error(data: bytes | str, reason: str) -> None:
    error = error_for(data, "input.bin")
    assert reason in error.reason


def test_size_and_line_caps() -> None:
    assert "larger than" in error_for(b" " * (MAX_INPUT_BYTES + 1), "huge.vtt").reason
    # Many tiny segments cost far more memory than their bytes; the line cap bounds them.
    assert "lines" in error_for("0:01 x\n" * MAX_LINES, "many.txt").reason
    assert len(parse_transcript("0:01 x\n" * 1000, "fine.txt").segments) == 1000


def test_wrong_argument_type_is_a_domain_error() -> None:
    error_for(12345, "number")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n" + "<" * 10_000_000, id="vtt-unclosed-tags"),
        pytest.param("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n" + "<v a" * 2_500_000, id="vtt-voice-tags"),
        pytest.param("WEBVTT\n\n00:00:01.000 -->" + " 1" * 5_000_000, id="vtt-timing-line"),
        pytest.param("00:00:01,000 --> " * 600_000, id="arrows"),
        pytest.param("00:00:01 " + "x" * 10_000_000, id="timed-line"),
        pytest.param("Ada " * 2_500_000 + "0:06", id="otter-header"),
        pytest.param("1:" * 5_000_000, id="colons"),
        pytest.param("**A:** " + "\\[" * 5_000_000, id="markdown-brackets"),
        pytest.param("**A:** \\[00:01\\] " + "[a " * 3_000_000, id="markdown-asides"),
        pytest.param("**" * 5_000_000, id="markdown-stars"),
        pytest.param('{"segments": "' + "\\" * 10_000_000, id="json-escapes"),
        pytest.param("{" * 10_000_000, id="json-nesting"),
        pytest.param("<p>" + "<!--" * 2_500_000, id="html-unclosed-comments"),
        pytest.param("<p>" + "<a " * 3_000_000, id="html-unclosed-tags"),
        pytest.param("<time>0:01</time><p>" + "<" * 10_000_000, id="html-lone-angles"),
        pytest.param("<cite>" + "x" * 10_000_000, id="html-unclosed-cite"),
        pytest.param("<p>" + "&#1234567" * 1_000_000, id="html-charrefs"),
        pytest.param("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\na" + "<00:00:01.500><c> w</c>" * 400_000, id="youtube"),
        pytest.param("0:00:01.000,0:00:02.000\n" + "Ada " * 2_500_000 + ":", id="sbv-name"),
        pytest.param("1\n00:00:01,000 --> 00:00:02,000\n" + "Aa " * 3_000_000 + ": x", id="srt-name"),
    ],
)
@pytest.mark.timeout(60)
def test_huge_single_lines_finish_quickly(text: str) -> None:
    """A hang guard, not a speed test: each takes about a second; quadratic work on 10 MB would take hours."""
    with contextlib.suppress(TranscriptError):
        parse_transcript(text, "hostile")


def _real_samples() -> list[bytes]:
    picks = [
        CORPUS / "talkpython" / "transcripts" / "300-data-sci-startup.vtt",
        CORPUS / "talkpython" / "transcripts" / "390-mastodon.txt",
        CORPUS / "changelog" / "transcripts" / "go-time-250.md",
        SAMPLES / "transcripts" / "002-packaging-python-apps.txt",
    ]
    samples = [pick.read_bytes()[:40_000] for pick in picks]
    samples += [path.read_bytes() for path in sorted(DATA.iterdir())]
    segments = [{"startTime": i / 2, "endTime": i / 2 + 0.4, "body": "word.", "speaker": "A"} for i in range(50)]
    samples.append(json.dumps({"version": "1.0.0", "segments": segments}, indent=1).encode())
    return samples


REAL_SAMPLES = _real_samples()


def mutated_samples() -> st.SearchStrategy[bytes]:
    """A real or fixture transcript, cut and damaged."""
    inserts = [b"-->", b"\n\n", b"\\[", b"**", b":", b"<v ", b"{", b"\x00", b"9", b"<p>", b"<time>", b"<!--", b","]
    return mutated(REAL_SAMPLES, [*inserts, b"\xe9", b"<00:00:01.000><c>"], trim_head=200)


def _only_domain_errors(data: bytes | str, hint: str | None) -> None:
    try:
        transcript = parse_transcript(data, "fuzz", hint=hint)
    except TranscriptError as error:
        assert str(error).startswith("fuzz")
        return
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    assert all(s.text and s.text == " ".join(s.text.split()) for s in transcript.segments)


HINTS = st.sampled_from(
    [None, ".vtt", ".srt", ".sbv", ".json", ".md", ".txt", ".html", "text/plain", "text/vtt", "text/html"]
)


@FUZZ
@given(data=st.binary(max_size=2000), hint=HINTS)
def test_random_bytes_raise_only_transcript_error(data: bytes, hint: str | None) -> None:
    _only_domain_errors(data, hint)


@FUZZ
@given(data=st.text(alphabet=st.sampled_from('0123:.,-> \n\\[]*{}"<v>WEBVTTabc/pitmeA!'), max_size=600), hint=HINTS)
def test_random_transcript_like_text_raises_only_transcript_error(data: str, hint: str | None) -> None:
    _only_domain_errors(data, hint)


@FUZZ
@given(data=mutated_samples(), hint=HINTS)
def test_mutated_real_files_raise_only_transcript_error(data: bytes, hint: str | None) -> None:
    _only_domain_errors(data, hint)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
SEGMENT_KEYS = st.sampled_from(["startTime", "endTime", "body", "speaker", "start", "end", "text", "words"])


@FUZZ
@given(
    segments=st.lists(st.dictionaries(SEGMENT_KEYS, JSON_VALUES | st.floats(0, 5000), max_size=5), max_size=8),
    extra=st.dictionaries(st.sampled_from(["version", "text", "language"]), JSON_VALUES, max_size=2),
)
def test_json_shaped_input_raises_only_transcript_error(segments: list[dict], extra: dict) -> None:
    _only_domain_errors(json.dumps({**extra, "segments": segments}), ".json")
