"""``/_sandbox/*``: faults, stats and reset over HTTP, for tests that run the sandbox in
another process. Every call needs the sandbox token in ``X-Auth-Token``.

``POST /_sandbox/faults`` takes (all keys optional)::

    {"routes": {"get_backup": {"error_rate": 0.5, "status": 503, "delay_seconds": 0.1}},
     "burst_429": 3, "cut_downloads": {"after_bytes": 1000, "count": 1},
     "wrong_length_downloads": {"count": 1, "extra_bytes": 1024}, "forbid_downloads": 1,
     "redirect_downloads": {"location": "http://127.0.0.1:9/elsewhere", "count": 1},
     "expire_links": true, "advance_clock_seconds": 90000, "export_delay_seconds": 0,
     "link_ttl_seconds": 5, "readings": {"locked_during_export": true, "repeat_export": 412},
     "inject": [{"route": "get_backup", "status": 503, "times": 2, "answer": "html",
                 "delay_seconds": 0, "retry_after": 1}]}

(``readings``: any of the options of ``sandbox.readings``; the others keep their values.)

and answers the pending faults. ``GET /_sandbox/stats`` answers the counters;
``POST /_sandbox/reset`` clears faults, counters, the rate limiter and reseeds the state.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.faults import AnswerShape, Injection, RouteName
from sandbox.readings import Readings
from sandbox.routes import DENIED_AUTHENTICATION, NOT_FOUND, Reply, detail, invalid_arguments

if TYPE_CHECKING:
    from sandbox.api import SandboxServer

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RouteFaultSpec(_Strict):
    error_rate: float = Field(0.0, ge=0, le=1)
    status: int = Field(500, ge=400, le=599)
    delay_seconds: float = Field(0.0, ge=0, le=60)


class CutSpec(_Strict):
    after_bytes: int = Field(ge=0)
    count: int = Field(1, ge=1)


class WrongLengthSpec(_Strict):
    count: int = Field(1, ge=1)
    extra_bytes: int = Field(1024, ge=1)


class InjectionSpec(_Strict):
    route: RouteName
    status: int | None = Field(500, ge=400, le=599)
    times: int = Field(1, ge=1, le=1000)
    delay_seconds: float = Field(0.0, ge=0, le=60)
    answer: AnswerShape = "gateway"
    retry_after: float | None = Field(None, ge=0, le=3600)


class RedirectSpec(_Strict):
    location: str = Field(min_length=1, max_length=2048)
    count: int = Field(1, ge=1)


class FaultSpec(_Strict):
    routes: dict[RouteName, RouteFaultSpec] = Field(default_factory=dict)
    burst_429: int = Field(0, ge=0)
    cut_downloads: CutSpec | None = None
    wrong_length_downloads: WrongLengthSpec | None = None
    forbid_downloads: int = Field(0, ge=0)
    redirect_downloads: RedirectSpec | None = None
    expire_links: bool = False
    advance_clock_seconds: float = Field(0.0, ge=0)
    export_delay_seconds: float | None = Field(None, ge=0)
    link_ttl_seconds: int | None = Field(None, ge=1)
    readings: dict[str, Any] = Field(default_factory=dict)
    inject: list[InjectionSpec] = Field(default_factory=list)


def apply(sandbox: SandboxServer, spec: FaultSpec) -> None:
    faults = sandbox.faults
    for route, fault in spec.routes.items():
        faults.set_error_rate(route, fault.error_rate, fault.status)
        faults.set_delay(route, fault.delay_seconds)
    faults.add_429_burst(spec.burst_429)
    for injection in spec.inject:
        faults.inject(injection.route, Injection(**injection.model_dump(exclude={"route"})))
    if spec.cut_downloads:
        faults.cut_downloads(spec.cut_downloads.after_bytes, spec.cut_downloads.count)
    if spec.wrong_length_downloads:
        faults.wrong_length_downloads(spec.wrong_length_downloads.count, spec.wrong_length_downloads.extra_bytes)
    if spec.forbid_downloads:
        faults.forbid_downloads(spec.forbid_downloads)
    if spec.redirect_downloads:
        faults.redirect_downloads(spec.redirect_downloads.location, spec.redirect_downloads.count)
    if spec.advance_clock_seconds:
        sandbox.state.advance(spec.advance_clock_seconds)
    if spec.export_delay_seconds is not None:
        sandbox.state.export_delay_seconds = spec.export_delay_seconds
    if spec.link_ttl_seconds is not None:
        sandbox.state.link_ttl_seconds = spec.link_ttl_seconds
    if spec.readings:
        sandbox.state.readings = sandbox.state.readings.changed(**spec.readings)
    if spec.expire_links:
        sandbox.state.expire_links()


def answer(sandbox: SandboxServer, method: str, path: str, token: str | None, body: bytes) -> Reply:
    if token != sandbox.token:
        return Reply(401, DENIED_AUTHENTICATION)
    if (method, path) == ("GET", "/_sandbox/stats"):
        return Reply(200, sandbox.stats.snapshot())
    if (method, path) == ("POST", "/_sandbox/reset"):
        sandbox.reset()
        return Reply(200, {"reset": True})
    if (method, path) == ("POST", "/_sandbox/faults"):
        try:
            spec = FaultSpec.model_validate(json.loads(body or b"{}"))
            unknown = set(spec.readings) - set(Readings.names())
            if unknown:
                raise ValueError(f"unknown readings: {', '.join(sorted(unknown))}")
            Readings(**{**vars(sandbox.state.readings), **spec.readings})  # values checked before any change
        except (ValueError, TypeError, ValidationError) as exc:
            return invalid_arguments([detail("body", "format", _first_error(exc))])
        apply(sandbox, spec)
        return Reply(200, {"faults": sandbox.faults.snapshot()})
    return Reply(404, NOT_FOUND)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
    if isinstance(exc, json.JSONDecodeError):
        return "body is not valid JSON"
    return str(exc)
