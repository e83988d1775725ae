"""Dispatch's routes: each reads its caller's format into a ``DispatchRequest``, runs it, and
answers in the caller's terms.

- ``POST /``: a ``DispatchRequest`` from the cron schedule or a bearer-token caller
  (``read_dispatch_request``).
- ``POST /alerts/alertmanager``: an Alertmanager notice; a token required, as a bearer token
  (``http_config.authorization``) or a basic-auth password (``http_config.basic_auth``). A
  5xx answer makes Alertmanager retry.
- ``POST /alerts/grafana``: a Grafana notice; the HMAC when ``GRAFANA_WEBHOOK_SECRET`` is
  set, a token otherwise (and whenever an ``Authorization`` header is sent).
- ``POST /slack/command``: a Slack slash command, signed with ``SLACK_SIGNING_SECRET``.
  What the person typed gets an answer Slack shows (HTTP 200, ephemeral unless a copy
  started); only a request Slack itself got wrong gets a 4xx.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable
from urllib.parse import parse_qs

from shared.dispatch.chatops import USAGE, CommandError, parse_command_text, select_from_alerts, slack_message, slack_reply
from shared.dispatch.run import REPLY_POSTS, run_dispatch
from shared.errors import BackupExportError, RequestError, UnsupportedMediaType
from shared.dispatch.signatures import verify_grafana, verify_slack
from shared.observability import log_event
from shared.dispatch.request import DispatchRequest, read_dispatch_request
from shared.settings import Settings
from shared.urls import host_allowed
from shared.web import Request, check_bearer, json_response, parse_json_object

logger = logging.getLogger(__name__)

Route = Callable[[Request, Settings], dict[str, Any]]
KiB = 1024
_SLACK_USER = re.compile(r"^[A-Z0-9]{1,32}$")
_SLACK_COMMAND = re.compile(r"^/[\w-]{1,32}$")


def _run(request: DispatchRequest, settings: Settings, requested_by: str,
         reply_to: str | None = None) -> tuple[int, dict[str, Any]]:
    report = run_dispatch(request, settings=settings, requested_by=requested_by, reply_to=reply_to)
    return report.status, report.to_dict()


def dispatch_route(http: Request, settings: Settings) -> dict[str, Any]:
    request, trigger = read_dispatch_request(http, settings)
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


def slack_route(http: Request, settings: Settings) -> dict[str, Any]:
    secret = settings.slack_signing_secret
    verify_slack(http, secret.get_secret_value() if secret else None)
    if http.content_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("a slash command is application/x-www-form-urlencoded")
    form = _form(http.body)
    command, user = form.get("command", ""), form.get("user_id", "")
    command = command if _SLACK_COMMAND.match(command) else "/sdb-backup"  # echoed in the usage text
    if not _SLACK_USER.match(user):
        raise RequestError("the slash command has no valid user_id")
    if settings.slack_allowed_user_ids and user not in settings.slack_allowed_user_ids:
        log_event(logger, "slack command refused", logging.WARNING, user=user)
        return json_response(200, slack_message("You are not allowed to run this command."))
    try:
        parsed = parse_command_text(form.get("text", ""))
    except CommandError as exc:
        return json_response(200, slack_message(f"{exc} {USAGE.format(command=command)}"))
    if parsed.request is None:
        return json_response(200, slack_message(USAGE.format(command=command)))
    # Each copy also answers in the channel through the command's response_url (Slack's host only).
    reply_to = form.get("response_url") or None
    if parsed.request.dry_run or not (reply_to and host_allowed(reply_to, settings.reply_host_allowlist)):
        reply_to = None
    # Slack shows the body of a 200 only: every outcome, failures included, is said in the text.
    try:
        _, report = _run(parsed.request, settings, f"slack:{user}", reply_to=reply_to)
    except BackupExportError as exc:  # nothing could be planned (the API is down, a setting is missing)
        return json_response(200, slack_message(f"Nothing was done: {exc.message} ({exc.code})."))
    return json_response(200, slack_reply(report, reply_posts=REPLY_POSTS if reply_to else 0))


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise RequestError("the body is not a valid form") from None
    form = {key: values[0] for key, values in pairs.items()}
    if "command" not in form or "text" not in form:
        raise RequestError("the form has no command or text field")
    return form


# path -> (method, route, largest body). An alert group can hold many alerts (Alertmanager's
# max_alerts is unlimited by default), and a refused notice (4xx) is never re-sent.
ROUTES: dict[str, tuple[str, Route, int]] = {
    "/": ("POST", dispatch_route, 64 * KiB),
    "/alerts/alertmanager": ("POST", alertmanager_route, 1024 * KiB),
    "/alerts/grafana": ("POST", grafana_route, 1024 * KiB),
    "/slack/command": ("POST", slack_route, 16 * KiB),
}
MAX_BODY = max(limit for _, _, limit in ROUTES.values())
