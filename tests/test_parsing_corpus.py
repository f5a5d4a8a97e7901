"""Every real transcript in the shared development corpus parses, with sane times and speakers."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest

from index.parsing import parse_transcript
from index.parsing.timecodes import parse_timecode

CORPUS = Path(__file__).parents[1].parent / "shared" / "corpus"
FILES = sorted(CORPUS.glob("*/transcripts/*"))
# The changelog files' last inline marker, e.g. `\[01:48:36.22\]` or `\[unintelligible 01:49:09.23\]`.
MARKER = re.compile(r"\\\[(?:[^\]]*\s)?(\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?)\\\]")

pytestmark = pytest.mark.skipif(not FILES, reason="shared corpus not available")


def test_corpus_is_complete() -> None:
    assert len(FILES) == 105


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_real_transcript_parses_sanely(path: Path) -> None:
    transcript = parse_transcript(path.read_bytes(), path.name, hint=path.suffix)
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    assert len(transcript.segments) > 50
    assert 10 * 60 <= transcript.segments[-1].start <= transcript.duration <= 3 * 3600
    assert all(s.text.strip() == s.text and "  " not in s.text for s in transcript.segments)
    expected = {".vtt": "vtt", ".txt": "timed-lines", ".md": "markdown"}[path.suffix]
    if path.parent.parent.name == "djangochat":
        expected = "otter"
    assert transcript.format == expected


def test_djangochat_has_both_hosts_as_speakers() -> None:
    path = CORPUS / "djangochat" / "transcripts" / "djangocon-us-2022-recap.txt"
    transcript = parse_transcript(path.read_bytes(), path.name, hint="text/plain")
    assert {s.speaker for s in transcript.segments} == {"Will Vincent", "Carlton Gibson"}
    assert transcript.segments[0].start == 6.0
    assert transcript.segments[-1].start == 50 * 60 + 25


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
