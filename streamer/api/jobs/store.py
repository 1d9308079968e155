"""Durable transcript jobs: the `JobStore` interface and its embedded SQLite implementation.

A job is claimed with a lease: a worker owns it until `lease_until` and renews the lease while
it runs. A worker that dies (a crash, `kill -9`) stops renewing, the lease runs out, and the
job is queued again; a job is never run by two workers at once, because a claim is one atomic
UPDATE of a queued job or of one whose lease has expired. A PostgreSQL store would implement
the same methods (`SELECT ... FOR UPDATE SKIP LOCKED` for `claim`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, get_args

from streamer.api.wire import TranscriptStatus, webhook_body, webhook_target

DELETED_AUDIO_URL = "http://deleted_by_user"
FORGOTTEN_ON_DELETE = ("webhook_auth_header_value",)
WEBHOOK_LEASE_S = 60.0
"""How long a claimed webhook is its sender's: longer than one POST may take (10 s)."""
_LISTED = (
    "id, seq, status, created, completed, audio_url, upload_id, request, NULL AS result, error,"
    " attempts"
)
"""the columns a list shows: not the (large) results"""
MAX_RUN_ATTEMPTS = 3
"""A job whose worker died this many times is failed, not retried forever (poison input)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    completed REAL,
    audio_url TEXT NOT NULL,
    upload_id TEXT,
    request TEXT NOT NULL,
    result TEXT,
    error TEXT,
    lease_owner TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_seq ON jobs (seq);
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transcript_id TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    status: TranscriptStatus
    created: float
    completed: float | None
    audio_url: str
    upload_id: str | None
    request: dict[str, Any]
    """the request's fields, echoed back in the transcript object"""
    result: dict[str, Any] | None
    error: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    attempts: int


class JobStore(Protocol):
    def create(
        self,
        audio_url: str,
        upload_id: str | None,
        request: dict[str, Any],
        key_id: str | None = None,
    ) -> Job: ...

    def active_jobs(self, key_id: str) -> int: ...

    def get(self, job_id: str) -> Job | None: ...

    def page(
        self,
        limit: int,
        status: str | None,
        created_on: str | None,
        before_id: str | None,
        after_id: str | None,
    ) -> list[Job]: ...

    def claim(self, worker: str, lease_s: float) -> Job | None: ...

    def counts(self) -> dict[str, int]: ...

    def renew(self, job_id: str, worker: str, lease_s: float) -> bool: ...

    def finish(
        self, job_id: str, worker: str, result: dict[str, Any] | None, error: str | None
    ) -> Job | None: ...

    def release(self, worker: str) -> None: ...

    def delete(self, job_id: str) -> Job | None: ...

    def upload_in_use(self, upload_id: str) -> bool: ...

    def finished_before(self, cutoff: float, limit: int) -> list[str]: ...

    def claim_webhooks(
        self, now: float, limit: int, lease_s: float = WEBHOOK_LEASE_S
    ) -> list[Webhook]: ...

    def webhook_failed(self, webhook_id: int, next_at: float | None) -> None: ...

    def webhook_done(self, webhook_id: int) -> None: ...


