"""A slash command answered now and run later: the command queue's message, and what it may do.

Slack waits 3 s for an answer, cold start included; planning and exporting 1,000 databases
takes about 20 s at the API's rate limit. So the public hooks function checks the command
(signature, user, text), puts a ``DeferredCommand`` on the command queue and answers at once;
the queue's trigger delivers the message to the private dispatch function, which runs it and
posts the run's summary to the command's ``response_url`` (``reply_to``).

How dispatch trusts a delivery. It arrives like the cron: a ``POST /`` without
``Authorization`` on the private function, reached only by the platform's triggers and by
holders of an IAM key with ``FunctionsPrivateAccess``; and only holders of Queues credentials
allowed to publish can put a message on the command queue. Those are the parties the cron
rule already trusts to start the scheduled run, so a deferred command may do exactly what a
signed Slack command can, which is less than the schedule, plus one thing: post the run's
summary to ``reply_to``. ``authorize_deferred`` checks, whoever the caller:

- the request names databases and ``dry_run`` only: no ``force``, project, region or age
  window (a slash command can ask for none of them), so it stays within the schedule's scope;
- who asked is a Slack user, one of ``SLACK_ALLOWED_USER_IDS`` when that is set;
- ``reply_to`` is on ``REPLY_HOST_ALLOWLIST`` (Slack's host): a message never makes dispatch
  post anywhere else;
- it was answered less than 30 minutes ago: Slack's response_url stops taking posts then,
  and an old message can't be replayed.

Signing the message would guard nothing more: whoever can publish to the queue or call the
private function can already start the scheduled run. Where ``CRON_WITHOUT_TOKEN`` is off
(hooks), a deferred command needs a bearer token like any ``POST /``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.dispatch.request import DispatchRequest
from shared.errors import Unauthorized
from shared.models import as_utc
from shared.settings import Settings
from shared.urls import host_allowed
from shared.validation import validate_named

DEFERRED_VERSION = 1
MAX_AGE = timedelta(minutes=30)  # how long Slack takes posts on a response_url
MAX_SKEW = timedelta(minutes=5)  # clocks of two functions may differ a little, not more
SLACK_REQUESTER = r"^slack:[A-Z0-9]{1,32}$"


class DeferredCommand(BaseModel):
    """The command queue's message: a slash command hooks has answered, for dispatch to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["slack_command"]
    version: Literal[1] = DEFERRED_VERSION
    request: DispatchRequest
    requested_by: str = Field(pattern=SLACK_REQUESTER)
    reply_to: str = Field(min_length=1, max_length=2048)
    answered_at: datetime


def is_deferred(body: dict[str, Any]) -> bool:
    """A ``POST /`` body is a deferred command when it says so (a ``DispatchRequest`` has no ``kind``)."""
    return "kind" in body


def parse_deferred(body: dict[str, Any]) -> DeferredCommand:
    return validate_named(DeferredCommand, body, "the deferred command has invalid or unknown fields")


def authorize_deferred(command: DeferredCommand, settings: Settings, *, now: datetime) -> None:
    """Refuse (401) a deferred command that asks for more than a signed slash command could."""
    request = command.request
    if request.force or request.project_id or request.region or request.max_age_hours is not None:
        raise Unauthorized("a deferred command may only name databases and dry_run")
    user = command.requested_by.removeprefix("slack:")
    if settings.slack_allowed_user_ids and user not in settings.slack_allowed_user_ids:
        raise Unauthorized("the deferred command's user is not in SLACK_ALLOWED_USER_IDS")
    if not host_allowed(command.reply_to, settings.reply_host_allowlist):
        raise Unauthorized("the deferred command's reply_to is not on REPLY_HOST_ALLOWLIST")
    answered = as_utc(command.answered_at)
    if now - answered > MAX_AGE:
        raise Unauthorized(f"the deferred command is more than {MAX_AGE.seconds // 60} minutes old")
    if answered - now > MAX_SKEW:
        raise Unauthorized("the deferred command is dated in the future")
