"""Clients that follow calls live: each subscribes by a call's `call_sid` or `stream_sid`,
and gets the messages of the matching streams through a bounded queue of its own.

A subscriber that joins mid-call gets the stream's `Begin` first (so it knows the channels),
then every message from then on; earlier turns are not replayed. One that joins before the
call starts waits for it. A subscriber whose queue fills (it stopped reading) is dropped:
its queue never grows past `MAX_PENDING`. Its subscription ends when the last matching
stream has sent its `Termination`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from starlette.datastructures import State

MAX_PENDING = 256
"""Messages a subscriber may have waiting (partials included: about a minute of a call)."""
MAX_SUBSCRIBERS = 256
"""Subscriptions one server keeps at once, waiting ones included."""


class Subscription:
    def __init__(self, call_sid: str | None, stream_sid: str | None) -> None:
        self.call_sid = call_sid
        self.stream_sid = stream_sid
        self.begun = False
        """a matching stream has begun"""
        self.overflowed = False
        self.ended = False
        """the last matching stream has ended: nothing more will come"""
        self.ready = asyncio.Event()
        """set when there is something to send, or it overflowed or ended"""
        self._pending: deque[dict[str, Any]] = deque()

    def matches(self, message: dict[str, Any]) -> bool:
        return (self.call_sid is None or message.get("call_sid") == self.call_sid) and (
            self.stream_sid is None or message.get("stream_sid") == self.stream_sid
        )

    def take(self) -> list[dict[str, Any]]:
        """Everything waiting, oldest first."""
        messages = list(self._pending)
        self._pending.clear()
        if not self.ended and not self.overflowed:
            self.ready.clear()
        return messages

    def offer(self, message: dict[str, Any]) -> bool:
        """Queue `message`; False (and overflowed) when the queue is full."""
        self.begun = self.begun or message.get("type") == "Begin"
        if len(self._pending) >= MAX_PENDING:
            self.overflowed = True
        else:
            self._pending.append(message)
        self.ready.set()
        return not self.overflowed


class CallSubscribers:
    """The subscriptions of one server, and the `Begin` of every stream still open."""

    def __init__(self, max_subscribers: int = MAX_SUBSCRIBERS) -> None:
        self._max = max_subscribers
        self._subscriptions: set[Subscription] = set()
        self._open: dict[str, dict[str, Any]] = {}
        """stream_sid -> its `Begin`"""

    def subscribe(self, call_sid: str | None, stream_sid: str | None) -> Subscription | None:
        """A new subscription, with the `Begin` of each matching open stream waiting in it;
        None when the server has all it keeps."""
        if len(self._subscriptions) >= self._max:
            return None
        subscription = Subscription(call_sid, stream_sid)
        self._subscriptions.add(subscription)
        for begin in self._open.values():
            if subscription.matches(begin):
                subscription.offer(begin)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, message: dict[str, Any]) -> None:
        """Hand `message` (tagged with its `call_sid` and `stream_sid`) to every matching
        subscriber; a subscriber that is full is dropped."""
        kind, stream_sid = message.get("type"), str(message.get("stream_sid"))
        if kind == "Begin":
            self._open[stream_sid] = message
        elif kind == "Termination":
            self._open.pop(stream_sid, None)
        for subscription in [s for s in self._subscriptions if s.matches(message)]:
            if not subscription.offer(message):
                self._subscriptions.discard(subscription)
            elif kind == "Termination" and not any(map(subscription.matches, self._open.values())):
                subscription.ended = True
                self._subscriptions.discard(subscription)


def call_subscribers(state: State) -> CallSubscribers:
    """The server's subscribers (made on first use)."""
    hub: CallSubscribers | None = getattr(state, "call_subscribers", None)
    if hub is None:
        hub = state.call_subscribers = CallSubscribers()
    return hub
