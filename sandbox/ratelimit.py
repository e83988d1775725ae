"""The gateway's rate limit: a fixed window of N requests per token (50 per second for real)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """Counts requests per key in fixed windows; ``limit=None`` lets everything through."""

    def __init__(self, limit: int | None, window_seconds: float = 1.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (window number, count)
        self._lock = threading.Lock()

    def hit(self, key: str) -> Quota:
        if self.limit is None:
            return Quota(True, {})
        now = time.monotonic()
        number = int(now // self.window)
        with self._lock:
            seen_in, count = self._counts.get(key, (number, 0))
            count = count + 1 if seen_in == number else 1
            self._counts[key] = (number, count)
        reset = max(1, math.ceil((number + 1) * self.window - now))
        window = f"{self.window:g}"
        headers = {
            "X-Ratelimit-Limit": f"{self.limit}, {self.limit};w={window}",
            "X-Ratelimit-Remaining": str(max(0, self.limit - count)),
            "X-Ratelimit-Reset": str(reset),
        }
        return Quota(count <= self.limit, headers)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
