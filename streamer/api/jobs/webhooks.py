"""Webhook delivery on the event loop: `POST {transcript_id, status}` to each job's
`webhook_url`, retried with exponential back-off. Webhooks wait in the job store, so the
workers never wait for a slow receiver and a restart loses none."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from streamer.api.jobs.store import JobStore, Webhook

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY_S = 1.0
"""Retries wait 1, 2, 4, ... seconds (at most `MAX_RETRY_S`)."""
MAX_RETRY_S = 300.0
POLL_S = 0.5
TIMEOUT_S = 10.0
BATCH = 16


async def deliver_forever(store: JobStore) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
        while True:
            try:
                due = store.due_webhooks(time.time(), BATCH)
                await asyncio.gather(*(_deliver(client, store, hook) for hook in due))
            except Exception:  # the store itself failed (disk full, locked): try again later
                log.exception("webhook delivery failed")
                due = []
            if not due:
                await asyncio.sleep(POLL_S)


async def _deliver(client: httpx.AsyncClient, store: JobStore, hook: Webhook) -> None:
    try:
        response = await client.post(hook.url, json=hook.body, headers=hook.headers)
        if response.is_success:
            store.webhook_done(hook.id)
            return
        problem = f"HTTP {response.status_code}"
    except Exception as error:  # unreachable, refused, or a URL or header httpx rejects
        problem = type(error).__name__
    if hook.attempts + 1 >= MAX_ATTEMPTS:
        log.warning("webhook %s gave up after %d attempts: %s", hook.url, MAX_ATTEMPTS, problem)
        store.webhook_failed(hook.id, None)
    else:
        delay = min(FIRST_RETRY_S * 2**hook.attempts, MAX_RETRY_S)
        store.webhook_failed(hook.id, time.time() + delay)
