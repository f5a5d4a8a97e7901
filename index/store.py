"""SQLite metadata of one build: episodes, timed sentences, chunks, and full-text indexes over them.

Each build writes a fresh database, so the schema is versioned by the manifest's format version rather than
by migrations. Chunk ids are the FAISS ids of their vectors.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import IndexLoadError
from index.models import Chapter, Chunk, Episode, Sentence
from index.related import Related
from index.sqlite_util import connect

SCHEMA = """
CREATE TABLE episodes (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    podcast TEXT NOT NULL,
    title TEXT NOT NULL,
    link TEXT,
    guid TEXT,
    number INTEGER,
    published TEXT,
    transcript TEXT NOT NULL,
    transcript_type TEXT,
    transcript_format TEXT NOT NULL,
    source_file TEXT NOT NULL,
    link_template TEXT,
    duration REAL NOT NULL,
    origin TEXT NOT NULL DEFAULT 'published'
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(id),
    start REAL NOT NULL,
    end REAL NOT NULL,
    speaker TEXT,
    text TEXT NOT NULL
);
CREATE INDEX sentences_by_episode ON sentences(episode_id, start);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(id),
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    speakers TEXT NOT NULL,
    text TEXT NOT NULL,
    boilerplate INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX chunks_by_episode ON chunks(episode_id, start);
