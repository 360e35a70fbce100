"""An in-process sliding-window limiter for the checkout's web requests (per address).

In-process: each instance counts its own requests, so behind a load balancer of N instances
an address gets up to N times the limit. The prompts themselves are also limited per link
in the database (PUSHES_PER_HOUR), which holds across instances."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from services.clock import Clock

MAX_KEYS = 50_000  # past this, keys whose window is empty are forgotten


class SlidingWindow:
    def __init__(self, clock: Clock, limit: int, period: timedelta) -> None:
        self.clock = clock
        self.limit = limit
        self.period = period
        self._seen: dict[str, deque[datetime]] = {}

    def allow(self, key: str) -> bool:
        """Count one request for `key`; False once `limit` were counted within `period`."""
        now = self.clock.now()
        cutoff = now - self.period
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= cutoff:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._seen) > MAX_KEYS:
            self._forget(cutoff)
        return True

    def _forget(self, cutoff: datetime) -> None:
        for key in [k for k, v in self._seen.items() if not v or v[-1] <= cutoff]:
            del self._seen[key]
