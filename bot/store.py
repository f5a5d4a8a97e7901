"""The bot's own SQLite: questions it answered (so buttons work after a restart) and users' feedback.

User ids are stored only as salted hashes: feedback can be grouped per person without knowing who they are.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.models import Hit
from index.search import Filters
from index.sqlite_util import connect

MIGRATIONS = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        question TEXT NOT NULL,
        episode TEXT,
        per_page INTEGER NOT NULL,
        user_hash TEXT NOT NULL,
        asked_at REAL NOT NULL
    );
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        question_id INTEGER NOT NULL REFERENCES questions(id),
        question TEXT NOT NULL,
        page_offset INTEGER NOT NULL,
        hits TEXT NOT NULL,
        vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
        comment TEXT,
        user_hash TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE shown (
        question_id INTEGER NOT NULL REFERENCES questions(id),
        page_offset INTEGER NOT NULL,
        hits TEXT NOT NULL,
        PRIMARY KEY (question_id, page_offset)
    );
    """,
    # Insights (bot/insights.py): where a question was asked, whether a hit cleared the score floor, the best
    # score, and the question's vector (float16) with the model that made it, for grouping questions by meaning.
    # Until now only answered questions were recorded, each with its first page in `shown`.
    """
    ALTER TABLE questions ADD COLUMN guild_id INTEGER;
    ALTER TABLE questions ADD COLUMN answered INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE questions ADD COLUMN top_score REAL;
    ALTER TABLE questions ADD COLUMN vector BLOB;
    ALTER TABLE questions ADD COLUMN vector_model TEXT;
    UPDATE questions SET top_score = (
        SELECT json_extract(hits, '$[0].score') FROM shown WHERE question_id = questions.id AND page_offset = 0
    );
    CREATE INDEX questions_by_time ON questions(asked_at);
    CREATE INDEX feedback_by_question ON feedback(question_id);
    """,
    # Watches (bot/watches.py): a phrase a server wants to hear about, and per watch every episode it has
    # already seen (key and content fingerprint), so each new or updated episode is posted about once.
    """
    CREATE TABLE watches (
        id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        phrase TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (guild_id, channel_id, phrase)
    );
    CREATE TABLE watch_seen (
        watch_id INTEGER NOT NULL REFERENCES watches(id),
        episode_key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        PRIMARY KEY (watch_id, episode_key)
    ) WITHOUT ROWID;
    """,
    # Issue 14: the scope a question was asked in (for More), per-server settings, forum posts, follow-up threads
    # and hand-offs (bot/guild_settings.py, bot/forums.py, bot/followups.py, bot/handoff.py).
    """
    ALTER TABLE questions ADD COLUMN podcasts TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE questions ADD COLUMN speaker TEXT;
    CREATE TABLE guild_settings (
        guild_id INTEGER PRIMARY KEY,
        mentions INTEGER NOT NULL DEFAULT 1,
        handoff_role_id INTEGER,
        followup_idle_minutes INTEGER NOT NULL DEFAULT 30
    );
    CREATE TABLE channel_scopes (
        channel_id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        podcasts TEXT NOT NULL
    );
    CREATE TABLE forum_channels (
        channel_id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        skip_tag_id INTEGER
    );
    CREATE TABLE forum_posts (
        thread_id INTEGER PRIMARY KEY,
        state TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE followups (
        thread_id INTEGER NOT NULL,
        user_hash TEXT NOT NULL,
        question_id INTEGER NOT NULL REFERENCES questions(id),
        last_active REAL NOT NULL,
        PRIMARY KEY (thread_id, user_hash)
    );
    CREATE TABLE handoffs (
        question_id INTEGER PRIMARY KEY REFERENCES questions(id),
        created_at REAL NOT NULL
    );
    """,
    # The question a "More from <episode>" search narrows: stored for its own buttons, not asked again, so
    # insights count it once and a hand-off for it is a hand-off for the first.
    """
    ALTER TABLE questions ADD COLUMN follows INTEGER REFERENCES questions(id);
    """,
]
KEEP_QUESTIONS_DAYS = 90
QUOTE_CHARS = 300  # of each shown quote kept with the question


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    id: int
    question: str
    episode: str | None
    per_page: int
    podcasts: tuple[str, ...] = ()
    speaker: str | None = None
    follows: int | None = None  # the question this one narrows ("More from <episode>")

    @property
    def filters(self) -> Filters | None:
        """The restrictions the question was asked with, for its next pages and follow-ups."""
        filters = Filters(podcasts=self.podcasts, episode=self.episode, speaker=self.speaker)
        return filters or None


