"""SQLite metadata of one build: episodes, timed sentences, chunks, and full-text indexes over them.

Each build writes a fresh database, so the schema is versioned by the manifest's format version rather than
by migrations. Chunk ids are the FAISS ids of their vectors.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from index.errors import IndexLoadError
from index.models import Chunk, Episode, Sentence
from index.sqlite_util import connect
from index.text import soundex, words

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
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, speakers, title, content='', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE sentences_fts USING fts5(
    text, content='sentences', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TABLE vocabulary (
    term TEXT PRIMARY KEY,
    sound TEXT NOT NULL,
    df INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX vocabulary_by_sound ON vocabulary(sound);
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
    speakers: list[str]
    text: str
    boilerplate: bool
    first_sentence: int
    last_sentence: int


class StoreWriter:
    """Appends episodes with their sentences and chunks to a new database."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path)
        self._conn.executescript(SCHEMA)
        self._next_chunk = 0
        self._document_frequency: Counter[str] = Counter()

    def add_episode(
        self,
        episode: Episode,
        *,
        transcript_format: str,
        duration: float,
        sentences: Sequence[Sentence],
        chunks: Sequence[Chunk],
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
            self._conn.execute(
                "INSERT INTO chunks_fts (rowid, text, speakers, title) VALUES (?, ?, ?, ?)",
                (chunk_id, chunk.text, " ".join(speakers), episode.title),
            )
            self._document_frequency.update(set(words(chunk.text)))
            ids.append(chunk_id)
        return ids

    def close(self) -> None:
        self._conn.executemany(
            "INSERT INTO vocabulary (term, sound, df) VALUES (?, ?, ?)",
            (
                (term, soundex(term), df)
                for term, df in self._document_frequency.items()
                if len(term) >= 3 and any(c.isalpha() for c in term)
            ),
        )
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
        except sqlite3.DatabaseError as exc:  # not a database, or not ours: the index is damaged, say so
            self._conn.close()
            raise IndexLoadError(f"{path}: not a readable index database ({exc})") from exc

    @property
    def episodes(self) -> list[EpisodeRow]:
        return list(self._episodes.values())

    def episode_by_key(self, key: str) -> EpisodeRow | None:
        return next((e for e in self._episodes.values() if e.key == key), None)

    def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        """Rows for the given chunk ids (missing ids are left out)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.query(
            "SELECT id, episode_id, start, end, speakers, text, boilerplate, first_sentence, last_sentence"
            f" FROM chunks WHERE id IN ({marks})",
            list(ids),
        )
        return {
            row["id"]: ChunkRow(
                id=row["id"],
                episode=self._episodes[row["episode_id"]],
                start=row["start"],
                end=row["end"],
                speakers=json.loads(row["speakers"]),
                text=row["text"],
                boilerplate=bool(row["boilerplate"]),
                first_sentence=row["first_sentence"],
                last_sentence=row["last_sentence"],
            )
            for row in rows
        }

    def sentences(self, first: int, last: int) -> list[Sentence]:
        rows = self.query(
            "SELECT start, end, speaker, text FROM sentences WHERE id BETWEEN ? AND ? ORDER BY id",
            (first, last),
        )
        return [Sentence(start=r["start"], end=r["end"], text=r["text"], speaker=r["speaker"]) for r in rows]

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

    def document_frequency(self, terms: Iterable[str]) -> dict[str, int]:
        """How many passages use each of `terms` (absent terms are left out)."""
        terms = list(terms)
        found: dict[str, int] = {}
        for first in range(0, len(terms), 500):
            part = terms[first : first + 500]
            marks = ",".join("?" * len(part))
            found.update(self.query(f"SELECT term, df FROM vocabulary WHERE term IN ({marks})", part))
        return found

    def sounding_like(self, term: str) -> dict[str, int]:
        """Index words with the same Soundex code as `term`, with their passage counts."""
        return dict(self.query("SELECT term, df FROM vocabulary WHERE sound = ?", (soundex(term),)))

    def count(self, table: str) -> int:
        assert table in {"episodes", "sentences", "chunks"}
        return self.query(f"SELECT COUNT(*) FROM {table}")[0][0]

    def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one read; a lock keeps worker threads from interleaving on the shared connection."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        self._conn.close()

    def _load_episodes(self) -> Iterable[EpisodeRow]:
        # Builds written before transcripts had an origin have no such column: all of theirs were published.
        origin = ", origin" if has_column(self._conn, "episodes", "origin") else ""
        for row in self.query(
            "SELECT id, key, podcast, title, link, number, published, source_file, link_template, duration,"
            f" transcript_format{origin} FROM episodes ORDER BY podcast, number, title"
        ):
            yield EpisodeRow(**dict(row))


def has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))