CREATE VIRTUAL TABLE sentences_fts USING fts5(
    text, content='sentences', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TABLE chapters (
    id INTEGER PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes(id),
    start REAL NOT NULL,
    end REAL NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    auto INTEGER NOT NULL
);
CREATE INDEX chapters_by_episode ON chapters(episode_id, start);
CREATE TABLE related (
    episode_id INTEGER NOT NULL REFERENCES episodes(id),
    rank INTEGER NOT NULL,
    other_id INTEGER NOT NULL REFERENCES episodes(id),
    score REAL NOT NULL,
    chapter_id INTEGER REFERENCES chapters(id),
    PRIMARY KEY (episode_id, rank)
);
"""


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    id: int
    key: str
    podcast: str
    title: str
    link: str | None
    number: int | None
    published: str | None
    source_file: str
    link_template: str | None
    duration: float
    transcript_format: str
    origin: str = "published"  # "machine": transcribed from the audio here (builds before it have none)


@dataclass(frozen=True, slots=True)
class ChapterRow:
    id: int
    episode_id: int  # the episode's row id
    start: float
    end: float
    title: str
    url: str | None
    auto: bool


@dataclass(frozen=True, slots=True)
class RelatedRow:
    episode: EpisodeRow
    score: float
    chapter: ChapterRow | None  # the chapter of `episode` nearest to the one asked about


@dataclass(frozen=True, slots=True)
class SpeakerRow:
    podcast: str
    name: str
    sentences: int  # how many sentences they speak in this podcast


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: int
    episode: EpisodeRow
    start: float
    end: float
    boilerplate: bool
    first_sentence: int
    last_sentence: int


@dataclass(frozen=True, slots=True)
class ChunkTable:
    """What ranking needs of every passage, as arrays indexed by chunk id: held in memory so a question costs no
    SQLite query until its answers' sentences are read."""

    episode: np.ndarray  # episode row id
    start: np.ndarray
    end: np.ndarray
    first_sentence: np.ndarray
    last_sentence: np.ndarray
    boilerplate: np.ndarray  # bool


class StoreWriter:
    """Appends episodes with their sentences and chunks to a new database."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path)
        self._conn.executescript(SCHEMA)
        self._next_chunk = 0
        self._episode_rows: list[int] = []
        self._chapter_ids: list[list[int]] = []

    def add_episode(
        self,
        episode: Episode,
        *,
        transcript_format: str,
        duration: float,
        sentences: Sequence[Sentence],
        chunks: Sequence[Chunk],
        chapters: Sequence[Chapter] = (),
    ) -> list[int]:
        """Store one episode; returns the ids given to its chunks (consecutive, from 0 across the build)."""
        cursor = self._conn.execute(
            "INSERT INTO episodes (key, podcast, title, link, guid, number, published, transcript,"
            " transcript_type, transcript_format, source_file, link_template, duration, origin)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                episode.episode_id,
                episode.podcast,
                episode.title,
                episode.link,
                episode.guid,
                episode.number,
                episode.published,
                episode.transcript,
                episode.transcript_type,
                transcript_format,
                episode.source_file,
                episode.link_template,
                duration,
                episode.origin,
            ),
        )
        episode_row = cursor.lastrowid
        assert episode_row is not None
        self._episode_rows.append(episode_row)
        ends = [c.start for c in chapters[1:]] + [duration]
        self._chapter_ids.append(
            [
                self._conn.execute(
                    "INSERT INTO chapters (episode_id, start, end, title, url, auto) VALUES (?, ?, ?, ?, ?, ?)",
                    (episode_row, c.start, end, c.title, c.url, int(c.auto)),
                ).lastrowid
                or 0
                for c, end in zip(chapters, ends, strict=True)
            ]
        )
        first_id = self._conn.execute("SELECT COALESCE(MAX(id), -1) + 1 FROM sentences").fetchone()[0]
        self._conn.executemany(
            "INSERT INTO sentences (id, episode_id, start, end, speaker, text) VALUES (?, ?, ?, ?, ?, ?)",
            [(first_id + i, episode_row, s.start, s.end, s.speaker, s.text) for i, s in enumerate(sentences)],
        )
        position = {id(s): first_id + i for i, s in enumerate(sentences)}
        ids = []
        for chunk in chunks:
            chunk_id = self._next_chunk
            self._next_chunk += 1
            speakers = list(chunk.speakers)
            self._conn.execute(
                "INSERT INTO chunks (id, episode_id, first_sentence, last_sentence, start, end, speakers, text,"
                " boilerplate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chunk_id,
                    episode_row,
                    position[id(chunk.sentences[0])],
                    position[id(chunk.sentences[-1])],
                    chunk.start,
                    chunk.end,
                    json.dumps(speakers),
                    chunk.text,
                    int(chunk.boilerplate),
                ),
            )
            ids.append(chunk_id)
        return ids

    def add_related(self, related: Sequence[Sequence[Related]]) -> None:
        """Each episode's related ones, by position in the order the episodes were added."""
        rows, chapters = self._episode_rows, self._chapter_ids
        self._conn.executemany(
            "INSERT INTO related (episode_id, rank, other_id, score, chapter_id) VALUES (?, ?, ?, ?, ?)",
            [
                (
                    rows[i],
                    rank,
                    rows[r.other],
                    r.score,
                    None if r.chapter is None else chapters[r.other][r.chapter],
                )
                for i, found in enumerate(related)
                for rank, r in enumerate(found)
            ],
        )

    def close(self) -> None:
        self._conn.execute("INSERT INTO sentences_fts(sentences_fts) VALUES ('rebuild')")
        self._conn.commit()
        self._conn.execute("VACUUM")
        self._conn.close()


class Store:
    """Read-only access to a build's metadata, shared by the search threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect(path, readonly=True)
        self._lock = threading.Lock()
        self._speakers: list[SpeakerRow] | None = None
        try:
            self._episodes = {row.id: row for row in self._load_episodes()}
            self.table = self._load_chunks()
            self._chapters = self._load_chapters()
            self._chapter_by_id = {c.id: c for found in self._chapters.values() for c in found}
        except sqlite3.DatabaseError as exc:  # not a database, or not ours: the index is damaged, say so
            self._conn.close()
            raise IndexLoadError(f"{path}: not a readable index database ({exc})") from exc

    @property
    def episodes(self) -> list[EpisodeRow]:
        return list(self._episodes.values())

    @property
    def podcasts(self) -> list[str]:
        """The build's shows, in alphabetical order."""
        return sorted({e.podcast for e in self._episodes.values()}, key=str.casefold)

    def episode_by_key(self, key: str) -> EpisodeRow | None:
        return next((e for e in self._episodes.values() if e.key == key), None)

    def chunk(self, chunk_id: int) -> ChunkRow:
        table = self.table
        return ChunkRow(
            id=chunk_id,
            episode=self._episodes[int(table.episode[chunk_id])],
            start=float(table.start[chunk_id]),
            end=float(table.end[chunk_id]),
            boilerplate=bool(table.boilerplate[chunk_id]),
            first_sentence=int(table.first_sentence[chunk_id]),
            last_sentence=int(table.last_sentence[chunk_id]),
        )

    def chapters(self, episode: EpisodeRow) -> list[ChapterRow]:
        """The episode's chapters in order (none for builds made before chapters were stored)."""
        return list(self._chapters.get(episode.id, ()))

    def chapter_at(self, episode: EpisodeRow, seconds: float) -> ChapterRow | None:
        """The chapter playing at `seconds`; None before the first or when the episode has none."""
        chapters = self._chapters.get(episode.id, [])
        at = bisect.bisect_right([c.start for c in chapters], seconds + 1e-6) - 1
        return chapters[at] if at >= 0 else None

    def related(self, episode: EpisodeRow) -> list[RelatedRow]:
        """Episodes that talk about the same things, nearest first, each with its chapter that shows it."""
        if not self._has("related"):
            return []
        rows = self.query(
            "SELECT other_id, score, chapter_id FROM related WHERE episode_id = ? ORDER BY rank", [episode.id]
        )
        return [
            RelatedRow(self._episodes[r["other_id"]], r["score"], self._chapter_by_id.get(r["chapter_id"]))
            for r in rows
            if r["other_id"] in self._episodes
        ]

    def sentences(self, spans: Sequence[tuple[int, int]]) -> list[list[Sentence]]:
        """The sentences of each inclusive (first, last) id span, in one query."""
        if not spans:
            return []
        where = " OR ".join(["id BETWEEN ? AND ?"] * len(spans))
        rows = self.query(
            f"SELECT id, start, end, speaker, text FROM sentences WHERE {where}", [i for s in spans for i in s]
        )
        by_id = {r["id"]: Sentence(start=r["start"], end=r["end"], text=r["text"], speaker=r["speaker"]) for r in rows}
        return [[by_id[i] for i in range(first, last + 1) if i in by_id] for first, last in spans]

    def speakers(self) -> list[SpeakerRow]:
        """Every named speaker of each podcast, most sentences first (for a speaker filter's suggestions).
        Counted once: a build never changes."""
        if self._speakers is None:
            rows = self.query(
                "SELECT e.podcast, s.speaker, COUNT(*) FROM sentences s JOIN episodes e ON e.id = s.episode_id"
                " WHERE s.speaker IS NOT NULL AND s.speaker != '' GROUP BY e.podcast, s.speaker"
                " ORDER BY COUNT(*) DESC, s.speaker"
            )
            self._speakers = [SpeakerRow(podcast, name, count) for podcast, name, count in rows]
        return list(self._speakers)

    def count(self, table: str) -> int:
        assert table in {"episodes", "sentences", "chunks"}
        return self.query(f"SELECT COUNT(*) FROM {table}")[0][0]

    def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one read; a lock keeps worker threads from interleaving on the shared connection."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self._conn.close()

    def _load_chunks(self) -> ChunkTable:
        rows = self.query(
            "SELECT episode_id, start, end, first_sentence, last_sentence, boilerplate FROM chunks ORDER BY id"
        )
        columns = list(zip(*rows, strict=True)) if rows else [()] * 6
        kinds = (np.int64, np.float64, np.float64, np.int64, np.int64, bool)
        return ChunkTable(*(np.asarray(c, dtype=k) for c, k in zip(columns, kinds, strict=True)))

    def _has(self, table: str) -> bool:
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]))

    def _load_chapters(self) -> dict[int, list[ChapterRow]]:
        found: dict[int, list[ChapterRow]] = {}
        if self._has("chapters"):
            for row in self.query(
                "SELECT id, episode_id, start, end, title, url, auto FROM chapters ORDER BY episode_id, start"
            ):
                found.setdefault(row["episode_id"], []).append(ChapterRow(**{**dict(row), "auto": bool(row["auto"])}))
        return found

    def _load_episodes(self) -> Iterable[EpisodeRow]:
        for row in self.query(
            "SELECT id, key, podcast, title, link, number, published, source_file, link_template, duration,"
            " transcript_format, origin FROM episodes ORDER BY podcast, number, title"
        ):
            yield EpisodeRow(**dict(row))
