"""The tables of the job, voice and token stores, and the migrations that bring a database
to the current shape, run at start-up by every replica (one at a time: each migration runs in
a write transaction under one advisory lock, and is recorded in `schema_version`).

A migration is appended, never edited: a database made by an older release has run the
first ones already. Migration 1 is the shape of the first release (a database made before
`schema_version` existed has its tables: creating them is skipped).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    inspect,
    text,
)

from streamer.api.database import Database

_FIRST = MetaData()
Table(
    "jobs",
    _FIRST,
    Column("id", Text, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("created", Double, nullable=False),
    Column("completed", Double),
    Column("audio_url", Text, nullable=False),
    Column("upload_id", Text),
    Column("request", Text, nullable=False),
    Column("result", Text),
    Column("error", Text),
    Column("lease_owner", Text),
    Column("lease_until", Double),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("jobs_status", "status", "seq"),
    Index("jobs_seq", "seq", unique=True),
)
Table(
    "webhooks",
    _FIRST,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transcript_id", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("headers", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", Double, nullable=False),
    sqlite_autoincrement=True,
)
Table(
    "voices",
    _FIRST,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created", Double, nullable=False),
    Column("speech_s", Double, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
)
Table(
    "used_tokens",
    _FIRST,
    Column("id", Text, primary_key=True),
    Column("expires", Double, nullable=False),
)


def _first_tables(db: Connection) -> None:
    _FIRST.create_all(db, checkfirst=True)


def _jobs_key_id(db: Connection) -> None:
    """The API key a job belongs to (`auth.key_id`): its per-key limit and who may see it."""
    if "key_id" not in {column["name"] for column in inspect(db).get_columns("jobs")}:
        db.execute(text("ALTER TABLE jobs ADD COLUMN key_id TEXT"))
    db.execute(text("CREATE INDEX IF NOT EXISTS jobs_key ON jobs (key_id, status)"))


def _voices_key_id(db: Connection) -> None:
    """The API key a voice belongs to."""
    db.execute(text("ALTER TABLE voices ADD COLUMN key_id TEXT"))


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_first_tables, _jobs_key_id, _voices_key_id)
"""In order: migration N is `MIGRATIONS[N - 1]`."""


def migrate(database: Database) -> int:
    """Run the migrations this database has not had; the schema version it is now at."""
    with database.write(lock="streamer schema") as db:
        db.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
        current = db.execute(text("SELECT MAX(version) FROM schema_version")).scalar() or 0
        for version in range(current + 1, len(MIGRATIONS) + 1):
            MIGRATIONS[version - 1](db)
            db.execute(text("INSERT INTO schema_version VALUES (:v)"), {"v": version})
    return len(MIGRATIONS)


def open_database(url: str) -> Database:
    """The database of `url`, migrated to the current schema."""
    database = Database(url)
    migrate(database)
    return database
