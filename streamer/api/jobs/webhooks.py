"""Webhook delivery on the event loop: `POST {transcript_id, status}` to each job's
`webhook_url`, retried with exponential back-off. Webhooks wait in the job store, so the
workers never wait for a slow receiver and a restart loses none."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx

from streamer.api.jobs.store import JobStore, Webhook

log = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 8
FIRST_RETRY_S = 1.0
"""Retries wait 1, 2, 4, ... seconds (at most `MAX_RETRY_S`)."""
MAX_RETRY_S = 300.0
POLL_S = 0.5
TIMEOUT_S = 10.0
BATCH = 16


def retry_delay_s(
    failed_attempts: int,
    first_s: float = FIRST_RETRY_S,
    max_s: float = MAX_RETRY_S,
    max_attempts: int = MAX_DELIVERY_ATTEMPTS,
) -> float | None:
    """How long to wait after a webhook's `failed_attempts`-th failed attempt before the next
    one: `first_s`, then twice as long each time, at most `max_s`; None once `max_attempts`
    attempts have failed (give up)."""
    if failed_attempts >= max_attempts:
        return None
    return min(first_s * 2.0 ** (failed_attempts - 1), max_s)


async def deliver_forever(
    store: JobStore, client: httpx.AsyncClient, on_failure: Callable[[], None]
) -> None:
    """Deliver due webhooks with `client` until cancelled; `on_failure()` after each failed
    attempt."""
    async with client:
        while True:
            try:
                delivered = await deliver_due(client, store, on_failure=on_failure)
            except Exception:  # the store itself failed (disk full, locked): try again later
                log.exception("webhook delivery failed")
                delivered = 0
            if not delivered:
                await asyncio.sleep(POLL_S)


async def deliver_due(
    client: httpx.AsyncClient,
    store: JobStore,
    clock: Callable[[], float] = time.time,
    retry_delay: Callable[[int], float | None] = retry_delay_s,
    on_failure: Callable[[], None] = lambda: None,
) -> int:
    """One round: try each webhook due by `clock()` (at most `BATCH`) once, and record how it
    went; how many were tried."""
    due = store.claim_webhooks(clock(), BATCH)
    await asyncio.gather(
        *(_deliver(client, store, hook, clock, retry_delay, on_failure) for hook in due)
    )
    return len(due)


async def _deliver(
    client: httpx.AsyncClient,
    store: JobStore,
    hook: Webhook,
    clock: Callable[[], float],
    retry_delay: Callable[[int], float | None],
    on_failure: Callable[[], None],
) -> None:
    try:
        response = await client.post(hook.url, json=hook.body, headers=hook.headers)
        if response.is_success:
            store.webhook_done(hook.id)
            return
        problem = f"HTTP {response.status_code}"
    except Exception as error:  # unreachable, refused, or a URL or header httpx rejects
        problem = type(error).__name__
    on_failure()
    failed = hook.attempts + 1
    delay = retry_delay(failed)
    if delay is None:
        log.warning("webhook %s gave up after %d attempts: %s", hook.url, failed, problem)
        store.webhook_failed(hook.id, None)
    else:
        store.webhook_failed(hook.id, clock() + delay)
