"""The database the stores share: one SQLite file in the data folder by default, or the
PostgreSQL server `STREAMER_DATABASE_URL` names, which several replicas share.

The stores write plain SQL that both engines take; `Database` gives them connections and
transactions with the same meaning on both:
- `read()`: each statement sees the latest committed data (autocommit);
- `write()`: one transaction that, on SQLite, holds the file's write lock from its first
  statement (`BEGIN IMMEDIATE`: two writers never both read and then both write) and, on
  PostgreSQL, takes an advisory lock when asked (`lock=`) and otherwise relies on row locks
  (`FOR UPDATE SKIP LOCKED` in the claims, `Database.skip_locked`).
Every call is one short round trip or a few, so the event loop calls the stores directly,
as it always has for SQLite.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_S = 30


class Database:
    def __init__(self, url: str) -> None:
        """`url`: `sqlite:///PATH` or `postgresql://USER:PASSWORD@HOST:PORT/NAME` (the
        psycopg driver is used whichever the URL names)."""
        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql":
            self.engine = create_engine(
                parsed.set(drivername="postgresql+psycopg"),
                isolation_level="AUTOCOMMIT",
                pool_pre_ping=True,  # a restarted server's dead connections are replaced
            )
        elif parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                parsed.set(drivername="sqlite+pysqlite"),
                isolation_level="AUTOCOMMIT",
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            raise ValueError("the database URL must be sqlite:///PATH or postgresql://...")
        self.dialect = self.engine.dialect.name

    @property
    def skip_locked(self) -> str:
        """Appended to a claim's SELECT: on PostgreSQL, rows another replica is claiming are
        passed over (on SQLite the write lock already makes claims one at a time)."""
        return " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write(self, lock: str | None = None) -> Iterator[Connection]:
        """One transaction, committed when the block ends and rolled back if it raises.
        `lock` names an advisory lock held to the end on PostgreSQL (writers that compute a
        value from the table, as `MAX(seq) + 1`, take it so that none computes the same)."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            try:
                if lock is not None and self.dialect == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": lock}
                    )
                yield connection
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection: sqlite3.Connection, _record: Any) -> None:
    """WAL: readers never wait for the writer; NORMAL sync is durable across a process
    crash (only power loss can lose the last commits)."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