class BotStore:
    def __init__(self, path: Path | str) -> None:
        self._conn = connect(path, MIGRATIONS)
        self._lock = threading.Lock()
        with self._lock, self._conn:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if row is None:
                self._conn.execute("INSERT INTO meta VALUES ('salt', ?)", (secrets.token_hex(16),))
                row = self._conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
        self._salt = row[0]

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def user_hash(self, user_id: int) -> str:
        return hashlib.sha256(f"{self._salt}:{user_id}".encode()).hexdigest()[:32]

    def record_question(
        self,
        question: str,
        episode: str | None,
        per_page: int,
        user_id: int,
        *,
        guild_id: int | None = None,
        answered: bool = True,
        top_score: float | None = None,
        vector: np.ndarray | None = None,
        vector_model: str | None = None,
        podcasts: Sequence[str] = (),
        speaker: str | None = None,
        follows: int | None = None,
    ) -> int:
        """Save a new question; `answered` says whether a hit cleared the score floor, `top_score` is the best
        score even below it, `vector` the question's embedding (stored as float16) by `vector_model`, `follows`
        the question it narrows when it is not a new one."""
        blob = None if vector is None else np.asarray(vector, dtype=np.float16).tobytes()
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO questions (question, episode, per_page, user_hash, asked_at, guild_id, answered,"
                " top_score, vector, vector_model, podcasts, speaker, follows)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    question,
                    episode,
                    per_page,
                    self.user_hash(user_id),
                    time.time(),
                    guild_id,
                    int(answered),
                    top_score,
                    blob,
                    vector_model if blob is not None else None,
                    json.dumps(list(podcasts)),
                    speaker,
                    follows,
                ),
            )
            self._forget_old()
        return int(cursor.lastrowid)

    def question_vector(self, question_id: int, model: str) -> np.ndarray | None:
        """The stored embedding of a question when `model` made it (so More need not embed it again)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT vector FROM questions WHERE id = ? AND vector_model = ?", (question_id, model)
            ).fetchone()
        return None if row is None or row[0] is None else np.frombuffer(row[0], dtype=np.float16).astype(np.float32)

    def forget_old(self) -> None:
        """Drop questions past the retention period (those with feedback stay, for the review of answers)."""
        with self._lock, self._conn:
            self._forget_old()

    def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """One read, for the modules that keep their own tables here (insights, watches, server settings)."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def write(self, sql: str, params: Sequence[object] = ()) -> int:
        """One committed write; returns how many rows it changed."""
        with self._lock, self._conn:
            return self._conn.execute(sql, params).rowcount

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked, inside one transaction (committed when the block ends without an error)."""
        with self._lock, self._conn:
            yield self._conn

    def record_shown(self, question_id: int, offset: int, hits: list[Hit]) -> None:
        shown = json.dumps([_hit_summary(h) for h in hits])
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO shown (question_id, page_offset, hits) VALUES (?, ?, ?)",
                (question_id, offset, shown),
            )

    def question(self, question_id: int) -> AskedQuestion | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, question, episode, per_page, podcasts, speaker, follows FROM questions WHERE id = ?",
                (question_id,),
            ).fetchone()
        if row is None:
            return None
        return AskedQuestion(**{**dict(row), "podcasts": tuple(json.loads(row["podcasts"]))})

    def shown_moments(self, question_id: int) -> list[tuple[str, float, float]]:
        """(episode id, start, end) of every answer shown for a question, on any page."""
        with self._lock:
            rows = self._conn.execute("SELECT hits FROM shown WHERE question_id = ?", (question_id,)).fetchall()
        return [(hit["episode_id"], hit["start"], hit["end"]) for row in rows for hit in json.loads(row["hits"])]

    def shown_episodes(self, question_id: int, offset: int) -> list[str]:
        """The episode ids of the answers shown on one page of a question, in order."""
        with self._lock:
            row = self._conn.execute(
                "SELECT hits FROM shown WHERE question_id = ? AND page_offset = ?", (question_id, offset)
            ).fetchone()
        return [hit["episode_id"] for hit in json.loads(row["hits"])] if row else []

    def record_feedback(
        self, question_id: int, offset: int, vote: str, user_id: int, comment: str | None = None
    ) -> bool:
        """Save (or update) one user's vote on one page of answers; False when the question is unknown."""
        user = self.user_hash(user_id)
        with self._lock, self._conn:
            asked = self._conn.execute("SELECT question FROM questions WHERE id = ?", (question_id,)).fetchone()
            if asked is None:
                return False
            shown = self._conn.execute(
                "SELECT hits FROM shown WHERE question_id = ? AND page_offset = ?", (question_id, offset)
            ).fetchone()
            self._conn.execute(
                "DELETE FROM feedback WHERE question_id = ? AND page_offset = ? AND user_hash = ?",
                (question_id, offset, user),
            )
            self._conn.execute(
                "INSERT INTO feedback (question_id, question, page_offset, hits, vote, comment, user_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (question_id, asked[0], offset, shown[0] if shown else "[]", vote, comment, user, time.time()),
            )
        return True

    def feedback_rows(self) -> list[dict[str, object]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute("SELECT * FROM feedback ORDER BY id")]

    def close(self) -> None:
        self._conn.close()

    def _forget_old(self) -> None:
        """Questions past the retention period without feedback, what was shown for them, and what else keeps a
        hashed asker or a question id: follow-up threads gone quiet for as long, hand-off claims."""
        cutoff = (time.time() - KEEP_QUESTIONS_DAYS * 86400,)
        old = (
            "SELECT id FROM questions WHERE asked_at < ? AND id NOT IN (SELECT question_id FROM feedback)"
            " AND id NOT IN (SELECT question_id FROM followups WHERE last_active >= ?)"  # a thread still in use
        )
        self._conn.execute(f"DELETE FROM shown WHERE question_id IN ({old})", cutoff * 2)
        self._conn.execute(f"DELETE FROM questions WHERE id IN ({old})", cutoff * 2)
        gone = "question_id NOT IN (SELECT id FROM questions)"
        self._conn.execute(f"DELETE FROM followups WHERE last_active < ? OR {gone}", cutoff)
        self._conn.execute(f"DELETE FROM handoffs WHERE {gone}")


def _hit_summary(hit: Hit) -> dict[str, object]:
    """What was shown, enough for the review of 👎 answers (bot/insights.py) without the index at hand."""
    return {
        "episode_id": hit.episode_id,
        "title": hit.episode_title,
        "start": round(hit.start, 1),
        "end": round(hit.end, 1),
        "quote_start": round(hit.quote_start, 1),
        "score": round(hit.score, 4),
        "url": hit.url,
        "quote": " ".join(s.text for s in hit.quote)[:QUOTE_CHARS],
    }
