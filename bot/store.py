"""The bot's own SQLite: questions it answered (so buttons work after a restart) and users' feedback.

User ids are stored only as salted hashes: feedback can be grouped per person without knowing who they are.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from index.models import Hit
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
]
KEEP_QUESTIONS_DAYS = 90


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    id: int
    question: str
    episode: str | None
    per_page: int


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

    def record_question(self, question: str, episode: str | None, per_page: int, user_id: int) -> int:
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO questions (question, episode, per_page, user_hash, asked_at) VALUES (?, ?, ?, ?, ?)",
                (question, episode, per_page, self.user_hash(user_id), time.time()),
            )
            self._conn.execute(
                "DELETE FROM questions WHERE asked_at < ? AND id NOT IN (SELECT question_id FROM feedback)",
                (time.time() - KEEP_QUESTIONS_DAYS * 86400,),
            )
        return int(cursor.lastrowid)

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
                "SELECT id, question, episode, per_page FROM questions WHERE id = ?", (question_id,)
            ).fetchone()
        return AskedQuestion(**dict(row)) if row else None

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


def _hit_summary(hit: Hit) -> dict[str, object]:
    return {
        "episode_id": hit.episode_id,
        "start": round(hit.start, 1),
        "end": round(hit.end, 1),
        "quote_start": round(hit.quote_start, 1),
        "score": round(hit.score, 4),
    }
