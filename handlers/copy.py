"""The copy function: one ``CopyJob`` per request -> ``shared.copying.run.run_job`` -> JSON answer.

Authentication. Queue-trigger deliveries and direct HTTP calls both arrive as ``POST /`` and
the platform adds no header that proves a delivery came from the queue. So: when
``HTTP_AUTH_TOKENS`` is set, every job must carry ``Authorization: Bearer <one of them>``;
the function is deployed ``privacy: private``, so the platform itself refuses callers without
an IAM ``X-Auth-Token`` while its own triggers still get through. Dispatch's HTTP hand-off
sends both headers. (A queue delivery carries no bearer token, so with a queue hand-off leave
``HTTP_AUTH_TOKENS`` unset and rely on ``privacy: private``.)

Answers: ``GET /health`` 200 without auth; a job's outcome picks the status (see
``shared.copying.run``); errors go through ``shared.web.error_response``.
"""

from __future__ import annotations

import time
from typing import Any

from shared.errors import MethodNotAllowed
from shared.validation import validate_named
from shared.models import CopyJob
from shared.observability import configure_logging, correlation
from shared.web import Request, check_bearer, error_response, json_response, parse_event, parse_json_object

MAX_BODY = 256 * 1024


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    started = time.monotonic()
    with correlation():
        try:
            from shared.settings import load_settings

            settings = load_settings()
            configure_logging(settings.log_level)
            request = parse_event(event, max_body=MAX_BODY)
            if request.method == "GET" and request.path.rstrip("/").endswith("/health"):
                return json_response(200, {"status": "ok"})
            if request.method != "POST":
                raise MethodNotAllowed("use POST with a copy job")
            if settings.http_auth_tokens:
                check_bearer(request, settings.http_auth_tokens)
            job = read_job(request)
            return run(job, settings, started)
        except Exception as exc:  # the one place errors become answers
            return error_response(exc)


def read_job(request: Request) -> CopyJob:
    return validate_named(CopyJob, parse_json_object(request, allow_empty=False), "the copy job is not valid")


def run(job: CopyJob, settings: Any, started: float) -> dict[str, Any]:
    from shared.copying.run import function_budget, run_job

    report = run_job(job, settings, remaining_time=function_budget(settings.function_timeout_seconds, started),
                     requeue=_requeue(settings))
    return json_response(report.status_code, report.to_dict())


def _requeue(settings: Any) -> Any:
    """Continuations go back through the hand-off; inline mode has no later invocation to resume."""
    return None if settings.handoff_mode == "inline" else _LazyHandoff(settings)


class _LazyHandoff:
    """Built only when a continuation is actually sent: most jobs finish in one invocation."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def send(self, jobs: list[CopyJob]) -> Any:
        from shared.handoff import handoff_from_settings

        handoff = handoff_from_settings(self.settings)
        try:
            return handoff.send(jobs)
        finally:
            handoff.close()
