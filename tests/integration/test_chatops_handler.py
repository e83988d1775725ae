"""Chat-ops triggers through the dispatch handler: Alertmanager, Grafana and Slack formats ->
sandbox API, moto S3 and SQS, as deployed (settings from the environment)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from handlers.dispatch import handle
from tests.integration.test_dispatch_handler import TOKEN, World, body, event, outcomes, world  # noqa: F401

ALERTS = Path(__file__).resolve().parents[1] / "events" / "alerts"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
GRAFANA_SECRET = "grafana-hmac-secret"


def notice(name: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    """A real-shaped notice whose alerts are the template's alert with these labels/status."""
    data = json.loads((ALERTS / f"{name}.json").read_text())
    template = data["alerts"][0]
    data["alerts"] = []
    for change in alerts:
        alert = copy.deepcopy(template)
        alert["labels"].update(change.get("labels", {}))
        alert["status"] = change.get("status", "firing")
        data["alerts"].append(alert)
    return data


def post(path: str, payload: bytes | str, headers: dict[str, str]) -> dict[str, Any]:
    raw = payload if isinstance(payload, str) else payload.decode()
    return handle({"path": path, "httpMethod": "POST", "headers": headers, "body": raw,
                   "isBase64Encoded": False}, None)


def alertmanager(payload: dict[str, Any], token: str | None = TOKEN) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "User-Agent": "Alertmanager/0.28.1"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return post("/alerts/alertmanager", json.dumps(payload), headers)


def exports(world: World) -> int:
    return world.sandbox.stats.snapshot()["exports"]


# --- Alertmanager -------------------------------------------------------------------------


def test_firing_alerts_copy_the_databases_their_labels_name(world):
    shop = world.sandbox.state.database_named("shop")
    payload = notice("alertmanager",
                     {"labels": {"database_id": str(shop.id)}},
                     {"labels": {"database_name": "analytics"}},
                     {"labels": {"database_name": "blog"}, "status": "resolved"},
                     {"labels": {}},
                     {"labels": {"database_id": "not-a-uuid"}})

    response = alertmanager(payload)

    assert response["statusCode"] == 200, response["body"]
    assert outcomes(response) == {"shop": "handed_off", "analytics": "handed_off"}
    report = body(response)
    assert report["requested_by"] == "alertmanager" and report["alerts"]["firing"] == 2
    assert [a["reason"] for a in report["alerts"]["ignored"]] == [
        "the alert is resolved, not firing",
        "the alert has no database_id or database_name label",
        "the database_id label is not a UUID"]
    jobs = world.jobs()
    assert [(j.database_name, str(j.backup_id), j.requested_by) for j in jobs] == [
        ("analytics", str(world.latest_ready("analytics").id), "alertmanager"),
        ("shop", str(world.latest_ready("shop").id), "alertmanager")]


def test_a_repeated_alert_copies_nothing_once_the_copy_is_stored(world):
    payload = notice("alertmanager", {"labels": {"database_name": "shop"}})
    assert alertmanager(payload)["statusCode"] == 200
    assert [j.database_name for j in world.jobs()] == ["shop"] and exports(world) == 1
    world.store_verified_copy("shop")  # what the copy function leaves behind

    repeat = alertmanager(payload)  # Alertmanager re-sends a firing group every repeat_interval

    assert repeat["statusCode"] == 200 and outcomes(repeat) == {"shop": "already_copied"}
    assert exports(world) == 1 and world.jobs() == []


