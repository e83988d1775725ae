"""Pure reading of chat-ops formats: alert notices and slash-command text."""

from __future__ import annotations

from uuid import UUID

import pytest

from shared.dispatch.chatops import CommandError, parse_command_text, select_from_alerts, slack_reply
from shared.errors import InvalidRequest

DB = "11111111-2222-4333-8444-555555555555"


def alert(status: str = "firing", **labels: str) -> dict:
    return {"status": status, "labels": labels, "fingerprint": "f" * 16, "annotations": {}, "newField": 1}


def select(*alerts: dict, **top) -> object:
    return select_from_alerts({"alerts": list(alerts), **top}, id_label="database_id", name_label="database_name")


def test_firing_alerts_name_databases_once_each():
    chosen = select(alert(database_id=DB), alert(database_id=DB.upper()), alert(database_name="shop"),
                    alert(database_name="shop"))

    assert chosen.request.database_ids == [UUID(DB)] and chosen.request.database_names == ["shop"]
    assert chosen.firing == 4 and chosen.ignored == []
    assert not chosen.request.force and not chosen.request.dry_run


def test_the_id_label_wins_over_the_name_label():
    chosen = select(alert(database_id=DB, database_name="shop"))

    assert chosen.request.database_ids == [UUID(DB)] and chosen.request.database_names == []


@pytest.mark.parametrize("bad, reason", [
    (alert("resolved", database_name="shop"), "the alert is resolved, not firing"),
    (alert(alertname="X"), "the alert has no database_id or database_name label"),
    (alert(database_id="shop"), "the database_id label is not a UUID"),
    (alert(database_name="a\nb"), "the database_name label is not a database name"),
    (alert(database_name="x" * 256), "the database_name label is not a database name"),
])
def test_what_is_ignored_is_said_and_selects_nothing(bad, reason):
    chosen = select(bad)

    assert chosen.request is None and chosen.firing == 0
    assert chosen.ignored == [{"alertname": bad["labels"].get("alertname"), "fingerprint": "f" * 16, "reason": reason}]


@pytest.mark.parametrize("body, fields", [
    ({}, ["alerts"]),
    ({"alerts": {}}, ["alerts"]),
    ({"alerts": [{"labels": {}}]}, ["alerts.status"]),
    ({"alerts": [{"status": "firing", "labels": {"database_id": 5}}]}, ["alerts.labels.database_id"]),
    ({"alerts": [alert()] * 1001}, ["alerts"]),
])
def test_malformed_notices_name_their_fields(body, fields):
    with pytest.raises(InvalidRequest) as caught:
        select_from_alerts(body, id_label="database_id", name_label="database_name")

    assert caught.value.details == {"fields": fields}


@pytest.mark.parametrize("text, verb, ids, names, dry", [
    ("copy shop", "copy", [], ["shop"], False),
    ("  COPY   shop  blog shop ", "copy", [], ["shop", "blog"], False),
    (f"plan {DB} shop", "plan", [UUID(DB)], ["shop"], True),
    ("copy all", "copy", [], [], False),
    ("plan ALL", "plan", [], [], True),
])
def test_command_text(text, verb, ids, names, dry):
    command = parse_command_text(text)

    assert command.verb == verb
    assert command.request.database_ids == ids and command.request.database_names == names
    assert command.request.dry_run is dry and command.request.force is False


@pytest.mark.parametrize("text", ["", "   ", "help", "--help"])
def test_help(text):
    assert parse_command_text(text).verb == "help" and parse_command_text(text).request is None


@pytest.mark.parametrize("text, message", [
    ("delete shop", "Unknown command `delete`."),
    ("c`o`py shop", "Unknown command `copy`."),
    ("copy", "Say which databases to copy, or `all`."),
    ("plan all shop", "`all` already means every database: name no others with it."),
    ("copy \x07bell", "is not a database name."),
])
def test_command_errors_are_for_the_person_who_typed(text, message):
    with pytest.raises(CommandError) as caught:
        parse_command_text(text)

    assert message in str(caught.value)


def test_reply_says_each_outcome_and_goes_to_the_channel_only_when_a_copy_started():
    report = {"run_id": "r1", "dry_run": False, "summary": {"handed_off": 1, "failed": 1},
              "databases": [
                  {"database_name": "shop", "status": "handed_off", "reason": "no copy of this backup yet"},
                  {"database_name": "blog", "status": "failed", "reason": "x",
                   "error": {"code": "scaleway_unavailable", "message": "the API is unavailable"}}]}

    reply = slack_reply(report)

    assert reply["response_type"] == "in_channel"
    assert reply["text"].splitlines() == [
        "Copy run `r1`: 1 failed, 1 copy started.",
        "• *shop*: copy started (no copy of this backup yet)",
        "• *blog*: failed (the API is unavailable)"]
    nothing = slack_reply({"run_id": "r2", "dry_run": False, "summary": {"already_copied": 1},
                           "databases": [{"database_name": "shop", "status": "already_copied", "reason": "r"}]})
    assert nothing["response_type"] == "ephemeral"


def test_long_replies_are_cut():
    rows = [{"database_name": f"db{i}", "status": "would_copy", "reason": ""} for i in range(25)]

    text = slack_reply({"run_id": "r", "dry_run": True, "summary": {"would_copy": 25}, "databases": rows})["text"]

    assert text.splitlines()[0] == "Plan run `r`: 25 would be copied."
    assert len(text.splitlines()) == 22 and text.endswith("…and 5 more.")


@pytest.mark.parametrize("started, reply_posts, last", [
    (2, 5, "Each copy will report here when it is done."),
    (7, 5, "The first 5 copies will report here; every copy reports to the notification targets."),
    (2, 0, "• *db1*: copy started"),
])
def test_reply_says_where_the_outcomes_will_come(started, reply_posts, last):
    rows = [{"database_name": f"db{i}", "status": "handed_off", "reason": ""} for i in range(started)]

    reply = slack_reply({"run_id": "r", "dry_run": False, "summary": {"handed_off": started}, "databases": rows},
                        reply_posts=reply_posts)

    assert reply["text"].splitlines()[-1] == last
