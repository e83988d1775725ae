"""The Slack slash command, answered within Slack's 3 seconds, and its run.

``POST /slack/command`` (served by hooks) checks Slack's signature, the user and the text;
help, typos and refusals are answered at once (HTTP 200, Slack shows only a 200's body; only a
request Slack itself got wrong gets a 4xx). A command to run is then:

- **queued**, when ``COMMAND_QUEUE_URL`` is set: hooks puts a ``DeferredCommand`` on the
  command queue and answers "started" before anything is planned. The queue's trigger delivers
  it to dispatch (``POST /``, ``run_deferred``), which runs it and posts the run's summary on
  the command's response_url; the first four copies post their outcome there too. Five posts:
  Slack's limit per response_url.
- **run before answering**, without ``COMMAND_QUEUE_URL`` (local runs, or no second queue):
  the answer is the run's summary and the first five copies post. Fine for a few databases;
  for ``all`` on a large project Slack stops waiting after 3 s and says the command failed,
  while the run completes and the copies still report.

The answer path imports little (no API client, no boto3 client): a cold start must answer in time.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from shared.dispatch.chatops import (
    RESPONSE_URL_POSTS,
    USAGE,
    CommandError,
    parse_command_text,
    slack_followup,
    slack_message,
    slack_reply,
    slack_started,
)
from shared.dispatch.deferred import DeferredCommand, authorize_deferred, parse_deferred
from shared.dispatch.request import DispatchRequest
from shared.dispatch.signatures import verify_slack
from shared.errors import BackupExportError, RequestError, UnsupportedMediaType
from shared.models import as_utc
from shared.observability import log_event
from shared.settings import Settings
from shared.urls import host_allowed
from shared.web import Request, json_response

logger = logging.getLogger(__name__)

COPY_POSTS = RESPONSE_URL_POSTS - 1  # a queued command's summary takes one of Slack's five posts
_SLACK_USER = re.compile(r"^[A-Z0-9]{1,32}$")
_SLACK_COMMAND = re.compile(r"^/[\w-]{1,32}$")


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
    reply_to = form.get("response_url") or None  # copies answer there: on Slack's host only
    if reply_to and not host_allowed(reply_to, settings.reply_host_allowlist):
        reply_to = None
    if settings.command_queue_url:
        return json_response(200, _queue(parsed.request, settings, user, reply_to))
    return json_response(200, _run_now(parsed.request, settings, user, reply_to))


def _queue(request: DispatchRequest, settings: Settings, user: str, reply_to: str | None) -> dict[str, Any]:
    """Hand the command to dispatch through the command queue; answer what was started."""
    if reply_to is None:
        return slack_message("Nothing was started: this command's response_url is not on REPLY_HOST_ALLOWLIST, "
                             "so its results could not be posted here.")
    from shared.command_queue import CommandQueue  # lazy, like everything only this path needs

    deferred = DeferredCommand(kind="slack_command", request=request, requested_by=f"slack:{user}",
                               reply_to=reply_to, answered_at=datetime.now(timezone.utc))
    queue = CommandQueue.from_settings(settings)
    try:
        message_id = queue.send(deferred.model_dump_json())
    except BackupExportError as exc:
        return slack_message(f"Nothing was started: {exc.message} ({exc.code}). Try again in a minute.")
    finally:
        queue.close()
    log_event(logger, "slack command queued", user=user, message_id=message_id, dry_run=request.dry_run,
              databases=len(request.database_ids) + len(request.database_names) or "all")
    return slack_started(request, reply_posts=COPY_POSTS)


def _run_now(request: DispatchRequest, settings: Settings, user: str, reply_to: str | None) -> dict[str, Any]:
    """No command queue: run before answering, and answer the run's summary."""
    from shared.dispatch.run import run_dispatch

    reply_to = None if request.dry_run else reply_to
    try:
        report = run_dispatch(request, settings=settings, requested_by=f"slack:{user}", reply_to=reply_to,
                              reply_posts=RESPONSE_URL_POSTS)
    except BackupExportError as exc:  # nothing could be planned (the API is down, a setting is missing)
        return slack_message(f"Nothing was done: {exc.message} ({exc.code}).")
    return slack_reply(report.to_dict(), reply_posts=RESPONSE_URL_POSTS if reply_to else 0)


def run_deferred(body: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Dispatch's side of a queued command: check it, run it, post the summary on its response_url.

    It runs once: whatever its outcome, the answer is 200, so the trigger does not run it again
    (and spend more of the response_url's posts); the person can type the command again. Only a
    message that can't be read or is refused (4xx) goes back to the queue, then to its
    dead-letter queue."""
    from shared.dispatch.run import run_dispatch
    from shared.notify.replies import ReplyPoster

    command = parse_deferred(body)
    now = datetime.now(timezone.utc)
    authorize_deferred(command, settings, now=now)
    request, copies_reply = command.request, None if command.request.dry_run else command.reply_to
    log_event(logger, "queued command received", requested_by=command.requested_by,
              waited_seconds=round((now - as_utc(command.answered_at)).total_seconds(), 3))
    try:
        report = run_dispatch(request, settings=settings, requested_by=command.requested_by,
                              reply_to=copies_reply, reply_posts=COPY_POSTS).to_dict()
        summary = slack_reply(report, reply_posts=COPY_POSTS if copies_reply else 0)
    except BackupExportError as exc:
        report, summary = exc.to_dict(), slack_message(f"Nothing was done: {exc.message} ({exc.code}).")
    with ReplyPoster.create() as poster:
        reply = poster.post(command.reply_to, slack_followup(summary))
    return json_response(200, {**report, "reply": reply.to_dict()})


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise RequestError("the body is not a valid form") from None
    form = {key: values[0] for key, values in pairs.items()}
    if "command" not in form or "text" not in form:
        raise RequestError("the form has no command or text field")
    return form
