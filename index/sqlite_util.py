"""SQLite connections with numbered migrations, for the databases that outlive one build."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path


def connect(path: Path | str, migrations: Sequence[str] = (), *, readonly: bool = False) -> sqlite3.Connection:
    """Open `path`, applying any migrations past its `user_version` (migration N sets version N+1).

    Connections may be shared by worker threads (the bot searches off the event loop); callers serialise
    writes themselves.
    """
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, check_same_thread=False)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.row_factory = sqlite3.Row
    if migrations and not readonly:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(migrations[version:], start=version):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number + 1};\nCOMMIT;")
    return conn


def has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    """Whether `table` has `column`: databases written by older versions may lack one."""
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))
