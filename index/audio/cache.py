"""Every transcript made from audio, so a weekly run transcribes only new episodes.

A transcript is keyed by the SHA-256 of the audio's bytes and everything the recognizer's output depends on
(model id, compute type, decoding and VAD settings, version). Each enclosure URL remembers the validators
(ETag, Last-Modified) and content hash of its last download, so an unchanged episode costs one 304 and no
download, and the same file under a new URL is not transcribed again. Audio that cannot be transcribed (no
speech, not audio) is remembered too, with its reason. Each episode is one SQLite commit: a killed run loses
at most the episode it was transcribing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from index.audio.recognize import MachineTranscript, Word
from index.fetch import Downloaded, Validators
from index.sqlite_util import connect

_MIGRATIONS = [
    """
    CREATE TABLE enclosures (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        checked_at REAL NOT NULL
    );
    CREATE TABLE transcripts (
        key TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        model TEXT NOT NULL,
        settings TEXT NOT NULL,
        duration REAL,
        speech REAL,
        seconds REAL,
        words INTEGER,
        body BLOB,
        reason TEXT,
        created_at REAL NOT NULL
    );
    """,
    # ID3 chapters of the audio (Podcasting 2.0 JSON), or why its tag could not be read; earlier rows have none.
    """
    ALTER TABLE transcripts ADD COLUMN chapters TEXT;
    ALTER TABLE transcripts ADD COLUMN chapters_reason TEXT;
    """,
]


_COLUMNS = "body, reason, duration, seconds, chapters, chapters_reason"


@dataclass(frozen=True, slots=True)
class Cached:
    """A transcript from an earlier run, or why that audio could not be transcribed (`body` None)."""

    body: bytes | None  # Podcasting 2.0 JSON, one segment per word
    reason: str | None
    duration: float | None
    seconds: float | None
    chapters: str | None = None  # the audio's ID3 chapters, Podcasting 2.0 JSON
    chapters_reason: str | None = None  # why its tag's chapters could not be read

    def words(self) -> list[Word]:
        segments = json.loads(self.body or b'{"segments": []}')["segments"]
        return [Word(s["startTime"], s["endTime"], s["body"]) for s in segments]


class TranscriptCache:
    def __init__(self, path: Path | str, settings: dict[str, object]) -> None:
        """`settings`: the recognizer's (Recognizer.settings); transcripts made with others are not seen."""
        self._conn = connect(path, _MIGRATIONS)
        self._settings = json.dumps(settings, sort_keys=True)
        self._model = str(settings.get("model"))

    def close(self) -> None:
        self._conn.close()

    def key(self, sha256: str) -> str:
        return hashlib.sha256(f"{sha256}\0{self._settings}".encode()).hexdigest()

    def validators(self, url: str) -> Validators | None:
        """What the last download of `url` was identified by; None when it was never downloaded."""
        row = self._conn.execute("SELECT etag, last_modified FROM enclosures WHERE url = ?", (url,)).fetchone()
        return None if row is None else Validators(row["etag"], row["last_modified"])

    def transcript(self, sha256: str) -> Cached | None:
        """The transcript of the audio with this content hash, made with these settings."""
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM transcripts WHERE key = ?", (self.key(sha256),)).fetchone()
        return None if row is None else _cached(row)

    def for_url(self, url: str, *, any_settings: bool = False) -> Cached | None:
        """The transcript of what `url` served when it was last downloaded, without asking its server. With
        `any_settings`, one made with other settings (another model or compute type) when none with these is:
        it keeps serving until --transcribe makes one with these."""
        row = self._conn.execute("SELECT sha256 FROM enclosures WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        cached = self.transcript(row["sha256"])
        if any_settings and (cached is None or cached.body is None):  # a failure with these settings, too
            cached = self._newest(row["sha256"]) or cached
        return cached

    def _newest(self, sha256: str) -> Cached | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM transcripts WHERE sha256 = ? AND body IS NOT NULL ORDER BY created_at DESC",
            (sha256,),
        ).fetchone()
        return None if row is None else _cached(row)

    def remember(self, url: str, downloaded: Downloaded) -> None:
        """`url` now serves these bytes (a transcript of them is already cached)."""
        with self._conn:
            self._remember(url, downloaded)

    def put(
        self,
        url: str | None,
        downloaded: Downloaded,
        transcript: MachineTranscript,
        body: bytes,
        chapters: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """Store a new transcript of the downloaded audio, with its chapters (JSON, or why there are none), and
        (for a URL) that the URL serves it: one commit."""
        row = (transcript.duration, transcript.speech, transcript.seconds, len(transcript.words), zlib.compress(body))
        self._store(url, downloaded, row, None, chapters)

    def put_failure(self, url: str | None, downloaded: Downloaded, reason: str) -> None:
        """Remember that this audio cannot be transcribed (no speech, not audio), so no run tries again."""
        self._store(url, downloaded, (None, None, None, None, None), reason)

    def speed(self) -> float | None:
        """The real-time factor measured on the transcripts made with this model here, for estimates."""
        row = self._conn.execute(
            "SELECT SUM(duration), SUM(seconds) FROM transcripts WHERE model = ? AND body IS NOT NULL", (self._model,)
        ).fetchone()
        return row[0] / row[1] if row[0] and row[1] else None

    def _store(
        self,
        url: str | None,
        downloaded: Downloaded,
        row: tuple,
        reason: str | None,
        chapters: tuple[str | None, str | None] = (None, None),
    ) -> None:
        key = self.key(downloaded.sha256)
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO transcripts (key, sha256, model, settings, duration, speech, seconds, words,"
                " body, reason, created_at, chapters, chapters_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, downloaded.sha256, self._model, self._settings, *row, reason, time.time(), *chapters),
            )
            if url is not None:
                self._remember(url, downloaded)

    def _remember(self, url: str, downloaded: Downloaded) -> None:
        validators = downloaded.validators
        self._conn.execute(
            "INSERT OR REPLACE INTO enclosures (url, etag, last_modified, sha256, bytes, checked_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (url, validators.etag, validators.last_modified, downloaded.sha256, downloaded.bytes, time.time()),
        )


def _cached(row: sqlite3.Row) -> Cached:
    body = zlib.decompress(row["body"]) if row["body"] is not None else None
    return Cached(body, row["reason"], row["duration"], row["seconds"], row["chapters"], row["chapters_reason"])
