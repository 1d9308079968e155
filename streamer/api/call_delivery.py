"""A call's results POSTed to its `callback_url`: one JSON message a request, in order, each
retried with the back-off of the transcript webhooks (`retry_delay_s`).

The media loop only appends to a bounded in-memory queue (`post` never waits), and one task
per call sends from its head, so a slow or failing receiver delays nothing but its own
messages. A queue that is full drops the new message (the `sequence` numbers show the gap);
a receiver that fails `MAX_DELIVERY_ATTEMPTS` times in a row is given up for the rest of the
call. What is still queued when the process exits is lost: these are live results, not jobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

from streamer.api.jobs.webhooks import retry_delay_s

log = logging.getLogger(__name__)

MAX_QUEUED = 1000
"""Messages one call may have waiting for its receiver (over an hour of final turns)."""


class CallbackPoster:
    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        max_queued: int = MAX_QUEUED,
        retry_delay: Callable[[int], float | None] = retry_delay_s,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self.url = url
        self._client = client
        """closed when the sending ends (`streamer.api.outbound` makes one that checks where
        it connects)"""
        self.dropped = 0
        """messages not sent: the queue was full, or the receiver was given up"""
        self._headers = headers
        self._queue: deque[dict[str, Any]] = deque()
        self._max_queued = max_queued
        self._retry_delay = retry_delay
        self._on_failure = on_failure
        self._wake = asyncio.Event()
        self._closing = False
        self._given_up = False
        self._task = asyncio.create_task(self._send_all())

    def post(self, message: dict[str, Any]) -> None:
        """Queue `message` for the receiver (never waits)."""
        if self._closing:
            return
        if self._given_up or len(self._queue) >= self._max_queued:
            self.dropped += 1
            return
        self._queue.append(message)
        self._wake.set()

    def close(self) -> asyncio.Task[None]:
        """No more messages: the task ends once the queue is sent (or given up); it is
        returned for whoever wants to wait for it."""
        self._closing = True
        self._wake.set()
        return self._task

    def cancel(self) -> None:
        self._task.cancel()

    async def _send_all(self) -> None:
        async with self._client as client:
            failures = 0
            while True:
                if not self._queue:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if await self._send(client, self._queue[0]):
                    self._queue.popleft()
                    failures = 0
                    continue
                failures += 1
                delay = self._retry_delay(failures)
                if delay is None:
                    self._give_up(failures)
                    return
                await asyncio.sleep(delay)

    async def _send(self, client: httpx.AsyncClient, message: dict[str, Any]) -> bool:
        try:
            response = await client.post(self.url, json=message, headers=self._headers)
            if response.is_success:
                return True
            problem = f"HTTP {response.status_code}"
        except Exception as error:  # unreachable, refused, timed out, or a URL httpx rejects
            problem = type(error).__name__
        log.info("callback %s failed: %s", self.url, problem)
        self._on_failure()
        return False

    def _give_up(self, failures: int) -> None:
        log.warning(
            "callback %s gave up after %d failures in a row; %d messages dropped",
            self.url,
            failures,
            len(self._queue),
        )
        self._given_up = True
        self.dropped += len(self._queue)
        self._queue.clear()
