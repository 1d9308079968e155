"""Which temporary tokens have opened a session: a `used_tokens` table beside the jobs (SQLite
by default), so that on every replica sharing the database a token opens one session only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_tokens (
    id TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
"""


class UsedTokens(Protocol):
    def used(self, token_id: str) -> bool: ...

    def use(self, token_id: str, expires: float, now: float) -> bool:
        """Record the token as used; False when it already was (someone else got it)."""
        ...


class SqliteUsedTokens:
    """One short statement per call on a connection of its own (the event loop calls it,
    once per session opened); rows of expired tokens are dropped as new ones come."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def used(self, token_id: str) -> bool:
        with self._connection() as db:
            found = db.execute("SELECT 1 FROM used_tokens WHERE id = ?", (token_id,)).fetchone()
        return found is not None

    def use(self, token_id: str, expires: float, now: float) -> bool:
        with self._connection() as db:
            db.execute("DELETE FROM used_tokens WHERE expires <= ?", (now,))
            inserted = db.execute(
                "INSERT OR IGNORE INTO used_tokens VALUES (?, ?)", (token_id, expires)
            )
            return inserted.rowcount == 1
