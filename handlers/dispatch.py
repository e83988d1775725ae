"""The dispatch function: cron, HTTP and chat-ops triggers -> plan, export, hand off.

Routes: ``GET /health`` answers ``{"status": "ok"}`` to anyone and reveals nothing else;
``POST /`` with a ``DispatchRequest`` JSON body runs a dispatch; ``POST /alerts/alertmanager``,
``POST /alerts/grafana`` and ``POST /slack/command`` take chat-ops callers' own formats
(``shared.dispatch.routes``); other methods on known paths get 405, other paths 404. Bodies are
limited per route: 64 KiB for ``POST /``, 1 MiB for alert notices, 16 KiB for Slack.

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

So a key holder without a bearer token can at most start the nightly run early. Where the
function must be public (Slack can't send an IAM key), deploy it with
``CRON_WITHOUT_TOKEN=false``: then every route authenticates every call itself.
"""

from __future__ import annotations

import re
from typing import Any

from shared.errors import MethodNotAllowed, PayloadTooLarge, RouteNotFound
from shared.observability import configure_logging, correlation
from shared.settings import load_settings
from shared.dispatch.routes import MAX_BODY, ROUTES
from shared.web import error_response, json_response, parse_event
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging()
    with correlation(_request_id(event)):
        try:
            request = parse_event(event, max_body=MAX_BODY)
            path = request.path.rstrip("/") or "/"
            if path == "/health":
                if request.method != "GET":
                    raise MethodNotAllowed("use GET on /health")
                return json_response(200, {"status": "ok"})
            if path not in ROUTES:
                raise RouteNotFound("no such route")
            method, route, max_body = ROUTES[path]
            if request.method != method:
                raise MethodNotAllowed(f"use {method} on {path}")
            if len(request.body) > max_body:
                raise PayloadTooLarge(f"the body is larger than {max_body} bytes")
            settings = load_settings()
            configure_logging(settings.log_level)
            return route(request, settings)
        except Exception as exc:  # the one place errors become answers
            return error_response(exc)


def _request_id(event: Any) -> str | None:
    """The platform's X-Request-ID, when it looks like one, correlates our logs with its own."""
    headers = event.get("headers") if isinstance(event, dict) else None
    if not isinstance(headers, dict):
        return None
    value = next((str(v) for k, v in headers.items() if str(k).lower() == "x-request-id"), "")
    return value if _REQUEST_ID.match(value) else None
