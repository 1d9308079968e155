"""Durable transcript jobs: the `JobStore` interface and its SQL implementation, on SQLite
or PostgreSQL (`streamer.api.database`).

A job is claimed with a lease: a worker owns it until `lease_until` and renews the lease while
it runs. A worker that dies (a crash, `kill -9`) stops renewing, the lease runs out, and the
job is queued again; a job is never run by two workers at once, on one replica or several,
because a claim selects the job under a lock (SQLite's write lock; PostgreSQL's row lock,
`FOR UPDATE SKIP LOCKED`, so that replicas claiming at once take different jobs) and leases
it in the same transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, get_args

from sqlalchemy import Connection, RowMapping, text

from streamer.api.database import Database
from streamer.api.wire import TranscriptStatus, webhook_body, webhook_target

DELETED_AUDIO_URL = "http://deleted_by_user"
FORGOTTEN_ON_DELETE = ("webhook_auth_header_value",)
WEBHOOK_LEASE_S = 60.0
"""How long a claimed webhook is its sender's: longer than one POST may take (10 s)."""
_LISTED = (
    "id, seq, status, created, completed, audio_url, upload_id, request, NULL AS result, error,"
    " attempts, key_id"
)
"""the columns a list shows: not the (large) results"""
MAX_RUN_ATTEMPTS = 3
"""A job whose worker died this many times is failed, not retried forever (poison input)."""


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
    key_id: str | None = None
    """the API key it belongs to (`auth.key_id`); None on a server without keys"""


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
        created_on: date | None,
        before_id: str | None,
        after_id: str | None,
        key_id: str | None = None,
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


