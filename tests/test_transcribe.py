"""Speech recognition with the real bundled Whisper tiny.en on real speech (tests/data/audio, made with espeak-ng).

The model is loaded once per session and each fixture transcribed once. Words are checked in order against
the script the voices read, and times against where each sentence was really placed (script.json).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import pytest

from index.audio.decode import decode
from index.audio.formats import podcast_json, sentences, webvtt
from index.audio.model import BUNDLED_SHA256, WhisperModelError, find_model, verify
from index.audio.recognize import MachineTranscript, Recognizer, Word
from index.audio.scoring import agreement as word_agreement
from index.audio.scoring import start_errors
from index.chunking import split_sentences
from index.errors import AudioError
from index.parsing import parse_transcript

AUDIO = Path(__file__).resolve().parent / "data" / "audio"
SCRIPT = json.loads((AUDIO / "script.json").read_text(encoding="utf-8"))


def agreement(name: str, words: list[Word]) -> float:
    return word_agreement(" ".join(s["text"] for s in SCRIPT[name]), words)


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    recognizer = Recognizer(find_model("tiny.en"))
    recognizer.load()
    return recognizer


def transcribe(recognizer: Recognizer, name: str) -> MachineTranscript:
    path = AUDIO / name
    return recognizer.transcribe(decode(path, str(path)), str(path))


@pytest.fixture(scope="session")
def episode(recognizer) -> MachineTranscript:
    return transcribe(recognizer, "episode.mp3")


def test_the_script_is_recovered_word_for_word_in_order(episode):
    assert agreement("episode.mp3", list(episode.words)) >= 0.80


def test_each_paragraph_starts_within_a_second_of_where_it_is_spoken(episode):
    errors = start_errors(SCRIPT["episode.mp3"], list(episode.words))
    assert len(errors) == 6 and None not in errors.values(), errors  # every paragraph's first word was heard
    assert max(errors.values()) <= 1.0, errors


def test_music_and_a_long_silence_are_skipped_and_later_times_stay_right(episode):
    script = SCRIPT["episode.mp3"]
    gaps = []  # (end of the speech before, start of the paragraph after) around the music and the silence
    for before, after in itertools.pairwise(script):
        if after["start"] - before["end"] > 5:
            gaps.append((before["end"], after["start"]))
    assert len(gaps) == 2
    for begin, end in gaps:  # the same one-second tolerance as a paragraph's start: Whisper may hear a word early
        assert not [w for w in episode.words if begin + 1.0 < w.start < end - 1.0], (begin, end)
    assert episode.speech < episode.duration - 10  # voice activity detection cut them out before decoding
    last = script[-1]
    assert any(abs(w.start - last["start"]) <= 1.0 for w in episode.words)  # times after the gaps still right


def test_indexed_sentences_start_exactly_at_their_first_word(episode):
    transcript = parse_transcript(podcast_json(episode.words), "episode.json", hint="application/json")
    indexed = split_sentences(transcript.segments, transcript.duration)
    made = sentences(episode.words)
    assert [s.text for s in indexed] == [" ".join(w.text for w in group) for group in made]
    assert [s.start for s in indexed] == [round(group[0].start, 3) for group in made]
    assert [s.end for s in indexed] == [round(group[-1].end, 3) for group in made]


def test_the_webvtt_output_is_a_transcript_the_index_reads(episode):
    transcript = parse_transcript(webvtt(episode.words), "episode.vtt")
    assert transcript.format == "vtt"
    assert " ".join(s.text for s in transcript.segments).split() == [w.text for w in episode.words]
    assert transcript.segments[0].start == round(episode.words[0].start, 3)


@pytest.mark.parametrize(
    ("name", "rate", "channels", "floor"),
    [
        ("clip-44k-stereo.mp3", 44100, 2, 0.80),
        # Telephone bandwidth (4 kHz) loses the consonants espeak-ng's voice relies on: tiny.en gets 64 % here.
        ("clip-8k-mono.wav", 8000, 1, 0.60),
    ],
)
def test_other_sample_rates_and_channel_layouts_are_converted(recognizer, name, rate, channels, floor):
    import av

    with av.open(str(AUDIO / name)) as container:
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels) == (rate, channels)
    samples = decode(AUDIO / name, name)
    assert abs(samples.size / 16000 - SCRIPT["clip"][-1]["end"]) < 1.5  # 16 kHz mono, as long as the clip
    transcript = recognizer.transcribe(samples, name)
    assert agreement("clip", list(transcript.words)) >= floor
    assert abs(transcript.words[0].start - SCRIPT["clip"][0]["start"]) <= 1.0


def test_audio_without_speech_is_skipped_with_that_reason(recognizer):
    with pytest.raises(AudioError, match=r"no-speech.ogg: no speech found in 0:12 of audio"):
        transcribe(recognizer, "no-speech.ogg")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file: no audio"),
        (b"<html><body><h1>Not Found</h1></body></html>", "not audio that can be decoded"),
        (bytes(range(256)) * 40, "not audio that can be decoded"),
    ],
    ids=["empty", "html-page", "random-bytes"],
)
def test_bytes_that_are_not_audio_are_a_clear_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "episode-7.mp3"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=re.escape(f"{path}: {reason}")):
        decode(path, str(path))


def test_an_mp3_cut_short_at_its_source_is_caught_against_the_feed_duration(tmp_path):
    whole = (AUDIO / "episode.mp3").read_bytes()
    cut = tmp_path / "episode.mp3"
    cut.write_bytes(whole[: len(whole) * 2 // 5])
    with pytest.raises(AudioError, match=r"the audio ends at 0:4\d but the feed says the episode is 1:47"):
        decode(cut, str(cut), expected=107.0)
    assert decode(cut, str(cut)).size > 0  # without a declared length there is nothing to compare with


def test_the_bundled_model_files_are_checked_against_their_recorded_hashes(tmp_path):
    bundled = find_model("tiny.en")
    assert bundled.bundled and bundled.model_id == "whisper-tiny.en@sha256:1a5afae06a4db91c"
    copy = tmp_path / "model"
    copy.mkdir()
    for name in BUNDLED_SHA256:
        (copy / name).symlink_to(bundled.path / name)
    verify(copy, BUNDLED_SHA256)
    (copy / "config.json").unlink()
    (copy / "config.json").write_bytes((bundled.path / "config.json").read_bytes().replace(b"50259", b"50258", 1))
    with pytest.raises(WhisperModelError, match=r"config.json: SHA-256 [0-9a-f]{16}… differs from the 14b1b421"):
        verify(copy, BUNDLED_SHA256)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(WhisperModelError, match=r"tokenizer.json: missing"):
        verify(copy, {"tokenizer.json": BUNDLED_SHA256["tokenizer.json"]})


def test_whisper_model_may_name_a_model_directory(tmp_path):
    with pytest.raises(WhisperModelError, match=r"WHISPER_MODEL='small.en': not a directory"):
        find_model("small.en")
    other = tmp_path / "my-whisper"
    other.mkdir()
    with pytest.raises(WhisperModelError, match=r"missing model.bin, config.json, tokenizer.json"):
        find_model(str(other))
    bundled = find_model("tiny.en")
    for name in BUNDLED_SHA256:
        shutil.copy(bundled.path / name, other / name)
    found = find_model(str(other))
    assert found.model_id == "my-whisper@sha256:1a5afae06a4db91c" and not found.bundled
    (other / "model.bin").write_bytes(b"other weights")  # new weights at the same path: another model id
    assert find_model(str(other)).model_id != found.model_id


@pytest.mark.parametrize("damage", [bytes(1024), bytes(range(256)) * 40], ids=["zeros", "garbage"])
def test_a_damaged_stretch_in_the_middle_is_silence_not_the_end_of_the_episode(tmp_path, damage):
    damaged = bytearray((AUDIO / "episode.mp3").read_bytes())
    damaged[200_000 : 200_000 + len(damage)] = damage  # at 47 %: faster-whisper's decoder stopped there, at 0:50
    path = tmp_path / "episode.mp3"
    path.write_bytes(damaged)
    whole = decode(AUDIO / "episode.mp3", "whole")
    assert abs(decode(path, str(path)).size - whole.size) < 3 * 16_000  # the lost stretch is silence


def test_decoding_stops_at_the_hour_limit_whatever_the_file_declares(tmp_path, monkeypatch):
    import index.audio.decode as decoding

    monkeypatch.setattr(decoding, "MAX_HOURS", 1 / 60)  # a minute: the fixture's 1:47 is over it
    with pytest.raises(AudioError, match=r"episode.mp3: the audio is over the 0.016666666666666666-hour limit"):
        decode(AUDIO / "episode.mp3", "episode.mp3")
