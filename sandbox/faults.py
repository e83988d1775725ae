"""Faults to inject and counters to read back, settable from Python or over HTTP.

Every random choice comes from one RNG seeded by the config, so a test that sets an error
rate sees the same sequence of failures on every run. Download faults are counted down:
"the next M downloads" are cut, lie about their length, or are refused. So are injections
(``inject``): the next N requests to a route wait, then fail with a status and a body shape
(the gateway's, JSON, a proxy's HTML page) or lose their connection without an answer.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

RouteName = Literal["list_databases", "get_database", "list_backups", "get_backup", "export_backup", "download"]
ROUTES: tuple[str, ...] = get_args(RouteName)


@dataclass
class RouteFault:
    error_rate: float = 0.0
    status: int = 500
    delay_seconds: float = 0.0


AnswerShape = Literal["gateway", "json", "html", "reset"]
ANSWER_SHAPES: tuple[str, ...] = get_args(AnswerShape)


@dataclass
class Injection:
    """The next ``times`` requests to a route wait ``delay_seconds``, then (with a ``status``)
    fail: ``gateway`` as the sandbox's other faults answer, ``json`` a Scaleway error body, ``html``
    a proxy's error page, ``reset`` the connection closed with no answer; ``retry_after`` adds
    that header. ``status=None``: answered normally, after the delay (an answer slower than a timeout)."""

    status: int | None = 500
    times: int = 1
    delay_seconds: float = 0.0
    answer: AnswerShape = "gateway"
    retry_after: float | None = None

    def wait_then_fail(self, stats: Any) -> bool:
        """Wait as told (counted in ``injected_delays``); True when the request must then fail
        (counted in ``injected_errors``), False when it is answered normally."""
        if self.delay_seconds:
            stats.count("injected_delays")
            time.sleep(self.delay_seconds)
        if self.status is None:
            return False
        stats.count("injected_errors")
        return True


@dataclass(frozen=True)
class DownloadFault:
    """What to do to one download: ``cut`` after N bytes, declare ``extra`` bytes
    (``wrong_length``), say the object is ``extra`` bytes longer than it is (``other_size``),
    ``forbid`` it (403) or ``redirect`` it (307 to ``location``)."""

    kind: str
    cut_after: int = 0
    extra_bytes: int = 0
    location: str = ""


@dataclass
class Faults:
    seed: int = 0
    routes: dict[str, RouteFault] = field(default_factory=dict)
    burst_429: int = 0
    _download: list[DownloadFault] = field(default_factory=list)
    _injections: dict[str, list[Injection]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # --- setting -------------------------------------------------------------------------------

    def set_error_rate(self, route: str, rate: float, status: int = 500) -> None:
        """Answer ``status`` to a share ``rate`` (0..1) of the requests to ``route``."""
        with self._lock:
            fault = self.routes.setdefault(_known(route), RouteFault())
            fault.error_rate, fault.status = rate, status

    def set_delay(self, route: str, seconds: float) -> None:
        with self._lock:
            self.routes.setdefault(_known(route), RouteFault()).delay_seconds = seconds

    def add_429_burst(self, count: int) -> None:
        """The next ``count`` API requests get a bare 429, whatever the limiter says."""
        with self._lock:
            self.burst_429 += count

    def inject(self, route: str, injection: Injection) -> None:
        """Queue ``injection`` for the next requests to ``route``, after those already queued."""
        if injection.answer not in ANSWER_SHAPES:
            raise ValueError(f"unknown answer {injection.answer!r}; one of {', '.join(ANSWER_SHAPES)}")
        with self._lock:
            self._injections.setdefault(_known(route), []).append(injection)

    def cut_downloads(self, after_bytes: int, count: int = 1) -> None:
        self._queue(DownloadFault("cut", cut_after=after_bytes), count)

    def wrong_length_downloads(self, count: int = 1, extra_bytes: int = 1024) -> None:
        """Declare ``extra_bytes`` more than the body holds, send the body, then close."""
        self._queue(DownloadFault("wrong_length", extra_bytes=extra_bytes), count)

    def forbid_downloads(self, count: int = 1) -> None:
        self._queue(DownloadFault("forbid"), count)

    def redirect_downloads(self, location: str, count: int = 1) -> None:
        self._queue(DownloadFault("redirect", location=location), count)

    def other_size_downloads(self, count: int = 1, extra_bytes: int = 1) -> None:
        """``Content-Range`` names an object ``extra_bytes`` longer than the backup."""
        self._queue(DownloadFault("other_size", extra_bytes=extra_bytes), count)

    def _queue(self, fault: DownloadFault, count: int) -> None:
        with self._lock:
            self._download.extend([fault] * count)

    def reset(self) -> None:
        with self._lock:
            self.routes.clear()
            self.burst_429 = 0
            self._download.clear()
            self._injections.clear()
            self._rng = random.Random(self.seed)

    # --- deciding (called by the server for each request) --------------------------------------

    def take_429(self) -> bool:
        with self._lock:
            if self.burst_429 <= 0:
                return False
            self.burst_429 -= 1
            return True

    def delay_for(self, route: str) -> float:
        fault = self.routes.get(route)
        return fault.delay_seconds if fault else 0.0

    def error_for(self, route: str) -> int | None:
        """The status to fail this request with, or None to answer normally."""
        with self._lock:
            fault = self.routes.get(route)
            if fault is None or fault.error_rate <= 0:
                return None
            return fault.status if self._rng.random() < fault.error_rate else None

    def take_injection(self, route: str) -> Injection | None:
        """The injection this request to ``route`` gets (counted down), or None."""
        with self._lock:
            queued = self._injections.get(route)
            if not queued:
                return None
            injection = queued[0]
            injection.times -= 1
            if injection.times <= 0:
                queued.pop(0)
            return injection

    def take_download_fault(self) -> DownloadFault | None:
        with self._lock:
            return self._download.pop(0) if self._download else None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "routes": {name: vars(fault).copy() for name, fault in self.routes.items()},
                "burst_429": self.burst_429,
                "pending_download_faults": [vars(f).copy() for f in self._download],
                "injections": {route: [vars(i).copy() for i in queued] for route, queued in self._injections.items() if queued},
            }


def _known(route: str) -> str:
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; one of {', '.join(ROUTES)}")
    return route


@dataclass
class Stats:
    """What the server answered: requests per route, 429s, injected errors, bytes downloaded."""

    requests: Counter[str] = field(default_factory=Counter)
    ranges: list[str] = field(default_factory=list)  # the Range of each download request, in order
    rate_limited: int = 0
    injected_errors: int = 0
    injected_delays: int = 0  # answers held back by an injection (then answered, or failed)
    download_bytes: int = 0
    refused_downloads: int = 0  # download requests answered 403 (a dead link, or a forbid fault)
    downloads_active: int = 0  # downloads being served right now
    exports: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            if name in ROUTES:
                self.requests[name] += amount
            else:
                setattr(self, name, getattr(self, name) + amount)

    def record_range(self, header: str | None) -> None:
        with self._lock:
            self.ranges.append(header or "")
            del self.ranges[:-100_000]  # bounded, for a sandbox that runs for long

    def snapshot_ranges(self) -> list[str]:
        with self._lock:
            return list(self.ranges)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.ranges.clear()
            self.rate_limited = self.injected_errors = self.injected_delays = self.download_bytes = self.exports = 0
            self.refused_downloads = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {route: self.requests[route] for route in ROUTES},
                "rate_limited": self.rate_limited,
                "injected_errors": self.injected_errors,
                "injected_delays": self.injected_delays,
                "download_bytes": self.download_bytes,
                "refused_downloads": self.refused_downloads,
                "downloads_active": self.downloads_active,
                "exports": self.exports,
            }
