"""Heartbeats for an outside monitor (a dead man's switch): one GET, a short timeout, never raises.

``HEARTBEAT_URL`` is pinged by dispatch (``/start``, then ``<url>`` or ``/fail``) and
``HEARTBEAT_URL_TEMPLATE`` by each verified copy, so a monitor such as healthchecks.io,
Cronitor or Uptime Kuma alerts when the pings stop, even when none of this code runs any more.

A ping must never fail or hold up what it reports: one attempt, at most ``TIMEOUT_SECONDS``,
and every outcome is a value. Its URL usually holds a token: it is never logged nor returned,
only its ``scheme://host``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from shared.notify.formats import USERNAME
from shared.observability import log_event
from shared.targets import PingKind, ping_url, shown_host

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class PingResult:
    kind: str  # start | success | fail
    host: str  # scheme://host only
    ok: bool
    status: int | None = None
    error: str | None = None  # timeout, connection_error, rejected, server_error

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "host": self.host, "ok": self.ok, "status": self.status, "error": self.error}


class Heartbeat:
    """Pings one monitor URL. ``ping`` never raises; ``close`` releases the client."""

    def __init__(self, url: str, http: httpx.Client | None = None) -> None:
        self._url = url
        self._own = http is None
        # No credentials, no redirects, no proxies from the environment: the URL alone says where.
        self._http = http or httpx.Client(timeout=httpx.Timeout(TIMEOUT_SECONDS), follow_redirects=False,
                                          trust_env=False, headers={"user-agent": USERNAME})

    def __repr__(self) -> str:  # the URL may hold a token
        return f"Heartbeat(host={shown_host(self._url)!r})"

    def close(self) -> None:
        if self._own:
            self._http.close()

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self, kind: PingKind = "success", *, what: str = "dispatch") -> PingResult:
        host = shown_host(self._url)
        try:
            status: int | None = self._http.get(ping_url(self._url, kind)).status_code
            error = None if 200 <= status < 300 else "server_error" if status >= 500 else "rejected"
        except httpx.TimeoutException:
            status, error = None, "timeout"
        except (httpx.HTTPError, ValueError):  # its text may carry the URL: keep only the kind
            status, error = None, "connection_error"
        result = PingResult(kind, host, error is None, status, error)
        log_event(logger, "heartbeat sent" if result.ok else "heartbeat not delivered",
                  logging.INFO if result.ok else logging.WARNING, what=what, kind=kind, target=host,
                  status=status, error=error)
        return result
