"""Webhook delivery: the back-off rule on its own, then real deliveries over loopback HTTP to a
local receiver, recorded in the real store (SQLite and PostgreSQL), on a fake clock (no
waiting)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from sqlalchemy import text

from streamer.api.database import Database
from streamer.api.jobs.store import SqlJobStore
from streamer.api.jobs.webhooks import (
    FIRST_RETRY_S,
    MAX_DELIVERY_ATTEMPTS,
    MAX_RETRY_S,
    deliver_due,
    retry_delay_s,
)
from streamer.tools.local_server import free_port
from tests.integration.conftest import FakeClock

Call = tuple[str, dict[str, str], dict[str, object]]


def test_the_delays_double_from_one_second_and_delivery_gives_up_after_eight_attempts() -> None:
    # as the README says: retried after 1, 2, 4, ... s, 8 attempts
    assert MAX_DELIVERY_ATTEMPTS == 8 and FIRST_RETRY_S == 1.0
    assert [retry_delay_s(n) for n in range(1, MAX_DELIVERY_ATTEMPTS)] == [1, 2, 4, 8, 16, 32, 64]
    assert retry_delay_s(MAX_DELIVERY_ATTEMPTS) is None
    assert retry_delay_s(MAX_DELIVERY_ATTEMPTS + 5) is None


def test_the_delay_is_capped() -> None:
    many = 40
    delays = [retry_delay_s(n, max_attempts=many) for n in range(1, many)]
    assert delays[:9] == [1, 2, 4, 8, 16, 32, 64, 128, 256]  # 512 would be next
    assert delays[9:] == [MAX_RETRY_S] * (many - 10)
    assert retry_delay_s(3, first_s=0.5, max_s=1.5) == 1.5
    assert retry_delay_s(2, first_s=0.5, max_s=1.5, max_attempts=2) is None


def _receiver(status: int) -> tuple[HTTPServer, list[Call]]:
    calls: list[Call] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append((self.path, dict(self.headers), body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, calls


@pytest.fixture
def failing_receiver() -> Iterator[tuple[str, list[Call]]]:
    """A local webhook receiver that always answers 500; its URL and the calls it got."""
    server, calls = _receiver(500)
    yield f"http://127.0.0.1:{server.server_port}/hook", calls
    server.shutdown()
    server.server_close()


def _finished_job_with_webhook(store: SqlJobStore, url: str) -> str:
    request = {
        "webhook_url": url,
        "webhook_auth_header_name": "X-Key",
        "webhook_auth_header_value": "s3cret",
    }
    job = store.create("https://x.example/a.wav", None, request)  # never fetched here
    assert store.claim("w", lease_s=30) is not None
    assert store.finish(job.id, "w", None, "could not fetch audio_url") is not None
    return job.id


def _webhook_row(database: Database, job_id: str) -> tuple[int, float] | None:
    """(attempts, next_at) of the job's queued webhook, None when there is none."""
    with database.read() as db:
        row = db.execute(
            text("SELECT attempts, next_at FROM webhooks WHERE transcript_id = :id"),
            {"id": job_id},
        ).all()
    assert len(row) <= 1
    return (int(row[0][0]), float(row[0][1])) if row else None


async def _round(
    store: SqlJobStore,
    clock: FakeClock,
    rule: Callable[[int], float | None],
    failures: list[None] | None = None,
) -> int:
    """One delivery round; each failed attempt appends to `failures` (the metric's hook)."""
    counted = [] if failures is None else failures
    async with httpx.AsyncClient(timeout=30) as client:
        return await deliver_due(
            client, store, clock, rule, on_failure=lambda: counted.append(None)
        )


@pytest.mark.parametrize(
    ("rule", "delays"),
    [
        (retry_delay_s, [1, 2, 4, 8, 16, 32, 64]),  # what the server runs: gives up at 8
        # a longer rule reaches the cap: 256 s, then 300 s rather than 512
        (partial(retry_delay_s, max_attempts=12), [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]),
    ],
    ids=["server-rule", "capped"],
)
def test_a_failing_webhook_is_retried_with_back_off_then_dropped(
    database: Database,
    failing_receiver: tuple[str, list[Call]],
    rule: Callable[[int], float | None],
    delays: list[float],
) -> None:
    url, calls = failing_receiver
    clock = FakeClock()
    store = SqlJobStore(database, clock=clock)
    job_id = _finished_job_with_webhook(store, url)
    assert _webhook_row(database, job_id) == (0, clock.now)  # due at once

    failures: list[None] = []
    for attempt, delay in enumerate([*delays, None], start=1):
        assert asyncio.run(_round(store, clock, rule, failures)) == 1
        assert len(calls) == attempt == len(failures)
        row = _webhook_row(database, job_id)
        if delay is None:
            assert row is None  # gave up: the webhook is gone from the store
            break
        assert row == (attempt, clock.now + delay)
        next_at = row[1]
        clock.now = next_at - 0.01
        assert asyncio.run(_round(store, clock, rule)) == 0  # not due yet: nothing sent
        assert len(calls) == attempt
        clock.now = next_at
    assert len(calls) == len(delays) + 1
    clock.advance(100_000)
    assert asyncio.run(_round(store, clock, rule)) == 0 and len(calls) == len(delays) + 1
    for path, headers, body in calls:
        assert path == "/hook" and headers["X-Key"] == "s3cret"
        assert body == {"transcript_id": job_id, "status": "error"}


def test_a_delivered_webhook_is_removed(database: Database) -> None:
    server, calls = _receiver(204)
    try:
        clock = FakeClock()
        store = SqlJobStore(database, clock=clock)
        url = f"http://127.0.0.1:{server.server_port}/hook"
        job_id = _finished_job_with_webhook(store, url)
        assert asyncio.run(_round(store, clock, retry_delay_s)) == 1
        assert len(calls) == 1 and _webhook_row(database, job_id) is None
        clock.advance(100_000)
        assert asyncio.run(_round(store, clock, retry_delay_s)) == 0 and len(calls) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreachable_receiver_counts_as_a_failed_attempt(database: Database) -> None:
    clock = FakeClock()
    store = SqlJobStore(database, clock=clock)
    closed = f"http://127.0.0.1:{free_port()}/hook"  # loopback, nothing listening: refused
    job_id = _finished_job_with_webhook(store, closed)
    assert asyncio.run(_round(store, clock, retry_delay_s)) == 1
    assert _webhook_row(database, job_id) == (1, clock.now + 1)
