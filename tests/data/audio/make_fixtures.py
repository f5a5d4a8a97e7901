"""Regenerate the speech fixtures of tests/test_transcribe*.py and tests/test_audio*.py (see README.md here).

Needs espeak-ng, sox and lame (Debian: `apt-get install espeak-ng sox lame`); the tests need none of them, they
read the committed files. Every sentence is spoken on its own and joined with known pauses, so `script.json`
records where each sentence really starts and ends.

    python tests/data/audio/make_fixtures.py
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VOICES = {"Sam": "en-us", "Alex": "en-gb+f3"}  # two clearly different voices: American male, British female
WORDS_PER_MINUTE = 150
SENTENCE_PAUSE = 0.35  # seconds between sentences of one paragraph
PARAGRAPH_PAUSE = 1.2  # between paragraphs
RATE = 22050  # espeak-ng's own rate

# (speaker, sentences). Each paragraph is about one thing, so a question can name it.
EPISODE = [
    (
        "Sam",
        [
            "Welcome to Garden Notes, the show about growing food in small places.",
            "I am Sam, and with me as always is Alex.",
            "Today we talk about keeping bees on a city roof, and about the tomatoes that nearly ruined my summer.",
        ],
    ),
    (
        "Alex",
        [
            "Thanks, Sam.",
            "The bees first.",
            "We put two hives on the roof of our apartment building in April.",
            "The neighbours were worried about stings, but nobody has been stung so far.",
            "The trick is to point the entrance away from the door, so the bees fly up and over people.",
        ],
    ),
    (
        "Sam",
        [
            "How much honey did you get in the first year?",
            "People always ask me that, and I never know what a good number is.",
        ],
    ),
    (
        "Alex",
        [
            "About twelve kilograms from the two hives together.",
            "That is not a lot, but city bees have a long season,"
            " because the parks and gardens flower one after another.",
            "We sold most of it to the people downstairs.",
        ],
    ),
    (
        "Sam",
        [
            "Now, my tomatoes.",
            "I grew them in buckets on the balcony, and in July the leaves turned yellow from the bottom up.",
            "It was not a disease at all.",
            "The buckets were too small, and the plants simply ran out of water every afternoon.",
            "Bigger pots and a layer of straw on the soil fixed it within two weeks.",
        ],
    ),
    (
        "Alex",
        [
            "That is the most common mistake I see.",
            "Anything in a container needs far more water than people think, especially on a windy roof.",
            "Next week we will talk about composting in a flat without the smell.",
            "Thanks for listening to Garden Notes.",
        ],
    ),
]
# Between these paragraphs (index of the paragraph after the gap): a stretch of music-like tones, and a long
# silence, which voice activity detection must skip without shifting the timestamps after them.
MUSIC_BEFORE = 2  # seconds of tones before paragraph 2
MUSIC_SECONDS = 6.0
SILENCE_BEFORE = 4
SILENCE_SECONDS = 8.0

CLIP = [
    (
        "Sam",
        [
            "My bicycle has a flat tyre again.",
            "I take the wheel off, find the hole in the tube, and put a patch over it.",
            "Then I pump the tyre up and check it the next morning.",
            "It takes about twenty minutes, and it saves me a trip to the shop.",
        ],
    ),
]


def run(*command: str) -> None:
    subprocess.run(command, check=True)


def speak(text: str, voice: str, path: Path) -> float:
    """One sentence as a WAV with the leading and trailing silence trimmed; returns its length in seconds."""
    raw = path.with_suffix(".raw.wav")
    run("espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-w", str(raw), text)
    # Trim silence at both ends so the sentence starts exactly where script.json says.
    trim = ("silence", "1", "0.01", "0.5%")
    run("sox", str(raw), str(path), *trim, "reverse", *trim, "reverse")
    return seconds(path)


def seconds(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True).stdout)


def gap(path: Path, length: float, *, music: bool = False) -> Path:
    if music:  # a chord that changes every second: tonal, not speech
        notes = [("220", "277", "330"), ("247", "311", "370"), ("196", "247", "294")]
        parts = []
        for i in range(int(length)):
            part = path.with_name(f"{path.stem}-{i}.wav")
            a, b, c = notes[i % len(notes)]
            run(
                "sox",
                "-n",
                "-r",
                str(RATE),
                "-c",
                "1",
                str(part),
                "synth",
                "1",
                "sine",
                a,
                "sine",
                b,
                "sine",
                c,
                "remix",
                "-",
                "gain",
                "-8",
                "fade",
                "0.05",
                "1",
                "0.05",
            )
            parts.append(str(part))
        run("sox", *parts, str(path))
    else:
        run("sox", "-n", "-r", str(RATE), "-c", "1", str(path), "trim", "0", f"{length}")
    return path


def compose(paragraphs, work: Path, name: str, gaps: dict[int, tuple[str, float]]) -> tuple[Path, list[dict]]:
    """Speak every sentence, join them with pauses (and the given gaps), and say where each one lies."""
    pieces: list[str] = []
    timeline: list[dict] = []
    at = 0.0
    for number, (speaker, sentences) in enumerate(paragraphs):
        if number in gaps:
            kind, length = gaps[number]
            pieces.append(str(gap(work / f"{name}-gap{number}.wav", length, music=kind == "music")))
            at += length
        for position, text in enumerate(sentences):
            clip = work / f"{name}-{number}-{position}.wav"
            length = speak(text, VOICES[speaker], clip)
            timeline.append(
                {
                    "paragraph": number,
                    "speaker": speaker,
                    "text": text,
                    "start": round(at, 3),
                    "end": round(at + length, 3),
                }
            )
            pieces.append(str(clip))
            at += length
            pause = PARAGRAPH_PAUSE if position == len(sentences) - 1 else SENTENCE_PAUSE
            pieces.append(str(gap(work / f"{name}-{number}-{position}-pause.wav", pause)))
            at += pause
    joined = work / f"{name}.wav"
    run("sox", *pieces, str(joined))
    return joined, timeline


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gaps = {MUSIC_BEFORE: ("music", MUSIC_SECONDS), SILENCE_BEFORE: ("silence", SILENCE_SECONDS)}
        episode, episode_timeline = compose(EPISODE, work, "episode", gaps)
        # The episode as podcasts publish it, at a low bit rate: 22.05 kHz mono MP3.
        run("lame", "--quiet", "-b", "32", str(episode), str(HERE / "episode.mp3"))
        clip, clip_timeline = compose(CLIP, work, "clip", {})
        # Formats the decoder must convert: 44.1 kHz stereo MP3, and 8 kHz mono WAV (telephone quality).
        run("sox", str(clip), "-r", "44100", "-c", "2", str(work / "clip-44k.wav"))
        run(
            "lame",
            "--quiet",
            "-b",
            "64",
            "--resample",
            "44.1",
            str(work / "clip-44k.wav"),
            str(HERE / "clip-44k-stereo.mp3"),
        )
        run("sox", str(clip), "-r", "8000", "-c", "1", "-b", "16", str(HERE / "clip-8k-mono.wav"))
        # No speech at all: tones and silence, as Ogg Vorbis.
        tones = gap(work / "tones.wav", 8.0, music=True)
        quiet = gap(work / "quiet.wav", 4.0)
        run("sox", str(tones), str(quiet), "-C", "0", str(HERE / "no-speech.ogg"))
    (HERE / "script.json").write_text(
        json.dumps({"episode.mp3": episode_timeline, "clip": clip_timeline}, indent=1) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
