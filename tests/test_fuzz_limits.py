"""Bounded work: inputs at the parsers' caps (20 MB, 1M lines, JSON depth) finish in seconds with a clear outcome.

Each case is as large as the caps allow, so it measures the worst a hostile transcript can cost; the timings
seen on the 2-core machine are in docs/reliability.md. No time is asserted: a pytest-timeout bound, loose on
purpose, stops a hang or a super-linear path, which cost minutes at these sizes.
"""

from __future__ import annotations

import codecs
import json

import pytest

from index.errors import TranscriptError
from index.parsing import parse_transcript
from index.parsing.decode import MAX_INPUT_BYTES, MAX_LINES
from index.parsing.html_transcript import MAX_HTML_CHARS
from index.parsing.segments import MAX_SEGMENTS

BOUND_SECONDS = 60
ROOM = MAX_INPUT_BYTES - 1024  # just under the size cap
HTML = MAX_HTML_CHARS - 1024  # just under HTML's own cap
VTT_HEAD = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n"
ROLLING_HEAD = "WEBVTT\n\n00:00:01.000 --> 09:00:00.000 align:start position:0%\na"


def parse_or_refuse(data: bytes | str, hint: str | None = None):
    """(transcript or None, error or None)."""
    try:
        return parse_transcript(data, "hostile", hint=hint), None
    except TranscriptError as exc:
        return None, exc


