"""A thread-safe client-side limiter: evenly spaced request slots.

The API allows 50 requests per second per key. Spacing starts ``1/rate`` apart (no burst
credit is ever saved up) keeps any 1-second window at ``floor(rate) + 1`` starts at most:
49 at the default 48/s. Threads reserve slots under a lock and sleep outside it, so a
thread pool sharing one limiter still gets the full rate.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = float("-inf")

    def reserve(self) -> float:
        """Claim the next free slot and return its time on the limiter's clock."""
        with self._lock:
            slot = max(self._clock(), self._next_slot)
            self._next_slot = slot + self.interval
            return slot

    def acquire(self) -> float:
        """Block until this caller's slot comes; returns the slot time."""
        slot = self.reserve()
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
        return slot