class SqlJobStore:
    """The `jobs` and `webhooks` tables of a `Database`. Every method is one short
    transaction or query, so the event loop may call it directly.

    `clock` (seconds since the epoch) dates jobs, leases and webhooks; tests pass a fake one."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    def create(
        self,
        audio_url: str,
        upload_id: str | None,
        request: dict[str, Any],
        key_id: str | None = None,
    ) -> Job:
        """A queued job; `key_id` names the API key that asked (`auth.key_id`): the job is
        that key's, and counts toward its limit."""
        job_id = str(uuid.uuid4())
        with self._db.write(lock="jobs.seq") as db:
            db.execute(
                text(
                    "INSERT INTO jobs (id, seq, status, created, audio_url, upload_id, request,"
                    " key_id) SELECT :id, COALESCE(MAX(seq), 0) + 1, 'queued', :created,"
                    " :audio_url, :upload_id, :request, :key_id FROM jobs"
                ),
                {
                    "id": job_id,
                    "created": self._clock(),
                    "audio_url": audio_url,
                    "upload_id": upload_id,
                    "request": json.dumps(request),
                    "key_id": key_id,
                },
            )
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        with self._db.read() as db:
            row = db.execute(text("SELECT * FROM jobs WHERE id = :id"), {"id": job_id})
            found = row.mappings().first()
        return _job(found) if found is not None else None

    def page(
        self,
        limit: int,
        status: str | None,
        created_on: date | None,
        before_id: str | None,
        after_id: str | None,
        key_id: str | None = None,
    ) -> list[Job]:
        """Newest first, without their results; `created_on` a UTC day; `before_id` /
        `after_id`: the `limit` jobs just older / newer than that job; `key_id`: only that
        key's jobs (None: everyone's)."""
        where, args = ["1 = 1"], dict[str, Any](limit=limit)
        if status is not None:
            where.append("status = :status")
            args["status"] = status
        if created_on is not None:
            start = datetime(created_on.year, created_on.month, created_on.day, tzinfo=UTC)
            where.append("created >= :day_start AND created < :day_end")
            args["day_start"] = start.timestamp()
            args["day_end"] = (start + timedelta(days=1)).timestamp()
        if before_id is not None:
            where.append("seq < COALESCE((SELECT seq FROM jobs WHERE id = :before_id), 0)")
            args["before_id"] = before_id
        if after_id is not None:
            where.append("seq > COALESCE((SELECT seq FROM jobs WHERE id = :after_id), 1e18)")
            args["after_id"] = after_id
        if key_id is not None:
            where.append("key_id = :key_id")
            args["key_id"] = key_id
        # the jobs just newer than `after_id` are the oldest of those newer: ascending, then
        # turned round
        order = "ASC" if after_id is not None and before_id is None else "DESC"
        query = f"SELECT {_LISTED} FROM jobs WHERE {' AND '.join(where)}"
        with self._db.read() as db:
            rows = db.execute(text(f"{query} ORDER BY seq {order} LIMIT :limit"), args)
            jobs = [_job(row) for row in rows.mappings()]
        return jobs[::-1] if order == "ASC" else jobs

    def claim(self, worker: str, lease_s: float) -> Job | None:
        """The oldest job that is queued or whose worker's lease ran out, now leased to
        `worker`; None when there is none. A job out of attempts is failed instead and
        returned with status `error` (to be reported, not run)."""
        now = self._clock()
        with self._db.write() as db:
            row = (
                db.execute(
                    text(
                        "SELECT id, attempts FROM jobs WHERE status = 'queued'"
                        " OR (status = 'processing' AND lease_until < :now)"
                        f" ORDER BY seq LIMIT 1{self._db.skip_locked}"
                    ),
                    {"now": now},
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            if row["attempts"] >= MAX_RUN_ATTEMPTS:
                db.execute(
                    text(
                        "UPDATE jobs SET status = 'error', completed = :now, error = :error,"
                        " lease_owner = NULL WHERE id = :id"
                    ),
                    {
                        "now": now,
                        "error": "the transcription stopped unexpectedly, several times",
                        "id": row["id"],
                    },
                )
                _queue_webhook(db, row["id"], "error", now)
            else:
                db.execute(
                    text(
                        "UPDATE jobs SET status = 'processing', lease_owner = :worker,"
                        " lease_until = :until, attempts = attempts + 1 WHERE id = :id"
                    ),
                    {"worker": worker, "until": now + lease_s, "id": row["id"]},
                )
        return self.get(row["id"])

    def counts(self) -> dict[str, int]:
        """Jobs by status (every status, zero or not)."""
        with self._db.read() as db:
            rows = db.execute(text("SELECT status, COUNT(*) FROM jobs GROUP BY status"))
            found = {status: count for status, count in rows}
        return {status: found.get(status, 0) for status in get_args(TranscriptStatus)}

    def renew(self, job_id: str, worker: str, lease_s: float) -> bool:
        """Extend the lease; False when the job is no longer this worker's (deleted, or
        claimed by another after the lease ran out)."""
        with self._db.write() as db:
            cursor = db.execute(
                text(
                    "UPDATE jobs SET lease_until = :until WHERE id = :id"
                    " AND lease_owner = :worker AND status = 'processing'"
                ),
                {"until": self._clock() + lease_s, "id": job_id, "worker": worker},
            )
        return cursor.rowcount == 1

    def finish(
        self, job_id: str, worker: str, result: dict[str, Any] | None, error: str | None
    ) -> Job | None:
        """Record the outcome, if the job is still this worker's; the finished job or None."""
        status: TranscriptStatus = "error" if error is not None else "completed"
        with self._db.write() as db:
            now = self._clock()
            cursor = db.execute(
                text(
                    "UPDATE jobs SET status = :status, completed = :now, result = :result,"
                    " error = :error, lease_owner = NULL, lease_until = NULL"
                    " WHERE id = :id AND lease_owner = :worker AND status = 'processing'"
                ),
                {
                    "status": status,
                    "now": now,
                    "result": json.dumps(result) if result is not None else None,
                    "error": error,
                    "id": job_id,
                    "worker": worker,
                },
            )
            if cursor.rowcount == 1:
                _queue_webhook(db, job_id, status, now)
        return self.get(job_id) if cursor.rowcount == 1 else None

    def release(self, worker: str) -> None:
        """Put `worker`'s running job back in the queue, the attempt not counted."""
        with self._db.write() as db:
            db.execute(
                text(
                    "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_until = NULL,"
                    " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
                    " WHERE lease_owner = :worker AND status = 'processing'"
                ),
                {"worker": worker},
            )

    def delete(self, job_id: str) -> Job | None:
        """Forget the job's audio, text, audio URL and webhook secret (the record stays, so
        the id still answers); the job as it was, or None when unknown."""
        job = self.get(job_id)
        if job is None:
            return None
        kept = {k: v for k, v in job.request.items() if k not in FORGOTTEN_ON_DELETE}
        with self._db.write() as db:
            db.execute(
                text(
                    "UPDATE jobs SET result = NULL, upload_id = NULL, lease_owner = NULL,"
                    " audio_url = :deleted, request = :request,"
                    " error = CASE WHEN status IN ('queued', 'processing')"
                    " THEN 'deleted before it finished' ELSE error END,"
                    " status = CASE WHEN status IN ('queued', 'processing') THEN 'error'"
                    " ELSE status END WHERE id = :id"
                ),
                {"deleted": DELETED_AUDIO_URL, "request": json.dumps(kept), "id": job_id},
            )
            db.execute(text("DELETE FROM webhooks WHERE transcript_id = :id"), {"id": job_id})
        return job

    def active_jobs(self, key_id: str) -> int:
        """Jobs of this key queued or running."""
        with self._db.read() as db:
            count = db.execute(
                text(
                    "SELECT COUNT(*) FROM jobs WHERE key_id = :key_id"
                    " AND status IN ('queued', 'processing')"
                ),
                {"key_id": key_id},
            ).scalar()
        return int(count or 0)

    def upload_in_use(self, upload_id: str) -> bool:
        """Whether any job still needs this upload."""
        with self._db.read() as db:
            found = db.execute(
                text("SELECT 1 FROM jobs WHERE upload_id = :upload_id LIMIT 1"),
                {"upload_id": upload_id},
            ).first()
        return found is not None

    def finished_before(self, cutoff: float, limit: int) -> list[str]:
        """Ids of up to `limit` jobs that ended (completed or error) before `cutoff` and
        still hold what `delete` forgets, oldest first."""
        with self._db.read() as db:
            rows = db.execute(
                text(
                    "SELECT id FROM jobs WHERE status IN ('completed', 'error')"
                    " AND completed < :cutoff AND audio_url != :deleted"
                    " ORDER BY completed LIMIT :limit"
                ),
                {"cutoff": cutoff, "deleted": DELETED_AUDIO_URL, "limit": limit},
            )
            return [job_id for (job_id,) in rows]

    def claim_webhooks(
        self, now: float, limit: int, lease_s: float = WEBHOOK_LEASE_S
    ) -> list[Webhook]:
        """Up to `limit` webhooks due by `now`, leased to the caller: none is due again for
        `lease_s` (so of several replicas on one database exactly one sends each), unless
        `webhook_failed` sets its retry first. One that is never reported (its replica died
        mid-delivery) is due again once the lease is over."""
        with self._db.write() as db:
            rows = (
                db.execute(
                    text(
                        "SELECT * FROM webhooks WHERE next_at <= :now ORDER BY next_at"
                        f" LIMIT :limit{self._db.skip_locked}"
                    ),
                    {"now": now, "limit": limit},
                )
                .mappings()
                .all()
            )
            if rows:
                db.execute(
                    text("UPDATE webhooks SET next_at = :next_at WHERE id = :id"),
                    [{"next_at": now + lease_s, "id": row["id"]} for row in rows],
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
        with self._db.write() as db:
            if next_at is None:
                db.execute(text("DELETE FROM webhooks WHERE id = :id"), {"id": webhook_id})
            else:
                db.execute(
                    text(
                        "UPDATE webhooks SET attempts = attempts + 1, next_at = :next_at"
                        " WHERE id = :id"
                    ),
                    {"next_at": next_at, "id": webhook_id},
                )

    def webhook_done(self, webhook_id: int) -> None:
        with self._db.write() as db:
            db.execute(text("DELETE FROM webhooks WHERE id = :id"), {"id": webhook_id})


def _queue_webhook(db: Connection, job_id: str, status: TranscriptStatus, now: float) -> None:
    """In the transaction that finished the job: a crash cannot lose its webhook; due `now`."""
    raw = db.execute(text("SELECT request FROM jobs WHERE id = :id"), {"id": job_id}).scalar_one()
    target = webhook_target(json.loads(raw))
    if target is None:
        return
    db.execute(
        text(
            "INSERT INTO webhooks (transcript_id, url, headers, body, next_at)"
            " VALUES (:job_id, :url, :headers, :body, :now)"
        ),
        {
            "job_id": job_id,
            "url": target.url,
            "headers": json.dumps(target.headers),
            "body": json.dumps(webhook_body(job_id, status)),
            "now": now,
        },
    )


def _job(row: RowMapping) -> Job:
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
        key_id=row["key_id"],
    )
