"""Each transcript format on our own small fixtures, and format detection from content."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import TranscriptError
from index.models import Segment, Transcript
from index.parsing import FORMATS, detect_format, parse_transcript
from index.parsing.speakers import name_prefix

DATA = Path(__file__).parent / "data" / "transcripts"


def parse(name: str, hint: str | None = None) -> Transcript:
    return parse_transcript((DATA / name).read_bytes(), name, hint=hint)


def test_vtt_voice_tags_settings_blocks_and_bom() -> None:
    assert (DATA / "sample.vtt").read_bytes().startswith(b"\xef\xbb\xbf")
    transcript = parse("sample.vtt")
    assert transcript.format == "vtt"
    assert transcript.source == "sample.vtt"
    assert transcript.segments == (
        # MM:SS.mmm timing with cue settings; multi-line text joined; &amp; unescaped; <i> stripped.
        Segment(1.0, "Welcome to The Hive Mind, the show about bees & code.", 4.5, "Ada Byrne"),
        # <v.loud ...> voice with a class; <c> and karaoke <00:00:06.000> timestamps stripped.
        Segment(4.5, "Today we count bees with a camera and a Raspberry Pi.", 9.25, "Tom Quill"),
        Segment(9.0, "A cue with no voice tag at all.", 12.0, "Tom Quill"),  # Tom's voice holds
        # the whitespace-only cue at 00:12 is dropped
        Segment(65.25, "A minute in, the queen makes her entrance.", 70.0, "Tom Quill"),
    )
    assert not any("NOTE" in s.text or "cue(" in s.text or "width" in s.text for s in transcript.segments)


def test_srt_tags_stripped_and_speakers_from_voices_and_names() -> None:
    transcript = parse("sample.srt")
    assert transcript.format == "srt"
    assert transcript.segments == (
        Segment(0.5, "Welcome back to The Hive Mind.", 3.0),
        # `Ada:` names the speaker (the file names two: Ada here, Tom by <v>); {\an8} is dropped.
        Segment(3.0, "today we weigh the hives every hour.", 6.75, "Ada"),
        Segment(6.5, "With a load cell & a scale.", 9.0, "Tom Quill"),
        Segment(60.0, "One minute in, the bees are calm.", 64.0, "Tom Quill"),  # a name holds until the next
    )


def test_srt_speakers_as_the_podcasting_20_spec_writes_them() -> None:
    transcript = parse("podcasting20.srt")
    assert [(s.start, s.speaker, s.text) for s in transcript.segments] == [
        (0.0, "Ada Byrne", "In today's episode, you'll learn whether a hive"),
        (2.76, "Ada Byrne", "needs a new queen. And if so, how the bees choose one."),
        # "Step 1:" is a label, not a name: it stays text and Ada keeps speaking.
        (6.09, "Ada Byrne", "Step 1: look for queen cells. Step 2: count the eggs."),
        (9.8, "Tom Quill", "Hi Ada, Tom here from the apiary out back."),
        (12.45, "Tom Quill", "At 10:30 this morning I found three cells on one frame."),
        # cue 6's counter and timing follow the text with no blank line: a new cue, not more text.
        (15.35, "Ada Byrne", "Three is plenty."),
    ]


def test_srt_label_at_the_start_of_a_speakerless_file_is_text() -> None:
    transcript = parse("labels.srt")
    assert {s.speaker for s in transcript.segments} == {None}
    assert transcript.segments[0].text == "Warning: this is a recording of a live hive inspection."


def test_srt_one_name_alone_is_not_enough_to_name_speakers() -> None:
    """A single name-like prefix would label the whole rest of the file; it needs a second name to count."""
    srt = "1\n00:00:01,000 --> 00:00:02,000\nPython: the language, not the snake.\n\n"
    srt += "2\n00:00:02,000 --> 00:00:03,000\nIt is named after a comedy group.\n"
    assert [(s.speaker, s.text) for s in parse_transcript(srt, "one.srt").segments] == [
        (None, "Python: the language, not the snake."),
        (None, "It is named after a comedy group."),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sarah: In today's episode,", ("Sarah", "In today's episode,")),
        ("Alban : You're triggering Tom", ("Alban", "You're triggering Tom")),
        ("Mary-Jane O'Brien: hi", ("Mary-Jane O'Brien", "hi")),
        ("GIL DIPERSON: OK, cool.", ("GIL DIPERSON", "OK, cool.")),
        ("Speaker 2: yes", ("Speaker 2", "yes")),
        (">>ALICE: Hi", ("ALICE", "Hi")),
        ("Sarah:\nwhen the name has a line of its own", ("Sarah", "when the name has a line of its own")),
        ("Warning: this is a recording", None),
        ("Step 1: open the hive", None),
        ("Note: smoke calms them", None),
        ("10:30 is when we meet", None),
        ("so: here is the thing", None),
        ("Sarah:no space after the colon", None),
        ("One Two Three Four Five: too many words", None),
        ("and then Ada: said nothing", None),
    ],
)
def test_name_prefix_rule(text: str, expected: tuple[str, str] | None) -> None:
    assert name_prefix(text) == expected


def test_vtt_voices_hold_until_the_next_voice() -> None:
    transcript = parse("podcasting20.vtt")
    assert [s.speaker for s in transcript.segments] == ["Ada", "Tom", "Tom", "Tom", "Ada", "Ada"]
    assert transcript.segments[2].text == "They weigh every hive, every hour, all year."


def test_vtt_name_colon_stays_text() -> None:
    """WebVTT names speakers with <v>; a `Name:` prefix there is kept as text (transcripts in the wild prefix
    some speakers only, and a carried name would mislabel everyone else)."""
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nAda Byrne: hello.\n\n00:00:02.000 --> 00:00:03.000\nTom Quill: hi.\n"
    )
    assert [(s.speaker, s.text) for s in parse_transcript(vtt, "n.vtt").segments] == [
        (None, "Ada Byrne: hello."),
        (None, "Tom Quill: hi."),
    ]


def test_a_timing_line_right_after_text_starts_a_cue() -> None:
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nFirst.\n00:00:02.000 --> 00:00:03.000\nSecond.\n"
    segments = parse_transcript(vtt, "tight.vtt").segments
    assert [(s.start, s.text, s.end) for s in segments] == [(1.0, "First.", 2.0), (2.0, "Second.", 3.0)]


def test_a_first_cue_right_after_the_vtt_header_is_kept() -> None:
    for header in ("WEBVTT", "WEBVTT - Episode 12\nKind: captions\nintro-cue"):
        vtt = f"{header}\n00:00:01.000 --> 00:00:02.000\nFirst.\n\n00:00:03.000 --> 00:00:04.000\nSecond.\n"
        segments = parse_transcript(vtt, "headed.vtt").segments
        assert [(s.start, s.text) for s in segments] == [(1.0, "First."), (3.0, "Second.")]


def test_youtube_rolling_captions_read_once_with_word_times() -> None:
    transcript = parse("youtube-auto.vtt")
    assert transcript.format == "youtube-vtt"
    first, second = transcript.segments
    # Every caption line once, though each was shown twice or three times; no timing line in the text.
    assert first.text == "welcome to the hive mind where we talk about bees and code today we count bees with a camera"
    assert (first.start, first.end) == (0.16, 9.51)
    # A 3 s pause starts a new segment at the exact time of its first word ("okay" has no tag: its cue's start).
    assert second == Segment(12.6, "okay let's start", 17.0)


def test_youtube_word_times_time_each_word() -> None:
    vtt = "WEBVTT\n\n00:00:10.000 --> 00:00:14.000 align:start position:0%\n"
    vtt += "one<00:00:10.500><c> two.</c><00:00:13.000><c> Three</c>\n"
    segments = parse_transcript(vtt, "w.vtt").segments
    # "two." ends a sentence, so "Three" opens a segment at its own tag's time, not the cue's.
    assert [(s.start, s.text, s.end) for s in segments] == [(10.0, "one two.", 13.0), (13.0, "Three", 14.0)]


def test_sbv_captions_with_speaker_marks() -> None:
    transcript = parse("captions.sbv")
    assert transcript.format == "sbv"
    assert transcript.segments == (
        Segment(0.5, "Welcome to The Hive Mind, the show about bees and code.", 3.0, "ADA"),
        Segment(3.2, "Today we count bees with a camera.", 6.0, "ADA"),
        Segment(6.0, "And a Raspberry Pi.", 9.5, "TOM"),
        Segment(3600.0, "An hour in, the queen makes her entrance.", 3604.25, "TOM"),
    )


def test_html_as_the_podcasting_20_spec_writes_it() -> None:
    transcript = parse("podcasting20.html")
    assert transcript.format == "html"
    segments = transcript.segments
    assert [(s.start, s.speaker) for s in segments[:3]] == [(0.0, "Ada Byrne"), (9.0, "Tom Quill"), (21.0, "Ada Byrne")]
    # `Alban :` style names lose the colon; entities are unescaped; a multi-line <p> is one paragraph.
    assert segments[0].text == "Welcome to The Hive Mind. Today it's all about swarms, and why a hive decides to split."
    assert segments[1].text.endswith("with about half of the workers & finds a new home.")
    # A <p> with no <time> of its own is timed between its neighbours by word position (0:21 to 1:05),
    # and one over 40 words is cut at a sentence end.
    untimed = [s for s in segments if 21 < s.start < 65]
    assert [s.text.split()[0] for s in untimed] == ["And", "Do"]
    assert all(s.speaker == "Ada Byrne" for s in untimed)
    assert segments[-1] == Segment(65.0, "About two weeks.", segments[-1].end, "Tom Quill")


def test_html_page_as_hosts_publish_it() -> None:
    transcript = parse("buzzsprout.html")
    assert [(s.start, s.speaker, s.text) for s in transcript.segments] == [
        # head, title, style and script are not speech; a turn may have a time but no <cite>.
        (0.0, None, "This is The Hive Mind, episode thirteen. The cold open has no speaker name."),
        # inline tags split no words, <br> does; an unclosed <p> ends at the next <cite>.
        (12.0, "Ada Byrne", "Winter is when a hive lives on its stores. Nothing flies below ten degrees."),
        (30.0, "Tom Quill", "Which is why we weigh them every week until March."),  # 0:00:30
        (41.0, "Ada Byrne", "Forty seconds in, and we are still talking about honey."),
    ]


@pytest.mark.parametrize(
    ("html", "line", "reason"),
    [
        ("<cite>Ada:</cite>\n<p>No times anywhere.</p>\n", None, "no <time> start times"),
        ("<html><body><h1>404 Not Found</h1></body></html>", None, "HTML without <cite>, <time> or <p>"),
        ("<time>0:00</time><p>Hi.</p>\n<time>soon</time>\n<p>Ho.</p>", 2, "invalid <time> 'soon'"),
        ("<time>5:00</time><p>Hi.</p>\n\n<time>1:00</time><p>Ho.</p>", 3, "time goes backwards"),
    ],
)
def test_html_refusals(html: str, line: int | None, reason: str) -> None:
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(html, "page.html")
    assert caught.value.line == line
    assert reason in caught.value.reason


def test_podcast_json_word_segments_merge_into_sentences() -> None:
    transcript = parse("podcast.json")
    assert transcript.format == "podcast-json"
    texts = [(s.speaker, s.text) for s in transcript.segments]
    assert texts[:4] == [
        ("Ada Byrne", "Welcome to The Hive Mind."),  # sentence end
        ("Ada Byrne", "I'm Ada."),  # then a 3 s pause
        ("Ada Byrne", "Sorry, the smoker went out."),  # then the speaker changes
        ("Tom Quill", "No problem!"),
    ]
    first, second = transcript.segments[4:]
    assert len(first.text.split()) == 40  # a run-on without punctuation is cut at 40 words
    assert second.text.endswith("flowers before lunch?")
    assert (first.start, first.end) == (7.7, 19.65)
    assert transcript.segments[0] == Segment(0.5, "Welcome to The Hive Mind.", 1.95, "Ada Byrne")


def test_podcast_json_sentence_segments_are_kept() -> None:
    data = (
        '{"version": "1.0.0", "segments": ['
        '{"speaker": "Ada", "startTime": 0.5, "endTime": 3.0, "body": "A whole sentence here.\\n"},'
        '{"speaker": "Ada", "startTime": 3.0, "endTime": 5.0, "body": "And another one."},'
        '{"startTime": 5.5, "body": "No speaker, no end."}]}'
    )
    transcript = parse_transcript(data, "sentences.json")
    assert transcript.segments == (
        Segment(0.5, "A whole sentence here.", 3.0, "Ada"),
        Segment(3.0, "And another one.", 5.0, "Ada"),
        Segment(5.5, "No speaker, no end.", None, None),
    )


def test_whisper_json() -> None:
    transcript = parse("whisper.json")
    assert transcript.format == "whisper-json"
    assert transcript.segments == (
        Segment(0.0, "Welcome to The Hive Mind.", 2.5),
        Segment(2.5, "Today: honey.", 4.0, "SPEAKER_01"),
        Segment(4.0, "Raw honey never spoils.", 7.25),
    )


def test_timed_lines_all_clock_forms_and_continuations() -> None:
    transcript = parse("timed.txt")
    assert transcript.format == "timed-lines"
    assert [(s.start, s.text) for s in transcript.segments] == [
        (0.0, "Welcome to The Hive Mind, the show about bees and code."),
        (4.0, "Today we talk about hive scales and how often to weigh a hive."),
        (7.0, "Short form, minutes and seconds."),
        (12.0, "Back to the long form. Another line that continues the segment above."),
        (3723.0, "An hour in, with a one-digit hour."),
    ]


def test_otter_speakers_hours_spacing_and_trailer() -> None:
    transcript = parse("otter.txt")
    assert transcript.format == "otter"
    assert [(s.start, s.speaker) for s in transcript.segments] == [
        (6.0, "Ada Byrne"),  # "Ada Byrne  0:06", two spaces
        (12.0, "Tom Quill"),
        (59 * 60 + 58.0, "Ada Byrne"),
        (3605.0, "Speaker 3"),  # H:MM:SS, and Otter's name for an unknown speaker
        (3750.0, "Tom Quill"),
    ]
    # A line of speech ending in a time is not a header; the otter.ai trailer is gone.
    assert transcript.segments[1].text == (
        "Hello. We meet at 5:30 every week, and the bees never wait. They do not care about our schedule."
    )
    assert transcript.segments[-1].text == "That's a wrap."


def test_markdown_speakers_cleanup_and_markers() -> None:
    transcript = parse("episode.md")
    assert transcript.format == "markdown"
    segments = transcript.segments
    assert segments[0] == Segment(0.0, segments[0].text, segments[0].end, "Ada Byrne")
    # stage directions dropped, escapes undone, heading and horizontal rule gone
    assert segments[0].text == "Welcome to The Hive Mind. I'm Ada, and with me, as always, is Tom."
    assert segments[1].text == (
        "Hello, hello! Today it's all about *honest* sensors, the kind you bolt to a hive and forget about,"
        " in _one_ weekend."
    )
    assert not any("[" in s.text or "#" in s.text or s.text == "***" for s in segments)
    by_text = {s.text: s for s in segments}
    # markers at a paragraph's start time it exactly; `**Name:**\[08:00\]` with no space works too
    assert by_text["So let's begin with the scale. Tom, how heavy is a full hive in summer?"].start == 240.0
    assert by_text["Let's talk about the camera next."].start == 480.0
    # an unlabelled paragraph continues the previous speaker
    assert by_text["Ada, I think that graph is the best thing we have built."].speaker == "Tom Quill"
    # an unescaped marker in a paragraph of its own ([09:00], after a dropped aside) times the next one
    camera = next(s for s in segments if s.text.startswith("The camera counts bees"))
    assert camera.start == 540.0
    starts = [s.start for s in segments]
    assert starts == sorted(starts)
    assert all(s.end is not None and s.end >= s.start for s in segments)


def test_markdown_interpolates_between_markers() -> None:
    transcript = parse("episode.md")
    swarm = next(s for s in transcript.segments if s.text.startswith("The swarm left the hive"))
    # The sentence sits halfway, by words, between \[04:00\] and \[08:00\].
    assert abs(swarm.start - 6 * 60) <= 20
    before = [s for s in transcript.segments if 240 <= s.start < 480]
    assert len({s.start for s in before}) == len(before) > 3  # not all stamped 04:00


def test_markdown_markers_with_a_comma_fraction_or_a_long_fraction_time_their_words() -> None:
    text = (
        "**A:** \\[00:01:00\\] intro.\n\n**B:** \\[00:30:00,500\\] Said at thirty.\n\n**A:** \\[00:31:00.1234\\] End.\n"
    )
    segments = parse_transcript(text, "marks.md").segments
    assert [(s.start, s.text) for s in segments][1:] == [(1800.5, "Said at thirty."), (1860.1234, "End.")]


def test_timed_lines_with_a_long_fraction_are_timestamps_not_text() -> None:
    segments = parse_transcript("00:00:01 One.\n00:30:00.1234 Two.\n", "fine.txt").segments
    assert [(s.start, s.text) for s in segments] == [(1.0, "One."), (1800.1234, "Two.")]


def test_markdown_extrapolates_after_last_marker_and_splits_long_paragraphs() -> None:
    transcript = parse("episode.md")
    # "[unintelligible 00:10:00.50]" inside a long paragraph is a marker; the paragraph is split at it
    # only by sentence length, and text after the last marker runs on at the measured speaking rate.
    camera = [s for s in transcript.segments if s.start >= 540]
    assert len(camera) == 3
    assert len(camera[0].text.split()) == 40
    last = transcript.segments[-1]
    assert last.text.startswith("That's all for today.")
    assert 600.5 < last.start < 600.5 + 60


def test_markdown_before_first_marker_interpolates_from_zero() -> None:
    text = "**A:** one two three four.\n\n**B:** five six seven eight.\n\n**A:** \\[00:40\\] nine ten."
    transcript = parse_transcript(text, "early.md")
    assert [s.start for s in transcript.segments] == [0.0, 20.0, 40.0]


def test_markdown_without_enough_markers_uses_150_words_per_minute() -> None:
    words = " ".join(["word"] * 40) + "."
    text = f"**A:** \\[1:02:03\\] {words}\n\n**B:** {words}"
    first, second = parse_transcript(text, "short.md").segments
    assert first.start == 3723.0
    assert second.start == pytest.approx(3723.0 + 40 * 60 / 150)


@pytest.mark.parametrize(
    ("name", "fmt", "misleading"),
    [
        ("sample.vtt", "vtt", "text/plain"),
        ("sample.vtt", "vtt", ".txt"),
        ("sample.vtt", "vtt", "application/srt"),
        ("sample.srt", "srt", "text/html"),
        ("sample.srt", "srt", ".md"),
        ("podcast.json", "podcast-json", ".vtt"),
        ("whisper.json", "whisper-json", "text/vtt"),
        ("timed.txt", "timed-lines", "application/json"),
        ("otter.txt", "otter", ".srt"),
        ("episode.md", "markdown", "text/plain"),
        ("youtube-auto.vtt", "youtube-vtt", "text/plain"),
        ("captions.sbv", "sbv", ".srt"),
        ("podcasting20.html", "html", ".vtt"),
        ("buzzsprout.html", "html", "text/plain"),
    ],
)
def test_detection_from_content_despite_misleading_hint(name: str, fmt: str, misleading: str) -> None:
    text = (DATA / name).read_text(encoding="utf-8-sig")
    assert detect_format(text) == fmt
    assert detect_format(text, misleading) == fmt
    assert parse(name, hint=misleading).format == fmt


def test_hint_breaks_a_tie_between_srt_and_headerless_vtt() -> None:
    cues = "00:00:01.000 --> 00:00:02.000\nHello.\n\n00:00:02.000 --> 00:00:03.000\nGoodbye.\n"
    assert detect_format(cues) == "srt"
    assert detect_format(cues, "text/vtt; charset=utf-8") == "vtt"
    assert detect_format(cues, ".VTT") == "vtt"
    assert parse_transcript(cues, "cues", hint="text/vtt").format == "vtt"


def test_formats_are_the_documented_names() -> None:
    assert set(FORMATS) == {
        *("vtt", "youtube-vtt", "srt", "sbv", "html"),
        *("podcast-json", "whisper-json", "timed-lines", "otter", "markdown"),
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param("\ufeff00:00:01 BOM in a str.\n", "BOM in a str.", id="str-bom"),
        pytest.param(b"\xef\xbb\xbf00:00:01 UTF-8 BOM.\n", "UTF-8 BOM.", id="utf8-bom"),
        pytest.param("00:00:01 Caf\u00e9 in UTF-16.\n".encode("utf-16"), "Caf\u00e9 in UTF-16.", id="utf16"),
        pytest.param("00:00:01 Caf\u00e9 \u2013 cp1252.\n".encode("cp1252"), "Caf\u00e9 \u2013 cp1252.", id="cp1252"),
        pytest.param(b"00:00:01 Windows\r\n00:00:02 line ends\r\n", "Windows", id="crlf"),
    ],
)
def test_decoding(data: bytes | str, expected: str) -> None:
    assert parse_transcript(data, "enc.txt").segments[0].text == expected


def test_segments_are_sorted_when_cues_overlap_slightly() -> None:
    vtt = "WEBVTT\n\n00:00:05.000 --> 00:00:08.000\nFirst.\n\n00:00:04.500 --> 00:00:06.000\nOverlap.\n"
    assert [s.text for s in parse_transcript(vtt, "o.vtt").segments] == ["Overlap.", "First."]


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("gb2312.srt", "欢迎收听《蜂巢思维》，这是一档关于蜜蜂和代码的节目。", "下期节目我们聊聊蜂箱的重量传感器。"),
        (
            "shift_jis.srt",
            "「ハイブマインド」へようこそ。ミツバチとコードの番組です。",
            "夏の間に一つの巣箱で二十キロの蜂蜜が取れます。",
        ),
        (
            "cp1251.srt",
            "Добро пожаловать в «Улей» — подкаст о пчёлах и коде.",
            "За лето один улей даёт двадцать килограммов мёда.",
        ),
        # cp1250 reads these bytes as plausibly (è becomes č): the Windows Western code page wins the tie.
        (
            "windows-1252.srt",
            "Bienvenue à « La Ruche », l’émission sur les abeilles et le code.",
            "Ça coûte à peu près dix euros — pas plus.",
        ),
    ],
)
def test_legacy_encodings_are_detected(name: str, first: str, last: str) -> None:
    data = (DATA / name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    transcript = parse(name)
    assert (transcript.segments[0].text, transcript.segments[-1].text) == (first, last)


def test_an_encoding_that_cannot_be_decided_is_refused() -> None:
    """Polish in ISO-8859-2 reads as well in ISO-8859-10 and -14, with other letters: refused, never guessed."""
    with pytest.raises(TranscriptError) as caught:
        parse("iso-8859-2.srt")
    assert str(caught.value).startswith("iso-8859-2.srt:")
    assert "cannot tell the text encoding: not UTF-8 (line 3)" in caught.value.reason
    assert caught.value.reason.endswith("save it as UTF-8")


def test_utf8_with_a_stray_byte_is_refused_not_read_as_mojibake() -> None:
    data = "00:00:01 Café crème.\n".encode() * 50 + b"00:00:02 It\x92s a cp1252 apostrophe.\n"
    with pytest.raises(
        TranscriptError, match=r"mixed\.txt: .* UTF-8 but for 1 bad byte, the first on line 51; save it as UTF-8"
    ):
        parse_transcript(data, "mixed.txt")
