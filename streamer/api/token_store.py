"""Which temporary tokens have opened a session: the `used_tokens` table of the database the
jobs use (SQLite or PostgreSQL), so that on every replica sharing it a token opens one
session only."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import text

from streamer.api.database import Database


class UsedTokens(Protocol):
    def used(self, token_id: str) -> bool: ...

    def use(self, token_id: str, expires: float, now: float) -> bool:
        """Record the token as used; False when it already was (someone else got it)."""
        ...


class SqlUsedTokens:
    """One short transaction per call (the event loop calls it, once per session opened);
    rows of expired tokens are dropped as new ones come."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def used(self, token_id: str) -> bool:
        with self._db.read() as db:
            found = db.execute(text("SELECT 1 FROM used_tokens WHERE id = :id"), {"id": token_id})
            return found.first() is not None

    def use(self, token_id: str, expires: float, now: float) -> bool:
        with self._db.write() as db:
            db.execute(text("DELETE FROM used_tokens WHERE expires <= :now"), {"now": now})
            inserted = db.execute(
                text(
                    "INSERT INTO used_tokens (id, expires) VALUES (:id, :expires)"
                    " ON CONFLICT (id) DO NOTHING"
                ),
                {"id": token_id, "expires": expires},
            )
            return inserted.rowcount == 1
