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
        self._told: dict[int, float] = {}  # key -> until when it has been told to wait

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

    def first_refusal(self, key: int, wait: float) -> bool:
        """True the first time `key` is refused in a wait of `wait` seconds (what `hit` returned), False after:
        refusals posted in a channel are public, so each wait is told once."""
        now = self._clock()
        if self._told.get(key, 0.0) > now:
            return False
        self._told[key] = now + wait
        if len(self._told) > MAX_TRACKED_USERS:
            self._told = {k: until for k, until in self._told.items() if until > now}
        return True

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - self.per]:
            del self._events[key]
        while len(self._events) > MAX_TRACKED_USERS:  # still too many active users: drop the oldest
            del self._events[next(iter(self._events))]

    def __len__(self) -> int:
        return len(self._events)
