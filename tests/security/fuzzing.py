"""What every answer to a hostile request must be, how many to send, and a tally of what was sent.

``HYPOTHESIS_PROFILE`` picks ``FUZZ_SETTINGS``: ``ci`` (the default, 300 examples per route, part
of the normal test run) or ``fuzz`` (10,000 per route: ``make fuzz``). Other tests' hypothesis
settings are left alone.

``send`` puts one generated request on the wire to a served function and checks the answer:
never a 5xx; a refusal (4xx) is JSON ``{"error": {"code", "message"}}`` whose code is one of
``STABLE_CODES`` with its own status, and leaves the export counter and the sink untouched.
Accepted requests may do their work; the queue and the bucket are checked against what the
accepted answers reported (``Accepted``) at the end of each test.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, settings

from tests.security.served import Hostile

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=_SLOW_IS_FINE,
                          print_blob=True)
settings.register_profile("fuzz", max_examples=10_000, deadline=None, suppress_health_check=_SLOW_IS_FINE,
                          print_blob=True)
FUZZ_SETTINGS = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The refusals a caller may see, and their statuses: a contract, so a renamed code fails here.
STABLE_CODES = {
    "bad_request": 400,
    "invalid_json": 400,
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_request": 422,
}
_SLACK_STARTED = re.compile(r"(\d+) copy started")


@dataclass(frozen=True)
class Hostility:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    deployment: str | None = None  # where to send it, when the route is served by several

    def __repr__(self) -> str:  # hypothesis prints the failing example: keep it readable
        shown = self.body[:300] + (b"..." if len(self.body) > 300 else b"")
        where = f"{self.deployment} " if self.deployment else ""
        return (f"Hostility({where}{self.method} {self.path[:200]!r}, headers={self.headers!r}, "
                f"body={shown!r} ({len(self.body)} bytes))")


class Tally:
    """Examples sent per route and the statuses they got, printed at the end of the run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statuses: dict[str, Counter[int | str]] = defaultdict(Counter)

    def add(self, route: str, status: int | str) -> None:
        with self._lock:
            self.statuses[route][status] += 1

    def __bool__(self) -> bool:
        return bool(self.statuses)

    def lines(self) -> list[str]:
        out = []
        for route, counts in sorted(self.statuses.items()):
            spread = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items(), key=lambda kv: str(kv[0])))
            out.append(f"{route}: {sum(counts.values())} requests ({spread})")
        return out


TALLY = Tally()


@dataclass
class Accepted:
    """Work the accepted answers said they did, to compare with the queue and the bucket."""

    handed_off: int = 0
    copied: int = 0
    seen: Counter[int] = field(default_factory=Counter)

    def add(self, answer: dict[str, Any]) -> None:
        rows = answer.get("databases", [])
        self.handed_off += sum(isinstance(row, dict) and row.get("status") == "handed_off" for row in rows)
        started = _SLACK_STARTED.search(str(answer.get("text", "")).split("\n", 1)[0])  # a slash command's answer
        self.handed_off += int(started.group(1)) if started else 0
        self.copied += answer.get("outcome") == "copied"


def send(hostile: Hostile, deployment: str, route: str, request: Hostility, accepted: Accepted) -> httpx.Response:
    before = (hostile.exports(), len(hostile.sink.requests))
    deployment = request.deployment or deployment
    response = hostile.http.request(request.method, hostile.urls[deployment].rstrip("/") + request.path,
                                    headers=request.headers, content=request.body)
    refused_by_server = server_refused(response)
    TALLY.add(f"{deployment} {route}", "server" if refused_by_server else response.status_code)
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}\n{hostile.log_tails()}"
    if response.status_code >= 400:
        if not refused_by_server:
            check_refusal(response, request.method)
        after = (hostile.exports(), len(hostile.sink.requests))
        assert after == before, f"a refused request exported or notified: {before} -> {after}"
    elif request.method != "HEAD":
        answer = response.json()
        accepted.add(answer if isinstance(answer, dict) else {})
    accepted.seen[response.status_code] += 1
    return response


def server_refused(response: httpx.Response) -> bool:
    """gunicorn's own answer to a request it would not parse (a duplicated Content-Type, a header
    line over 8 KiB): HTML, no Server header, before our code ran. On Scaleway the platform's
    gateway plays that part."""
    return (response.status_code in (400, 431) and "server" not in response.headers
            and response.headers.get("content-type") == "text/html")


def check_refusal(response: httpx.Response, method: str = "POST") -> str:
    """A refusal is JSON naming a stable code with its own status; returns the code."""
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    if method == "HEAD":  # no body, by definition
        return ""
    error = json.loads(response.content)["error"]
    assert set(error) <= {"code", "message", "details"} and isinstance(error["message"], str), error
    assert STABLE_CODES.get(error["code"]) == response.status_code, error
    return error["code"]


def check_accounts(hostile: Hostile, accepted: Accepted, queued_before: int, objects_before: int) -> None:
    """Jobs in the queues and objects in the bucket are exactly what accepted answers reported."""
    assert hostile.queued() - queued_before == accepted.handed_off
    assert hostile.objects() - objects_before == accepted.copied
