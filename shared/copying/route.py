"""The copy function's one route: an authenticated ``CopyJob`` in, the copy's result out.

``POST /`` carries one job (the queue trigger's message body, or dispatch's HTTP hand-off). When
``HTTP_AUTH_TOKENS`` is set, every job must carry ``Authorization: Bearer <one of them>``; a
queue delivery carries none, so with a queue hand-off leave it unset and rely on the function
being ``privacy: private``. The answer's status (``copy_status``) tells the platform whether to
deliver the job again.
"""

from __future__ import annotations

from typing import Any

from shared.clock import SYSTEM_CLOCK, Clock
from shared.copying.result import copy_status
from shared.copying.run import function_budget, run_job
from shared.models import CopyJob
from shared.settings import Settings
from shared.validation import validate_named
from shared.web import Request, check_bearer, json_response, parse_json_object

MAX_BODY = 256 * 1024  # a queue message is at most 256 KiB


def read_job(request: Request) -> CopyJob:
    """The job in the body, or a 400/422 naming what is wrong (never echoing it)."""
    return validate_named(CopyJob, parse_json_object(request, allow_empty=False), "the copy job is not valid")


def copy_route(request: Request, settings: Settings, started: float, clock: Clock = SYSTEM_CLOCK) -> dict[str, Any]:
    """``started``: when the invocation began, on ``clock.monotonic`` (it bounds the copy's time)."""
    if settings.http_auth_tokens:
        check_bearer(request, settings.http_auth_tokens)
    job = read_job(request)
    result = run_job(job, settings, remaining_time=function_budget(settings.function_timeout_seconds, started, clock),
                     requeue=_requeue(settings), clock=clock)
    return json_response(copy_status(result.outcome, result.error, job.deadline, clock.now()), result.to_dict())


def _requeue(settings: Settings) -> Any:
    """Continuations go back through the hand-off; inline mode has no later invocation to resume."""
    return None if settings.handoff_mode == "inline" else _LazyHandoff(settings)


class _LazyHandoff:
    """Built only when a continuation is actually sent: most jobs finish in one invocation."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, jobs: list[CopyJob]) -> Any:
        from shared.handoff import handoff_from_settings

        handoff = handoff_from_settings(self.settings)
        try:
            return handoff.send(jobs)
        finally:
            handoff.close()
