"""Live updates: one in-process broker that every change of a call is published to, and the
Server-Sent Events stream of each signed-in page (``GET /api/events``) that reads from it.

What an account may see is decided here, at the broker, not in the page: a team account gets
the events of its own team (its offers, its answers, its calls passing on or cancelled);
dispatch the events of the calls it made; coordinators everything. Each event is one stored row
of ``call_events``, its ``id:`` that row's id, so a page that reconnects with
``Last-Event-ID`` gets what it missed from the database, even across a restart.

A stream sends a comment line every ``stream_keep_alive_s`` (default 15 s) so that proxies do
not close it, and is closed when its page falls so far behind that its queue fills (the page
reconnects and catches up from the database).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .store import User

__all__ = ["Broker", "Subscription", "visible"]

QUEUE = 256  # events a stream may fall behind before it is closed (it reconnects)
RETRY_MS = 2000  # what a browser waits before reconnecting a dropped stream


def visible(user: User, event: dict[str, Any], call_user: str) -> bool:
    """Whether ``user`` may see ``event`` of a call made by the account ``call_user``."""
    if user.role == "coordinator":
        return True
    if user.role == "dispatch":
        return call_user == user.name
    return user.role == "team" and event.get("team") is not None and event["team"] == user.team


class Subscription:
    """One open stream: its account, and a queue on the event loop that serves it."""

    def __init__(self, user: User, loop: asyncio.AbstractEventLoop) -> None:
        self.user = user
        self.loop = loop
        self.queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(QUEUE)

    def offer(self, item: tuple[int, str]) -> None:
        """On the loop: queue an event; a full queue ends the stream (None)."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Broker:
    """Publish from any thread; each subscription gets what its account may see."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._per_account: Counter[str] = Counter()

    def subscribe(self, user: User, most: int) -> Subscription | None:
        """A new stream for ``user`` (on the running loop), or None when the account has
        ``most`` open already."""
        with self._lock:
            if self._per_account[user.name] >= most:
                return None
            self._per_account[user.name] += 1
            subscription = Subscription(user, asyncio.get_running_loop())
            self._subscriptions.add(subscription)
            return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.discard(subscription)
                self._per_account[subscription.user.name] -= 1
                if self._per_account[subscription.user.name] <= 0:
                    del self._per_account[subscription.user.name]

    def open_streams(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def publish(self, event: dict[str, Any], extra: dict[str, Any]) -> None:
        """Send a stored call event (with ``extra``: the call's ``view`` and the ``user`` who
        made it) to every stream allowed to see it."""
        with self._lock:
            targets = [s for s in self._subscriptions if visible(s.user, event, extra["user"])]
        if not targets:
            return
        item = (event["id"], frame(event, extra["call"]))
        for subscription in targets:
            try:
                subscription.loop.call_soon_threadsafe(subscription.offer, item)
            except RuntimeError:  # its loop has stopped: the server is going down
                continue


def frame(event: dict[str, Any], call: dict[str, Any]) -> str:
    """One SSE message: ``id:`` the event's row, ``data:`` JSON with the call's ``id``, the
    event's ``state`` and ``team``, and the call as ``GET /api/scene-requests/{id}`` gives it."""
    data = {
        "id": event["call_id"],
        "state": event["state"],
        "team": event.get("team"),
        "reason": event.get("reason"),
        "event_id": event["id"],
        "call": call,
    }
    return f"id: {event['id']}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(
    broker: Broker,
    subscription: Subscription,
    replay: Callable[[], Awaitable[list[tuple[int, str]]]],
    keep_alive_s: float,
) -> AsyncIterator[str]:
    """The text of one stream: what was missed (``replay``), then each event as published,
    with a comment every ``keep_alive_s``; unsubscribed when it ends."""
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        last = 0
        for number, text in await replay():
            last = max(last, number)
            yield text
        while True:
            try:
                item = await asyncio.wait_for(subscription.queue.get(), keep_alive_s)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if item is None:  # fell behind: end, the page reconnects and catches up
                return
            number, text = item
            if number > last:  # not already sent by the replay
                yield text
    finally:
        broker.unsubscribe(subscription)