def fill(head: str, unit: str, tail: str = "", *, room: int = ROOM) -> str:
    return head + unit * ((room - len(head) - len(tail)) // len(unit)) + tail


# (id, input, expected format or None for a refusal, words the refusal must say)
NEAR_THE_CAPS = [
    ("vtt-20MB-cue", lambda: fill(VTT_HEAD, "ab "), "vtt", None),
    ("srt-20MB-cue", lambda: fill("1\n00:00:01,000 --> 00:00:02,000\n", "x"), "srt", None),
    ("timed-20MB-line", lambda: fill("00:00:01 ", "word "), "timed-lines", None),
    ("otter-20MB-turn", lambda: fill("Ada Byrne 0:06\n", "word "), "otter", None),
    ("whisper-20MB-text", lambda: fill('{"segments": [{"start": 1, "text": "', "a", '"}]}'), "whisper-json", None),
    ("markdown-20MB-paragraph", lambda: fill("**A:** \\[00:01\\] ", "word "), "markdown", None),
    # One line, but millions of sentences: the segment cap, not the line cap, has to stop it.
    ("markdown-20MB-of-sentences", lambda: fill("**A:** \\[00:01\\] ", "a. "), None, "more than 1,000,000 segments"),
    ("timed-lines-at-line-cap", lambda: "0:01 x\n" * (MAX_LINES - 1), "timed-lines", None),
    ("srt-cues-at-line-cap", lambda: "1\n00:00:01,000 --> 00:00:02,000\nx.\n\n" * ((MAX_LINES - 1) // 4), "srt", None),
    ("only-timestamps", lambda: "00:00:01\n" * (MAX_LINES - 1), None, "no timed text"),
    ("only-cue-timings", lambda: "WEBVTT\n\n" + "00:00:01.000 --> 00:00:02.000\n\n" * 400_000, None, "no timed text"),
    ("only-markdown-markers", lambda: fill("**A:** ", "\\[00:01\\] "), None, "no timed text"),
    ("deep-json-array", lambda: '{"segments": ' + "[" * (ROOM // 2), None, "nested too deeply"),
    ("deep-json-object", lambda: '{"a": ' * (ROOM // 6), None, "nested too deeply"),
    ("deep-json-closed", lambda: '{"segments": ' + "[" * 200_000 + "]" * 200_000 + "}", None, "nested too deeply"),
    (
        "whisper-json-900k-segments",
        lambda: '{"segments": [' + ",".join(['{"start":1,"text":"x"}'] * 850_000) + "]}",
        "whisper-json",
        None,
    ),
    ("html-5MB-paragraph", lambda: fill("<cite>Ada:</cite><time>0:01</time><p>", "word ", room=HTML), "html", None),
    ("html-over-its-cap", lambda: fill("<time>0:01</time>", "<p>a</p>"), None, "HTML transcript larger than 5 MB"),
    # html.parser alone rescans the rest of the input for every unclosed comment or tag: hours at this size.
    ("html-5MB-of-unclosed-comments", lambda: fill("<time>0:01</time><p>a", "<!--", room=HTML), "html", None),
    ("html-5MB-of-unclosed-tags", lambda: fill("<time>0:01</time><p>a", "<a ", room=HTML), "html", None),
    ("html-5MB-of-lone-angles", lambda: fill("<time>0:01</time><p>", "<", room=HTML), "html", None),
    ("youtube-20MB-of-word-times", lambda: fill(ROLLING_HEAD, "<00:00:01.500><c> w</c>"), "youtube-vtt", None),
    ("sbv-20MB-caption", lambda: fill("0:00:01.000,0:00:02.000\n", "word "), "sbv", None),
    (
        "srt-named-cues-at-line-cap",
        lambda: "1\n00:00:01,000 --> 00:00:02,000\nAda Byrne: x.\n\n" * ((MAX_LINES - 1) // 4),
        "srt",
        None,
    ),
    ("cp1252-20MB", lambda: fill("00:00:01 ", "Café – ").encode("cp1252"), "timed-lines", None),
    ("gb2312-20MB", lambda: ("00:00:01 " + "蜜蜂和代码。" * (ROOM // 12)).encode("gb2312"), "timed-lines", None),
    (
        "undecidable-20MB",
        lambda: ("00:00:01 " + "Źle się dzieje, gdy ul jest zbyt ciężki. " * (ROOM // 42)).encode("iso-8859-2"),
        None,
        "cannot tell the text encoding",
    ),
    ("damaged-utf8-20MB", lambda: ("00:00:01 " + "Café " * (ROOM // 7)).encode() + b"\xe9.", None, "UTF-8 but for 1"),
    ("over-the-size-cap", lambda: "0:01 x\n" * (MAX_INPUT_BYTES // 7 + 1), None, "larger than 20 MB"),
    ("over-the-line-cap", lambda: "\n" * MAX_LINES + "0:01 x", None, "more than 1,000,000 lines"),
]


@pytest.mark.parametrize(
    ("make", "fmt", "refusal"), [case[1:] for case in NEAR_THE_CAPS], ids=[c[0] for c in NEAR_THE_CAPS]
)
@pytest.mark.timeout(BOUND_SECONDS)  # a hang guard: each finishes in seconds; quadratic work would take hours
def test_inputs_at_the_caps_finish_in_bounded_time(make, fmt, refusal):
    data = make()
    transcript, error = parse_or_refuse(data)
    if refusal is None:
        assert error is None, error
        assert transcript.format == fmt and 0 < len(transcript.segments) <= MAX_SEGMENTS
    else:
        assert transcript is None and refusal in error.reason, error
        assert str(error).startswith("hostile")


def test_the_segment_cap_is_exact_for_markdown_sentences():
    """Regression: a Markdown paragraph was split into as many segments as it had sentences, unbounded."""
    under = "**A:** \\[00:01\\] " + "a. " * MAX_SEGMENTS
    assert len(parse_transcript(under, "cap.md").segments) == MAX_SEGMENTS
    over = "**A:** \\[00:01\\] " + "a. " * (MAX_SEGMENTS + 1)
    with pytest.raises(TranscriptError, match=r"cap\.md:1: more than 1,000,000 segments"):
        parse_transcript(over, "cap.md")


VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nCafé au lait, s'il vous plaît.\n\n00:00:03.000 --> 00:00:04.000\nOui.\n"


@pytest.mark.parametrize(
    ("data", "ok"),
    [
        pytest.param(VTT.encode("utf-16-le"), True, id="utf-16-le-without-bom"),
        pytest.param(VTT.encode("utf-16-be"), True, id="utf-16-be-without-bom"),
        pytest.param(VTT.encode("utf-16"), True, id="utf-16-with-bom"),
        pytest.param(VTT.encode("utf-32"), True, id="utf-32-with-bom"),
        pytest.param(codecs.BOM_UTF32_BE + VTT.encode("utf-32-be"), True, id="utf-32-be-with-bom"),
        pytest.param(VTT.encode("cp1252"), True, id="cp1252"),
        pytest.param(VTT.encode("utf-32-le"), False, id="utf-32-without-bom"),
        pytest.param(VTT.encode("utf-16-le")[:-1] + b"\xd8", False, id="utf-16-cut-mid-character"),
        pytest.param(b"\xff\xfe" + b"\x00\xd8" * 50, False, id="utf-16-lone-surrogates"),
        pytest.param(VTT.encode("utf-8")[:40] + b"\xc3", True, id="utf-8-cut-mid-character"),
    ],
)
@pytest.mark.timeout(BOUND_SECONDS)
def test_wrong_and_missing_encodings_are_read_or_refused_clearly(data: bytes, ok: bool):
    transcript, error = parse_or_refuse(data)
    if ok:
        assert error is None, error
        assert transcript.format == "vtt" and transcript.segments[0].start == 1.0
    else:
        assert transcript is None
        assert any(word in error.reason for word in ("binary", "byte-order mark", "UTF-16")), error.reason


def test_utf16_without_bom_decodes_to_the_same_text_as_utf8():
    """Regression: UTF-16 without a byte-order mark was refused as 'binary data (NUL bytes)'."""
    expected = parse_transcript(VTT.encode(), "a.vtt")
    for codec in ("utf-16-le", "utf-16-be"):
        assert parse_transcript(VTT.encode(codec), "a.vtt").segments == expected.segments


def test_json_nesting_just_under_the_interpreter_limit_is_still_read():
    """The depth guard refuses absurd nesting only: a segment carrying a deep (but sane) value still parses."""
    deep = "[" * 500 + "]" * 500
    text = '{"segments": [{"start": 1, "text": "hi", "extra": ' + deep + "}]}"
    assert json.loads(text)  # well-formed
    transcript, error = parse_or_refuse(text)
    assert error is None and transcript.format == "whisper-json"
