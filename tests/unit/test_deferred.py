"""A queued slash command: its message, what dispatch lets it do, and the answer that says it started."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from shared.dispatch.chatops import slack_started
from shared.dispatch.deferred import DeferredCommand, authorize_deferred, is_deferred, parse_deferred
from shared.dispatch.request import DispatchRequest
from shared.errors import InvalidRequest, Unauthorized
from shared.settings import Settings

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
REPLY = "https://hooks.slack.com/commands/T1/2/abc"
SETTINGS = Settings(reply_host_allowlist=["hooks.slack.com"], slack_allowed_user_ids=[], scw_config_path="/nonexistent")
DB = UUID("11111111-2222-4333-8444-555555555555")


def deferred(request: DispatchRequest | None = None, **fields) -> DeferredCommand:
    values = {"kind": "slack_command", "request": request or DispatchRequest(database_names=["shop"]),
              "requested_by": "slack:U2CERLKJA", "reply_to": REPLY, "answered_at": NOW, **fields}
    return DeferredCommand(**values)


def test_the_message_round_trips_and_is_told_apart_from_a_dispatch_request():
    command = deferred(DispatchRequest(database_ids=[DB], dry_run=True))
    body = command.model_dump(mode="json")

    assert is_deferred(body) and not is_deferred(DispatchRequest().model_dump(mode="json"))
    assert parse_deferred(body) == command and body["version"] == 1


@pytest.mark.parametrize("change, field", [
    ({"version": 2}, "version"),
    ({"kind": "cron"}, "kind"),
    ({"requested_by": "cron"}, "requested_by"),
    ({"reply_to": ""}, "reply_to"),
    ({"extra": 1}, "extra"),
    ({"request": {"database_names": ["shop"], "colour": "red"}}, "request.colour"),
])
def test_a_message_that_is_not_what_hooks_writes_is_422_naming_the_field(change, field):
    body = {**deferred().model_dump(mode="json"), **change}

    with pytest.raises(InvalidRequest) as caught:
        parse_deferred(body)

    assert field in caught.value.details["fields"]


def test_what_a_slash_command_can_ask_is_allowed():
    for request in (DispatchRequest(), DispatchRequest(database_ids=[DB]), DispatchRequest(dry_run=True)):
        authorize_deferred(deferred(request), SETTINGS, now=NOW + timedelta(minutes=29))


@pytest.mark.parametrize("request_", [
    DispatchRequest(force=True),
    DispatchRequest(project_id=UUID("aaaaaaaa-0000-4000-8000-000000000001")),
    DispatchRequest(region="nl-ams"),
    DispatchRequest(max_age_hours=1),  # even a narrower window: no slash command asks for one
])
def test_more_than_a_slash_command_can_ask_is_refused(request_):
    with pytest.raises(Unauthorized, match="only name databases and dry_run"):
        authorize_deferred(deferred(request_), SETTINGS, now=NOW)


@pytest.mark.parametrize("reply_to", ["https://attacker.example/hook", "http://hooks.slack.com.evil/x", "ftp://hooks.slack.com/x"])
def test_a_reply_to_off_the_allow_list_is_refused(reply_to):
    with pytest.raises(Unauthorized, match="REPLY_HOST_ALLOWLIST"):
        authorize_deferred(deferred(reply_to=reply_to), SETTINGS, now=NOW)


def test_only_allowed_slack_users_when_the_list_is_set():
    settings = SETTINGS.model_copy(update={"slack_allowed_user_ids": ["U0ADMIN01"]})

    authorize_deferred(deferred(requested_by="slack:U0ADMIN01"), settings, now=NOW)
    with pytest.raises(Unauthorized, match="SLACK_ALLOWED_USER_IDS"):
        authorize_deferred(deferred(), settings, now=NOW)


@pytest.mark.parametrize("answered, says", [
    (NOW - timedelta(minutes=31), "more than 30 minutes old"),
    (NOW + timedelta(minutes=6), "dated in the future"),
])
def test_an_old_or_future_message_is_refused(answered, says):
    with pytest.raises(Unauthorized, match=says):
        authorize_deferred(deferred(answered_at=answered), SETTINGS, now=NOW)


@pytest.mark.parametrize("request_, kind, start", [
    (DispatchRequest(), "in_channel", "Copy started: every database. Results follow in this channel"),
    (DispatchRequest(database_names=["shop", "blog"], database_ids=[DB]), "in_channel", "Copy started: 3 databases."),
    (DispatchRequest(database_names=["shop"]), "in_channel", "Copy started: 1 database."),
    (DispatchRequest(dry_run=True), "ephemeral", "Planning every database: the plan will follow here, for you alone."),
])
def test_the_answer_says_what_started_and_what_will_follow(request_, kind, start):
    answer = slack_started(request_, reply_posts=4)

    assert answer["response_type"] == kind and answer["text"].startswith(start)
    if kind == "in_channel":
        assert "first 4 copies (Slack takes 5 answers per command)" in answer["text"]
