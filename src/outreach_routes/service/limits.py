"""Per-account request rates of the service: a token bucket per account, in memory.

The service is one process, so its buckets live in it; a restart refills them, which lets an
account post at most one more burst. Daily counts are not kept here: they are what the
database holds (:meth:`.store.Store.checkins_stored_by`).
"""

from __future__ import annotations

import math
import threading
import time

__all__ = ["Buckets"]


class Buckets:
    """``per_minute`` requests a minute per key, up to ``burst`` at once."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0  # tokens a second
        self.burst = float(burst)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0 when it was there, else the seconds until one is."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, then = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    @staticmethod
    def retry_after(wait_s: float) -> int:
        """A ``Retry-After`` value: whole seconds, at least one."""
        return max(1, math.ceil(wait_s))
