"""Real transcripts parse with sane times and speakers: the copies in tests/data/corpus, our own samples, and,
when it is beside this checkout, the whole development corpus."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest

from index.models import Transcript
from index.parsing import parse_transcript
from index.parsing.timecodes import parse_timecode
from tests.helpers import CORPUS, ROOT, SAMPLES

# Byte-for-byte copies of a few development-corpus episodes, with their licences (tests/data/corpus/README.md).
DEVELOPMENT_CORPUS = ROOT.parent / "shared" / "corpus"  # beside a checkout on developers' machines only
FILES = sorted(CORPUS.glob("*/transcripts/*"))
# The changelog files' last inline marker, e.g. `\[01:48:36.22\]` or `\[unintelligible 01:49:09.23\]`.
MARKER = re.compile(r"\\\[(?:[^\]]*\s)?(\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)\\\]")
FORMAT_OF_SUFFIX = {".vtt": "vtt", ".txt": "timed-lines", ".md": "markdown"}


def parse_file(path: Path) -> Transcript:
    return parse_transcript(path.read_bytes(), path.name, hint=path.suffix)


def assert_sane(transcript: Transcript) -> None:
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    assert len(transcript.segments) > 50
    assert 10 * 60 <= transcript.segments[-1].start <= transcript.duration <= 3 * 3600
    assert all(s.text.strip() == s.text and "  " not in s.text for s in transcript.segments)


def test_the_copies_are_there() -> None:
    assert len(FILES) == 10
    assert {path.suffix for path in FILES} == set(FORMAT_OF_SUFFIX)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_real_transcript_parses_sanely(path: Path) -> None:
    transcript = parse_file(path)
    assert_sane(transcript)
    assert transcript.format == FORMAT_OF_SUFFIX[path.suffix]


def test_otter_sample_has_every_speaker() -> None:
    path = SAMPLES / "transcripts" / "002-packaging-python-apps.txt"
    transcript = parse_transcript(path.read_bytes(), path.name, hint="text/plain")
    assert transcript.format == "otter"
    assert {s.speaker for s in transcript.segments} == {"Tom Okafor", "Priya Raman", "Hannah Oyelaran"}
    assert transcript.segments[0].start == 1.0
    assert transcript.segments[-1].start == 6 * 60 + 43


@pytest.mark.parametrize("path", sorted(CORPUS.glob("changelog/transcripts/*.md")), ids=lambda path: path.name)
def test_changelog_speakers_and_times(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    transcript = parse_transcript(text, path.name, hint="text/markdown")
    assert all(s.speaker for s in transcript.segments)
    assert not any(re.search(r"\d:\d\d\]|\\\[|\[laugh", s.text) for s in transcript.segments)
    starts = [s.start for s in transcript.segments]
    assert all(a < b for a, b in pairwise(starts))  # interpolated: strictly increasing
    last_marker = parse_timecode(MARKER.findall(text)[-1])
    assert last_marker is not None
    assert last_marker <= transcript.duration <= last_marker + 10 * 60


def test_talkpython_detection_ignores_the_extension() -> None:
    vtt = CORPUS / "talkpython" / "transcripts" / "300-data-sci-startup.vtt"
    txt = CORPUS / "talkpython" / "transcripts" / "390-mastodon.txt"
    assert parse_transcript(vtt.read_bytes(), vtt.name, hint="text/plain").format == "vtt"
    assert parse_transcript(txt.read_bytes(), txt.name, hint="text/vtt").format == "timed-lines"


def test_the_whole_development_corpus_parses_sanely() -> None:
    files = sorted(DEVELOPMENT_CORPUS.glob("*/transcripts/*"))
    if not files:
        pytest.skip("the development corpus ../shared/corpus is not beside this checkout")
    assert len(files) == 105
    for path in files:
        transcript = parse_file(path)
        assert_sane(transcript)
        expected = "otter" if path.parent.parent.name == "djangochat" else FORMAT_OF_SUFFIX[path.suffix]
        assert transcript.format == expected, path.name
