"""Dispatch's routes: each reads its caller's format into a ``DispatchRequest``, runs it, and
answers in the caller's terms.

- ``POST /``: a ``DispatchRequest`` from the cron schedule or a bearer-token caller
  (``authenticate``, then ``authorize``), or a slash command that hooks queued, delivered by
  the command queue's trigger like the cron (``shared.dispatch.slack.run_deferred``).
- ``POST /alerts/alertmanager``: an Alertmanager notice; a token required, as a bearer token
  (``http_config.authorization``) or a basic-auth password (``http_config.basic_auth``). A
  5xx answer makes Alertmanager retry.
- ``POST /alerts/grafana``: a Grafana notice; the HMAC when ``GRAFANA_WEBHOOK_SECRET`` is
  set, a token otherwise (and whenever an ``Authorization`` header is sent).
- ``POST /slack/command``: a Slack slash command, signed with ``SLACK_SIGNING_SECRET``
  (``shared.dispatch.slack``): answered within Slack's 3 s, the run queued when
  ``COMMAND_QUEUE_URL`` is set.

Only what a route runs is imported when it runs (``run_dispatch`` and its clients): answering
a slash command on a cold start must stay light.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from shared.dispatch.chatops import select_from_alerts
from shared.dispatch.deferred import is_deferred
from shared.dispatch.request import DispatchRequest, authenticate, authorize, parse_dispatch_request
from shared.dispatch.signatures import verify_grafana
from shared.dispatch.slack import run_deferred, slack_route
from shared.observability import log_event
from shared.settings import Settings
from shared.web import Request, check_bearer, json_response, parse_json_object

logger = logging.getLogger(__name__)

Route = Callable[[Request, Settings], dict[str, Any]]
KiB = 1024


def _run(request: DispatchRequest, settings: Settings, requested_by: str) -> tuple[int, dict[str, Any]]:
    from shared.dispatch.run import run_dispatch

    report = run_dispatch(request, settings=settings, requested_by=requested_by)
    return report.status, report.to_dict()


def dispatch_route(http: Request, settings: Settings) -> dict[str, Any]:
    trigger = authenticate(http, settings)  # before the body is even parsed
    body = parse_json_object(http)
    if is_deferred(body):
        return run_deferred(body, settings)
    request = parse_dispatch_request(body)
    authorize(request, trigger, settings)
    return json_response(*_run(request, settings, trigger))


def _alerts(http: Request, settings: Settings, source: str) -> dict[str, Any]:
    selection = select_from_alerts(parse_json_object(http, allow_empty=False),
                                   id_label=settings.alert_database_id_label,
                                   name_label=settings.alert_database_name_label)
    alerts = {"firing": selection.firing, "ignored": selection.ignored}
    log_event(logger, "alert notice", source=source, firing=selection.firing, ignored=len(selection.ignored))
    if selection.request is None:
        return json_response(200, {"requested_by": source, "alerts": alerts, "summary": {}, "databases": []})
    status, report = _run(selection.request, settings, source)
    return json_response(status, {**report, "alerts": alerts})


def alertmanager_route(http: Request, settings: Settings) -> dict[str, Any]:
    check_bearer(http, list(settings.http_auth_tokens), basic=True)
    return _alerts(http, settings, "alertmanager")


def grafana_route(http: Request, settings: Settings) -> dict[str, Any]:
    secret = settings.grafana_webhook_secret
    if secret is not None:
        verify_grafana(http, secret.get_secret_value(), signature_headers=list(settings.grafana_signature_headers),
                       timestamp_header=settings.grafana_timestamp_header)
    if secret is None or http.header("authorization") is not None:
        check_bearer(http, list(settings.http_auth_tokens), basic=True)
    return _alerts(http, settings, "grafana")


# path -> (method, route, largest body). An alert group can hold many alerts (Alertmanager's
# max_alerts is unlimited by default), and a refused notice (4xx) is never re-sent.
ROUTES: dict[str, tuple[str, Route, int]] = {
    "/": ("POST", dispatch_route, 64 * KiB),
    "/alerts/alertmanager": ("POST", alertmanager_route, 1024 * KiB),
    "/alerts/grafana": ("POST", grafana_route, 1024 * KiB),
    "/slack/command": ("POST", slack_route, 16 * KiB),
}
MAX_BODY = max(limit for _, _, limit in ROUTES.values())
