"""Plain data shared by every stage: transcript segments, episodes, chunks and search hits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Where an episode's transcript comes from: published with the episode, or made here from its audio.
Origin = Literal["published", "machine"]


@dataclass(frozen=True, slots=True)
class Segment:
    """One timed piece of a transcript: a subtitle cue, a speaker turn, a timestamped line."""

    start: float
    text: str
    end: float | None = None
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A parsed transcript: segments sorted by start time, and the format it was read as."""

    source: str
    format: str
    segments: tuple[Segment, ...]

    @property
    def duration(self) -> float:
        last = self.segments[-1]
        return max(last.end or last.start, max(s.end or s.start for s in self.segments))


@dataclass(frozen=True, slots=True)
class Chapter:
    """A part of an episode as the podcast publishes it (or, `auto`, as index.topics found it)."""

    start: float
    title: str
    url: str | None = None  # a page the publisher links from this chapter
    auto: bool = False  # found in the transcript here; the title is key phrases from the chapter's own words


@dataclass(frozen=True, slots=True)
class Episode:
    """What we know of an episode: from an RSS item, or from a transcript's file name."""

    episode_id: str
    podcast: str
    title: str
    transcript: str  # path or URL of the transcript; for a machine transcript, the audio it is made from
    link: str | None = None
    guid: str | None = None
    number: int | None = None
    published: str | None = None  # ISO 8601 date, when the feed gives one
    transcript_type: str | None = None  # declared MIME type, a hint only
    link_template: str | None = None  # per-feed deep-link template, see index.links
    origin: Origin = "published"
    audio: str | None = None  # the feed's audio <enclosure> URL
    audio_type: str | None = None  # its declared MIME type
    audio_duration: float | None = None  # seconds, from <itunes:duration>; a hint for estimates and checks
    chapters_url: str | None = None  # the item's <podcast:chapters> JSON
    chapters: tuple[Chapter, ...] = ()  # Podlove Simple Chapters written in the feed item itself

    @property
    def source_file(self) -> str:
        """The transcript's file name, the key evaluation data uses."""
        return self.transcript.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]

    @property
    def format_hint(self) -> str:
        """What the parser may use to break a tie: the declared MIME type, else the file extension."""
        return self.transcript_type or ("." + self.source_file.rsplit(".", 1)[-1] if "." in self.source_file else "")


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence-sized unit inside a chunk, with its own time, so quotes can link to the exact moment."""

    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of one episode, the unit that is embedded and searched."""

    episode_id: str
    start: float
    end: float
    sentences: tuple[Sentence, ...]
    boilerplate: bool = False  # a sponsor read, intro or outro (index.boilerplate)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def speakers(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s in self.sentences:
            if s.speaker:
                seen.setdefault(s.speaker, None)
        return tuple(seen)


@dataclass(slots=True)
class Hit:
    """A search result: a passage, where it is, how well it matched, and which of its sentences to quote."""

    chunk_id: int
    episode_id: str
    episode_title: str
    podcast: str
    source_file: str
    start: float
    end: float
    url: str | None  # deep link to the quote (or the passage start when nothing was quoted)
    score: float
    sentences: list[Sentence]
    quote_first: int = 0  # the quote is sentences[quote_first : quote_last + 1]
    quote_last: int = -1
    episode_link: str | None = None
    episode_number: int | None = None
    published: str | None = None
    boilerplate: bool = False  # a sponsor read, intro or outro (shown only when nothing better matches)
    origin: Origin = "published"  # "machine": quoted from speech recognition, which mishears words
    chapter: str | None = None  # the title of the chapter the quote is in
    chapter_start: float | None = None
    chapter_auto: bool = False  # an automatic chapter: its title is key phrases, not the publisher's
    chapter_url: str | None = None  # deep link to the chapter's start

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def speakers(self) -> list[str]:
        return list(dict.fromkeys(s.speaker for s in self.sentences if s.speaker))

    @property
    def quote(self) -> list[Sentence]:
        return self.sentences[self.quote_first : self.quote_last + 1]

    @property
    def quote_start(self) -> float:
        quote = self.quote
        return quote[0].start if quote else self.start

    def to_json(self) -> dict[str, object]:
        """The stable machine-readable shape used by `scripts/query.py --json/--batch`."""
        return {
            "episode_id": self.episode_id,
            "episode_title": self.episode_title,
            "podcast": self.podcast,
            "source_file": self.source_file,
            "start": round(self.start, 2),
            "end": round(self.end, 2),
            "url": self.url,
            "speakers": self.speakers,
            "text": self.text,
            "score": round(self.score, 4),
            "quote": " ".join(s.text for s in self.quote),
            "quote_start": round(self.quote_start, 2),
            "transcript": self.origin,
            "chapter": self.chapter,
            "chapter_start": None if self.chapter_start is None else round(self.chapter_start, 2),
            "chapter_auto": self.chapter_auto,
        }
