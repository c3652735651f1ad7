"""A per-client request budget over a sliding minute, held in memory (one per server process)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
MAX_CLIENTS = 10_000  # clients remembered at once; the longest idle ones are forgotten first


class RateLimiter:
    """`allow(client)` -> 0.0 when the request may go ahead (and counts it), else the seconds to
    wait until the oldest request of the window leaves it. `per_minute` = 0 allows everything."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> float:
        if self.per_minute <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            times = self._seen.pop(client, None) or deque()
            self._seen[client] = times  # re-inserted: the dict's order is least recently seen first
            while times and now - times[0] >= WINDOW_SECONDS:
                times.popleft()
            if len(times) >= self.per_minute:
                return max(WINDOW_SECONDS - (now - times[0]), 0.001)
            times.append(now)
            while len(self._seen) > MAX_CLIENTS:
                del self._seen[next(iter(self._seen))]
            return 0.0
