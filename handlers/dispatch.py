"""The dispatch function: cron and HTTP triggers -> plan, export, hand off.

Routes: ``GET /health`` answers ``{"status": "ok"}`` to anyone and reveals nothing else;
``POST /`` with a ``DispatchRequest`` JSON body runs a dispatch; other methods on known
paths get 405, other paths 404. Bodies are limited to 64 KiB.

Who may call. The function is deployed ``privacy: private``: the platform lets through
only its own triggers (the cron's POST, whose body is the trigger's ``input:``) and HTTP
callers holding an IAM key with ``FunctionsPrivateAccess`` in ``X-Auth-Token``. The
platform documents no header marking a cron call, so this handler cannot tell one from a
key holder's call, and never pretends to. Its rule, on top of the platform's:

- a request WITH ``Authorization`` must carry ``Bearer <one of HTTP_AUTH_TOKENS>``
  (constant-time compare); a wrong token or scheme is 401, whatever the body;
- a request WITHOUT it is taken as the schedule and may only do what the schedule does:
  the configured project and region, no ``force``, no age window wider than
  ``MAX_AGE_HOURS`` (it may narrow the run, e.g. ``dry_run`` or a few databases);
  anything more is 401. Such a run is idempotent: verified copies are skipped.

So a key holder without a bearer token can at most start the nightly run early. Deploying
this function public would let anyone do that: keep it private.
"""

from __future__ import annotations

import re
from typing import Any

from shared.dispatching import run_dispatch
from shared.errors import MethodNotAllowed, RouteNotFound
from shared.observability import configure_logging, correlation
from shared.requests import read_dispatch_request
from shared.settings import load_settings
from shared.web import error_response, json_response, parse_event

MAX_BODY = 64 * 1024
_ROUTES = {"/": "POST", "/health": "GET"}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging()
    with correlation(_request_id(event)):
        try:
            request = parse_event(event, max_body=MAX_BODY)
            path = request.path.rstrip("/") or "/"
            if path not in _ROUTES:
                raise RouteNotFound("no such route")
            if request.method != _ROUTES[path]:
                raise MethodNotAllowed(f"use {_ROUTES[path]} on {path}")
            if path == "/health":
                return json_response(200, {"status": "ok"})
            settings = load_settings()
            configure_logging(settings.log_level)
            dispatch_request, trigger = read_dispatch_request(request, settings)
            report = run_dispatch(dispatch_request, settings=settings, requested_by=trigger)
            return json_response(report.status, report.to_dict())
        except Exception as exc:  # the one place errors become answers
            return error_response(exc)


def _request_id(event: Any) -> str | None:
    """The platform's X-Request-ID, when it looks like one, correlates our logs with its own."""
    headers = event.get("headers") if isinstance(event, dict) else None
    if not isinstance(headers, dict):
        return None
    value = next((str(v) for k, v in headers.items() if str(k).lower() == "x-request-id"), "")
    return value if _REQUEST_ID.match(value) else None
