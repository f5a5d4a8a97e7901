"""Per-user rate limiting: a sliding window with a bounded memory."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED_USERS = 50_000


class RateLimiter:
    """At most `rate` actions per `per` seconds for each key; `per` 0 disables the limit."""

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.per = per
        self._clock = clock
        self._events: dict[int, deque[float]] = {}

    def hit(self, key: int) -> float | None:
        """Record an action; None when allowed, else the seconds to wait (the action is not recorded)."""
        if self.per <= 0:
            return None
        now = self._clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.per:
            events.popleft()
        if len(events) >= self.rate:
            return events[0] + self.per - now
        events.append(now)
        if len(self._events) > MAX_TRACKED_USERS:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - self.per]:
            del self._events[key]
        while len(self._events) > MAX_TRACKED_USERS:  # still too many active users: drop the oldest
            del self._events[next(iter(self._events))]

    def __len__(self) -> int:
        return len(self._events)