class SqliteJobStore:
    """One SQLite file in WAL mode: readers never wait for the writer, and every write is one
    short transaction, so the event loop may call it directly.

    `clock` (seconds since the epoch) dates jobs, leases and webhooks; tests pass a fake one."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._clock = clock
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added since the first schema, added to a database made before them."""
        db = self._connection()
        columns = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
        if "key_id" not in columns:
            db.execute("ALTER TABLE jobs ADD COLUMN key_id TEXT")
        db.execute("CREATE INDEX IF NOT EXISTS jobs_key ON jobs (key_id, status)")

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def create(
        self,
        audio_url: str,
        upload_id: str | None,
        request: dict[str, Any],
        key_id: str | None = None,
    ) -> Job:
        """A queued job; `key_id` names the API key that asked (`auth.key_id`) for its
        per-key limit."""
        job_id = str(uuid.uuid4())
        with self._transaction() as db:
            (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()
            db.execute(
                "INSERT INTO jobs (id, seq, status, created, audio_url, upload_id, request,"
                " key_id) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, seq, self._clock(), audio_url, upload_id, json.dumps(request), key_id),
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        row = self._connection().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row is not None else None

    def page(
        self,
        limit: int,
        status: str | None,
        created_on: str | None,
        before_id: str | None,
        after_id: str | None,
    ) -> list[Job]:
        """Newest first, without their results; `created_on` a UTC date (YYYY-MM-DD);
        `before_id` / `after_id`: the `limit` jobs just older / newer than that job."""
        where, args = ["1 = 1"], []
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if created_on is not None:
            where.append("date(created, 'unixepoch') = ?")
            args.append(created_on)
        if before_id is not None:
            where.append("seq < COALESCE((SELECT seq FROM jobs WHERE id = ?), 0)")
            args.append(before_id)
        if after_id is not None:
            where.append("seq > COALESCE((SELECT seq FROM jobs WHERE id = ?), 1e18)")
            args.append(after_id)
        # the jobs just newer than `after_id` are the oldest of those newer: ascending, then
        # turned round
        order = "ASC" if after_id is not None and before_id is None else "DESC"
        rows = self._connection().execute(
            f"SELECT {_LISTED} FROM jobs WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT ?",
            (*args, limit),
        )
        jobs = [_job(row) for row in rows]
        return jobs[::-1] if order == "ASC" else jobs

    def claim(self, worker: str, lease_s: float) -> Job | None:
        """The oldest job that is queued or whose worker's lease ran out, now leased to
        `worker`; None when there is none. A job out of attempts is failed instead and
        returned with status `error` (to be reported, not run)."""
        now = self._clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT id, attempts FROM jobs WHERE status = 'queued'"
                " OR (status = 'processing' AND lease_until < ?) ORDER BY seq LIMIT 1",
                (now,),
            ).fetchone()
            if row is None:
                return None
            if row["attempts"] >= MAX_RUN_ATTEMPTS:
                db.execute(
                    "UPDATE jobs SET status = 'error', completed = ?, error = ?,"
                    " lease_owner = NULL WHERE id = ?",
                    (now, "the transcription stopped unexpectedly, several times", row["id"]),
                )
                _queue_webhook(db, row["id"], "error", now)
            else:
                db.execute(
                    "UPDATE jobs SET status = 'processing', lease_owner = ?, lease_until = ?,"
                    " attempts = attempts + 1 WHERE id = ?",
                    (worker, now + lease_s, row["id"]),
                )
        return self.get(row["id"])

    def counts(self) -> dict[str, int]:
        """Jobs by status (every status, zero or not)."""
        rows = self._connection().execute("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        found = {row[0]: row[1] for row in rows}
        return {status: found.get(status, 0) for status in get_args(TranscriptStatus)}

    def renew(self, job_id: str, worker: str, lease_s: float) -> bool:
        """Extend the lease; False when the job is no longer this worker's (deleted)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ?"
                " AND status = 'processing'",
                (self._clock() + lease_s, job_id, worker),
            )
        return cursor.rowcount == 1

    def finish(
        self, job_id: str, worker: str, result: dict[str, Any] | None, error: str | None
    ) -> Job | None:
        """Record the outcome, if the job is still this worker's; the finished job or None."""
        with self._transaction() as db:
            now = self._clock()
            cursor = db.execute(
                "UPDATE jobs SET status = ?, completed = ?, result = ?, error = ?,"
                " lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = ? AND status = 'processing'",
                (
                    "error" if error is not None else "completed",
                    now,
                    json.dumps(result) if result is not None else None,
                    error,
                    job_id,
                    worker,
                ),
            )
            if cursor.rowcount == 1:
                _queue_webhook(db, job_id, "error" if error is not None else "completed", now)
        return self.get(job_id) if cursor.rowcount == 1 else None

    def release(self, worker: str) -> None:
        """Put `worker`'s running job back in the queue, the attempt not counted."""
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL,"
                " attempts = MAX(attempts - 1, 0) WHERE lease_owner = ? AND status = 'processing'",
                (worker,),
            )

    def delete(self, job_id: str) -> Job | None:
        """Forget the job's audio, text, audio URL and webhook secret (the record stays, so
        the id still answers); the job as it was, or None when unknown."""
        job = self.get(job_id)
        if job is None:
            return None
        kept = {k: v for k, v in job.request.items() if k not in FORGOTTEN_ON_DELETE}
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET result = NULL, upload_id = NULL, lease_owner = NULL,"
                " audio_url = ?, request = ?,"
                " status = CASE WHEN status IN ('queued', 'processing') THEN 'error'"
                " ELSE status END, error = CASE WHEN status IN ('queued', 'processing')"
                " THEN 'deleted before it finished' ELSE error END WHERE id = ?",
                (DELETED_AUDIO_URL, json.dumps(kept), job_id),
            )
            db.execute("DELETE FROM webhooks WHERE transcript_id = ?", (job_id,))
        return job

    def active_jobs(self, key_id: str) -> int:
        """Jobs of this key queued or running."""
        (count,) = (
            self._connection()
            .execute(
                "SELECT COUNT(*) FROM jobs WHERE key_id = ? AND status IN ('queued', 'processing')",
                (key_id,),
            )
            .fetchone()
        )
        return int(count)

    def upload_in_use(self, upload_id: str) -> bool:
        """Whether any job still needs this upload."""
        row = (
            self._connection()
            .execute("SELECT 1 FROM jobs WHERE upload_id = ? LIMIT 1", (upload_id,))
            .fetchone()
        )
        return row is not None

    def finished_before(self, cutoff: float, limit: int) -> list[str]:
        """Ids of up to `limit` jobs that ended (completed or error) before `cutoff` and
        still hold what `delete` forgets, oldest first."""
        rows = self._connection().execute(
            "SELECT id FROM jobs WHERE status IN ('completed', 'error') AND completed < ?"
            " AND audio_url != ? ORDER BY completed LIMIT ?",
            (cutoff, DELETED_AUDIO_URL, limit),
        )
        return [row["id"] for row in rows]

    def claim_webhooks(
        self, now: float, limit: int, lease_s: float = WEBHOOK_LEASE_S
    ) -> list[Webhook]:
        """Up to `limit` webhooks due by `now`, leased to the caller: none is due again for
        `lease_s` (so of several replicas on one database exactly one sends each), unless
        `webhook_failed` sets its retry first. One that is never reported (its replica died
        mid-delivery) is due again once the lease is over."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM webhooks WHERE next_at <= ? ORDER BY next_at LIMIT ?", (now, limit)
            ).fetchall()
            db.executemany(
                "UPDATE webhooks SET next_at = ? WHERE id = ?",
                [(now + lease_s, row["id"]) for row in rows],
            )
        return [
            Webhook(
                id=row["id"],
                url=row["url"],
                headers=json.loads(row["headers"]),
                body=json.loads(row["body"]),
                attempts=row["attempts"],
            )
            for row in rows
        ]

    def webhook_failed(self, webhook_id: int, next_at: float | None) -> None:
        """Try again at `next_at`, or give up (None)."""
        with self._transaction() as db:
            if next_at is None:
                db.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
            else:
                db.execute(
                    "UPDATE webhooks SET attempts = attempts + 1, next_at = ? WHERE id = ?",
                    (next_at, webhook_id),
                )

    def webhook_done(self, webhook_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))


def _queue_webhook(
    db: sqlite3.Connection, job_id: str, status: TranscriptStatus, now: float
) -> None:
    """In the transaction that finished the job: a crash cannot lose its webhook; due `now`."""
    (raw,) = db.execute("SELECT request FROM jobs WHERE id = ?", (job_id,)).fetchone()
    target = webhook_target(json.loads(raw))
    if target is None:
        return
    db.execute(
        "INSERT INTO webhooks (transcript_id, url, headers, body, next_at) VALUES (?, ?, ?, ?, ?)",
        (
            job_id,
            target.url,
            json.dumps(target.headers),
            json.dumps(webhook_body(job_id, status)),
            now,
        ),
    )


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        status=row["status"],
        created=row["created"],
        completed=row["completed"],
        audio_url=row["audio_url"],
        upload_id=row["upload_id"],
        request=json.loads(row["request"]),
        result=json.loads(row["result"]) if row["result"] is not None else None,
        error=row["error"],
        attempts=row["attempts"],
    )