def test_a_repeat_while_the_copy_is_under_way_starts_no_second_copy(world):
    payload = notice("alertmanager", {"labels": {"database_name": "shop"}})
    assert outcomes(alertmanager(payload)) == {"shop": "handed_off"}
    [job] = world.jobs()
    upload = world.s3.create_multipart_upload(Bucket="backups", Key=job.object_key)  # the copy has started
    world.s3.upload_part(Bucket="backups", Key=job.object_key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x")

    repeat = alertmanager(payload)

    assert repeat["statusCode"] == 200 and outcomes(repeat) == {"shop": "copy_in_progress"}
    assert exports(world) == 1 and world.jobs() == []


def test_resolved_notices_do_nothing(world):
    payload = notice("alertmanager", {"labels": {"database_name": "shop"}, "status": "resolved"})
    payload["status"] = "resolved"

    response = alertmanager(payload)

    assert response["statusCode"] == 200
    assert body(response)["databases"] == [] and body(response)["alerts"]["firing"] == 0
    assert exports(world) == 0 and world.jobs() == []
    assert sum(world.api_requests().values()) == 0


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_alertmanager_without_a_valid_bearer_token_is_401(world, token):
    response = alertmanager(notice("alertmanager", {"labels": {"database_name": "shop"}}), token=token)

    assert response["statusCode"] == 401
    assert body(response)["error"]["code"] == "unauthorized"
    assert exports(world) == 0 and world.jobs() == []


@pytest.mark.parametrize("payload, status, code", [
    ("{not json", 400, "invalid_json"),
    ("", 400, "invalid_json"),
    (json.dumps({"version": "4", "status": "firing"}), 422, "invalid_request"),
    (json.dumps({"alerts": [{"labels": {"database_name": "shop"}}]}), 422, "invalid_request"),
    (json.dumps({"alerts": "shop"}), 422, "invalid_request"),
])
def test_malformed_notices_get_a_precise_4xx_and_nothing_is_done(world, payload, status, code):
    response = post("/alerts/alertmanager", payload,
                    {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})

    assert response["statusCode"] == status, response["body"]
    assert body(response)["error"]["code"] == code
    assert exports(world) == 0 and world.jobs() == []


def test_missing_fields_are_named(world):
    response = alertmanager({"version": "4"})

    assert response["statusCode"] == 422
    assert body(response)["error"]["details"] == {"fields": ["alerts"]}


def test_unknown_databases_are_reported_not_found(world):
    response = alertmanager(notice("alertmanager", {"labels": {"database_name": "no-such-db"}}))

    assert response["statusCode"] == 200
    assert outcomes(response) == {"no-such-db": "not_found"} and exports(world) == 0


def test_label_names_are_settings(world):
    world.env.setenv("ALERT_DATABASE_NAME_LABEL", "sdb")

    response = alertmanager(notice("alertmanager", {"labels": {"sdb": "blog", "database_name": "shop"}}))

    assert outcomes(response) == {"blog": "handed_off"}


# --- Grafana ------------------------------------------------------------------------------


def grafana(payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return post("/alerts/grafana", json.dumps(payload), {"Content-Type": "application/json", **headers})


def sign(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def test_grafana_with_a_valid_hmac_copies(world):
    world.env.setenv("GRAFANA_WEBHOOK_SECRET", GRAFANA_SECRET)
    payload = notice("grafana", {"labels": {"database_name": "shop"}})
    raw = json.dumps(payload).encode()

    response = grafana(payload, {"X-Grafana-Alerting-Signature": sign(GRAFANA_SECRET, raw)})

    assert response["statusCode"] == 200, response["body"]
    assert outcomes(response) == {"shop": "handed_off"}
    assert [(j.database_name, j.requested_by) for j in world.jobs()] == [("shop", "grafana")]


def test_grafana_signature_header_from_the_code_is_accepted_too(world):
    world.env.setenv("GRAFANA_WEBHOOK_SECRET", GRAFANA_SECRET)
    payload = notice("grafana", {"labels": {"database_name": "shop"}})

    response = grafana(payload, {"X-Grafana-Alert-Signature": sign(GRAFANA_SECRET, json.dumps(payload).encode())})

    assert response["statusCode"] == 200 and outcomes(response) == {"shop": "handed_off"}


@pytest.mark.parametrize("headers", [
    {},
    {"X-Grafana-Alerting-Signature": "0" * 64},
    {"X-Grafana-Alerting-Signature": "not hex"},
])
def test_grafana_without_a_valid_hmac_is_401(world, headers):
    world.env.setenv("GRAFANA_WEBHOOK_SECRET", GRAFANA_SECRET)

    response = grafana(notice("grafana", {"labels": {"database_name": "shop"}}), headers)

    assert response["statusCode"] == 401 and body(response)["error"]["code"] == "unauthorized"
    assert exports(world) == 0


def test_grafana_signed_payload_altered_in_transit_is_401(world):
    world.env.setenv("GRAFANA_WEBHOOK_SECRET", GRAFANA_SECRET)
    payload = notice("grafana", {"labels": {"database_name": "shop"}})
    signature = sign(GRAFANA_SECRET, json.dumps(payload).encode())
    payload["alerts"][0]["labels"]["database_name"] = "analytics"

    response = grafana(payload, {"X-Grafana-Alerting-Signature": signature})

    assert response["statusCode"] == 401 and exports(world) == 0


def test_grafana_timestamped_hmac(world):
    world.env.setenv("GRAFANA_WEBHOOK_SECRET", GRAFANA_SECRET)
    world.env.setenv("GRAFANA_TIMESTAMP_HEADER", "X-Grafana-Alerting-Timestamp")
    payload = notice("grafana", {"labels": {"database_name": "shop"}})
    raw = json.dumps(payload).encode()

    def headers(stamp: int) -> dict[str, str]:
        return {"X-Grafana-Alerting-Timestamp": str(stamp),
                "X-Grafana-Alerting-Signature": sign(GRAFANA_SECRET, f"{stamp}:".encode() + raw)}

    stale = grafana(payload, headers(int(time.time()) - 600))
    unstamped = grafana(payload, {"X-Grafana-Alerting-Signature": sign(GRAFANA_SECRET, raw)})
    assert (stale["statusCode"], unstamped["statusCode"]) == (401, 401) and exports(world) == 0
    assert "Timestamp" in body(stale)["error"]["message"]

    fresh = grafana(payload, headers(int(time.time())))
    assert fresh["statusCode"] == 200 and outcomes(fresh) == {"shop": "handed_off"}


def test_grafana_without_a_secret_needs_a_bearer_token(world):
    payload = notice("grafana", {"labels": {"database_name": "shop"}})

    refused = grafana(payload, {})
    accepted = grafana(payload, {"Authorization": f"Bearer {TOKEN}"})

    assert refused["statusCode"] == 401
    assert accepted["statusCode"] == 200 and outcomes(accepted) == {"shop": "handed_off"}


# --- Slack slash command ------------------------------------------------------------------


RESPONSE_URL = "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"


def slack(text: str, *, secret: str = SLACK_SECRET, stamp: int | None = None, user: str = "U2CERLKJA",
          content_type: str = "application/x-www-form-urlencoded", tamper: bool = False,
          response_url: str = RESPONSE_URL) -> dict[str, Any]:
    form = urlencode({"team_id": "T1DC2JH3J", "team_domain": "testteamnow", "channel_id": "G8PSS9T3V",
                      "channel_name": "ops", "user_id": user, "user_name": "roadrunner",
                      "command": "/sdb-backup", "text": text,
                      "response_url": response_url,
                      "trigger_id": "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
                      "api_app_id": "A123456"})
    stamp = int(time.time()) if stamp is None else stamp
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:{form}".encode(), hashlib.sha256).hexdigest()
    if tamper:
        form = form.replace("text=", "text=copy+analytics+")
    return post("/slack/command", form, {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(stamp),
                                         "X-Slack-Signature": signature})


@pytest.fixture
def slack_world(world):
    world.env.setenv("SLACK_SIGNING_SECRET", SLACK_SECRET)
    return world


def test_slack_copy_starts_copies_and_tells_the_channel(slack_world):
    response = slack("copy shop analytics")

    assert response["statusCode"] == 200, response["body"]
    reply = body(response)
    assert reply["response_type"] == "in_channel"
    assert "2 copy started" in reply["text"]
    assert "*shop*: copy started" in reply["text"] and "*analytics*: copy started" in reply["text"]
    assert reply["text"].endswith("Each copy will report here when it is done.")
    assert [(j.database_name, j.requested_by, j.reply_to) for j in slack_world.jobs()] == [
        ("analytics", "slack:U2CERLKJA", RESPONSE_URL), ("shop", "slack:U2CERLKJA", RESPONSE_URL)]


def test_slack_response_url_off_the_allow_list_is_not_passed_on(slack_world):
    reply = body(slack("copy shop", response_url="https://attacker.example/hook"))

    assert "*shop*: copy started" in reply["text"] and "report here" not in reply["text"]
    assert [(j.database_name, j.reply_to) for j in slack_world.jobs()] == [("shop", None)]


def test_slack_plan_all_answers_the_caller_alone_and_exports_nothing(slack_world):
    slack_world.store_verified_copy("blog")

    reply = body(slack("plan all"))

    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Plan run")
    assert "*shop*: would be copied" in reply["text"] and "*blog*: already copied" in reply["text"]
    assert exports(slack_world) == 0 and slack_world.jobs() == []


@pytest.mark.parametrize("text, says", [
    ("", "Usage:"),
    ("help", "Usage:"),
    ("frobnicate shop", "Unknown command `frobnicate`."),
    ("copy", "Say which databases to copy, or `all`."),
    ("copy all shop", "`all` already means every database"),
])
def test_slack_help_and_typos_get_an_ephemeral_answer_and_do_nothing(slack_world, text, says):
    response = slack(text)

    assert response["statusCode"] == 200
    reply = body(response)
    assert reply["response_type"] == "ephemeral" and says in reply["text"] and "/sdb-backup copy" in reply["text"]
    assert exports(slack_world) == 0 and sum(slack_world.api_requests().values()) == 0


def test_slack_unknown_database_is_said(slack_world):
    reply = body(slack("copy nope"))

    assert reply["response_type"] == "ephemeral" and "*nope*: not found" in reply["text"]
    assert exports(slack_world) == 0


def test_slack_users_outside_the_allow_list_are_refused(slack_world):
    slack_world.env.setenv("SLACK_ALLOWED_USER_IDS", "U0ADMIN01,U0ADMIN02")

    refused = body(slack("copy shop"))
    allowed = body(slack("copy shop", user="U0ADMIN02"))

    assert refused == {"response_type": "ephemeral", "text": "You are not allowed to run this command."}
    assert "*shop*: copy started" in allowed["text"]
    assert [j.requested_by for j in slack_world.jobs()] == ["slack:U0ADMIN02"]


@pytest.mark.parametrize("kwargs, status, says", [
    ({"secret": "another-secret"}, 401, "signature does not match"),
    ({"stamp": int(time.time()) - 301}, 401, "300 s away"),
    ({"tamper": True}, 401, "signature does not match"),
    ({"content_type": "application/json"}, 415, "x-www-form-urlencoded"),
    ({"user": "not a slack id"}, 400, "user_id"),
])
def test_slack_requests_it_did_not_sign_or_got_wrong_are_refused(slack_world, kwargs, status, says):
    response = slack("copy shop", **kwargs)

    assert response["statusCode"] == status
    assert says in body(response)["error"]["message"]
    assert exports(slack_world) == 0 and slack_world.jobs() == []


def test_slack_without_a_signing_secret_is_disabled(world):
    response = slack("copy shop")

    assert response["statusCode"] == 401 and "SLACK_SIGNING_SECRET" in body(response)["error"]["message"]
    assert exports(world) == 0


# --- A public deployment ------------------------------------------------------------------


def test_public_deployment_refuses_the_unauthenticated_schedule(world):
    world.env.setenv("CRON_WITHOUT_TOKEN", "false")

    cron = handle(event("cron"), None)
    assert cron["statusCode"] == 401 and exports(world) == 0

    with_token = handle(event("http_selected"), None)
    assert with_token["statusCode"] == 200 and exports(world) == 2


def test_routes_answer_405_to_other_methods(world):
    for path in ("/alerts/alertmanager", "/alerts/grafana", "/slack/command"):
        response = handle({"path": path, "httpMethod": "GET", "headers": {}, "body": ""}, None)
        assert response["statusCode"] == 405 and body(response)["error"]["code"] == "method_not_allowed"


def test_slack_says_when_nothing_could_be_done(slack_world):
    slack_world.sandbox.faults.set_error_rate("list_databases", 1.0, status=503)

    response = slack("copy all")

    assert response["statusCode"] == 200
    reply = body(response)
    assert reply["response_type"] == "ephemeral" and reply["text"].startswith("Nothing was done:")
    assert "(scaleway_" in reply["text"] and exports(slack_world) == 0


def test_slack_echoes_only_a_plausible_command_name(slack_world):
    form = urlencode({"user_id": "U2CERLKJA", "command": "<!channel> hi", "text": "help"})
    stamp = int(time.time())
    signature = "v0=" + hmac.new(SLACK_SECRET.encode(), f"v0:{stamp}:{form}".encode(), hashlib.sha256).hexdigest()

    reply = body(post("/slack/command", form, {"Content-Type": "application/x-www-form-urlencoded",
                                               "X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": signature}))

    assert "<!channel>" not in reply["text"] and "`/sdb-backup copy" in reply["text"]


def test_a_large_alert_group_is_taken_and_an_oversized_one_refused(world):
    # 300 firing alerts with annotations: ~200 KiB, more than POST / takes, well within a notice's limit
    alerts = [{"labels": {"database_name": "shop", "instance": f"node-{i:04d}"}} for i in range(300)]
    payload = notice("alertmanager", *alerts)
    for alert in payload["alerts"]:
        alert["annotations"]["description"] = "d" * 500
    assert 64 * 1024 < len(json.dumps(payload)) < 1024 * 1024

    taken = alertmanager(payload)
    assert taken["statusCode"] == 200 and outcomes(taken) == {"shop": "handed_off"}
    assert body(taken)["alerts"]["firing"] == 300

    payload["alerts"][0]["annotations"]["description"] = "d" * (1024 * 1024)
    refused = alertmanager(payload)
    assert refused["statusCode"] == 413 and body(refused)["error"]["code"] == "payload_too_large"
    assert exports(world) == 1


def test_an_oversized_slash_command_is_413(slack_world):
    response = slack("copy " + " ".join(["db"] * 6000))

    assert response["statusCode"] == 413 and exports(slack_world) == 0


@pytest.mark.parametrize("password, status", [(TOKEN, 200), ("wrong", 401), ("", 401)])
def test_alertmanager_basic_auth_takes_a_token_as_password(world, password, status):
    import base64

    credentials = base64.b64encode(f"alertmanager:{password}".encode()).decode()
    response = post("/alerts/alertmanager", json.dumps(notice("alertmanager", {"labels": {"database_name": "shop"}})),
                    {"Content-Type": "application/json", "Authorization": f"Basic {credentials}"})

    assert response["statusCode"] == status
    assert exports(world) == (1 if status == 200 else 0)


def test_basic_auth_is_not_taken_on_post_root(world):
    import base64

    credentials = base64.b64encode(f"x:{TOKEN}".encode()).decode()
    response = post("/", json.dumps({"database_names": ["shop"]}),
                    {"Content-Type": "application/json", "Authorization": f"Basic {credentials}"})

    assert response["statusCode"] == 401 and exports(world) == 0
