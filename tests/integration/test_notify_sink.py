"""Notices sent over a real socket to the webhook sink: what arrived, retries, and what was logged."""

from __future__ import annotations

import json
import logging
import socket
from datetime import datetime, timezone
from typing import Iterator

import httpx
import pytest
from standardwebhooks import Webhook

from shared.notify.delivery import DeliveryResult, Notifier
from shared.notify.events import copied_event, failed_event
from shared.targets import NotifyTarget
from shared.observability import JsonFormatter
from sandbox.sink import WebhookSink
from shared.settings import Settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN_PATH = "/services/T000/B000/XOXTOKEN"  # Slack-style: the path is the credential

COPIED = copied_event(
    database_name="orders", database_id="d-1", backup_id="b-1",
    backup_created_at=datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc), size=10_485_760,
    duration_seconds=2.0, bucket="offsite", key="orders/b-1.dump", endpoint_url="https://s3.fr-par.scw.cloud",
    sha256="cd" * 32, run_id="run-1",
)
FAILED = failed_event(
    database_name="orders", database_id="d-1", backup_id="b-1", error_code="integrity_check_failed",
    error_message="size 10 != 11", tried="exported once, 2 part retries", run_id="run-1",
)


class Sleeps(list):
    """Records each backoff instead of sleeping, so tests stay fast and can check retry-after."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, follow_redirects=False) as client:
        yield client


def target(sink: WebhookSink, fmt: str = "generic", path: str = "/hook", **extra) -> NotifyTarget:
    return NotifyTarget.model_validate({"url": sink.url + path, "format": fmt, **extra})


def notifier(http: httpx.Client, targets: list[NotifyTarget], sleeps: Sleeps | None = None, **kw) -> Notifier:
    return Notifier(http, targets, sleep=sleeps if sleeps is not None else Sleeps(), **kw)


def test_generic_notice_arrives_signed(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    (result,) = notifier(http, [target(webhook_sink, secret=SECRET)]).send(COPIED)
    assert result == DeliveryResult(target=webhook_sink.url, format="generic", delivered=True, status=200, attempts=1)
    (arrived,) = webhook_sink.wait_for(1)
    payload = Webhook(SECRET).verify(arrived.body, arrived.headers)  # the bytes that went over the wire
    assert arrived.headers["webhook-id"] == COPIED.id
    assert arrived.headers["content-type"] == "application/json"
    assert payload["data"]["size_bytes"] == 10_485_760 and payload["data"]["throughput_mb_s"] == 5.24


@pytest.mark.parametrize(("fmt", "check"), [
    ("slack", lambda body: body["blocks"][0]["text"]["text"] == "Backup copy failed: orders"),
    ("discord", lambda body: body["embeds"][0]["fields"][2] == {"name": "Error", "value": "integrity_check_failed",
                                                                "inline": True}),
    ("teams", lambda body: body["attachments"][0]["content"]["body"][0]["text"] == "Backup copy failed: orders"),
])
def test_chat_notices_arrive(webhook_sink: WebhookSink, http: httpx.Client, fmt: str, check) -> None:
    (result,) = notifier(http, [target(webhook_sink, fmt, path=f"/{fmt}")]).send(FAILED)
    assert result.delivered and result.attempts == 1
    (arrived,) = webhook_sink.wait_for(1)
    assert arrived.path == f"/{fmt}" and check(arrived.json())


def test_429_with_retry_after_is_retried_with_the_same_id_and_body(webhook_sink: WebhookSink, http) -> None:
    webhook_sink.respond_with(429, "slow down", headers={"retry-after": "0"}, times=1)
    sleeps = Sleeps()
    (result,) = notifier(http, [target(webhook_sink, secret=SECRET)], sleeps).send(COPIED)
    assert (result.delivered, result.status, result.attempts) == (True, 200, 2)
    first, second = webhook_sink.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == COPIED.id
    assert first.body == second.body
    Webhook(SECRET).verify(second.body, second.headers)
    assert sleeps == [0.0]


def test_discord_json_retry_after_is_honoured(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    webhook_sink.respond_with(429, json.dumps({"retry_after": 0.25, "global": False}),
                              headers={"content-type": "application/json"}, times=1)
    sleeps = Sleeps()
    (result,) = notifier(http, [target(webhook_sink, "discord")], sleeps).send(COPIED)
    assert result.delivered and result.attempts == 2 and sleeps == [0.25]


def test_retry_after_as_http_date(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    webhook_sink.respond_with(503, headers={"retry-after": "Tue, 14 Nov 2023 22:13:40 GMT"}, times=1)
    sleeps = Sleeps()
    (result,) = notifier(http, [target(webhook_sink, "slack")], sleeps, clock=lambda: 1_700_000_000.0).send(COPIED)
    assert result.delivered and sleeps == [20.0]


def test_persistent_500_gives_up_without_raising(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    webhook_sink.respond_with(500, "down")
    sleeps = Sleeps()
    (result,) = notifier(http, [target(webhook_sink, "teams")], sleeps, max_attempts=3).send(FAILED)
    assert (result.delivered, result.status, result.attempts, result.error) == (False, 500, 3, "server_error")
    assert len(webhook_sink.wait_for(3)) == 3 and len(sleeps) == 2 and all(s > 0 for s in sleeps)


def test_400_is_not_retried(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    webhook_sink.respond_with(400, "invalid_payload")
    sleeps = Sleeps()
    (result,) = notifier(http, [target(webhook_sink, "slack")], sleeps).send(COPIED)
    assert (result.delivered, result.status, result.attempts, result.error) == (False, 400, 1, "rejected")
    assert len(webhook_sink.requests) == 1 and sleeps == []


def test_410_is_reported_as_gone(webhook_sink: WebhookSink, http: httpx.Client, caplog) -> None:
    webhook_sink.respond_with(410, "channel_is_archived")
    with caplog.at_level(logging.INFO, logger="shared.notify.delivery"):
        (result,) = notifier(http, [target(webhook_sink, "slack")]).send(COPIED)
    assert (result.delivered, result.status, result.attempts, result.error) == (False, 410, 1, "endpoint_gone")
    (record,) = [r for r in caplog.records if r.name == "shared.notify.delivery"]
    assert "gone" in record.getMessage() and record.fields["detail"] == "channel_is_archived"


def test_a_long_retry_after_is_not_waited_for(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    webhook_sink.respond_with(429, headers={"retry-after": "3600"})
    sleeps = Sleeps()
    (result,) = notifier(http, [target(webhook_sink, "slack")], sleeps).send(COPIED)
    assert (result.delivered, result.attempts, result.error) == (False, 1, "rate_limited") and sleeps == []


def test_redirects_are_not_followed(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    webhook_sink.respond_with(302, headers={"location": "http://127.0.0.1:9/elsewhere"})
    (result,) = notifier(http, [target(webhook_sink, "slack")]).send(COPIED)
    assert (result.delivered, result.status, result.error) == (False, 302, "redirected")
    assert len(webhook_sink.requests) == 1


def test_connection_errors_are_retried_then_reported(http: httpx.Client) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = NotifyTarget(url=f"http://127.0.0.1:{port}/hook", format="slack")
    sleeps = Sleeps()
    (result,) = notifier(http, [dead], sleeps, max_attempts=2).send(COPIED)
    assert (result.delivered, result.status, result.attempts, result.error) == (False, None, 2, "connection_error")


def test_failures_only_targets_skip_success_notices(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    only_failures = target(webhook_sink, "slack", path="/failures", events=["backup.copy_failed"])
    everything = target(webhook_sink, "discord", path="/all")
    sender = notifier(http, [only_failures, everything])
    assert [r.format for r in sender.send(COPIED)] == ["discord"]
    assert [r.format for r in sender.send(FAILED)] == ["slack", "discord"]
    assert [r.path for r in webhook_sink.wait_for(3)] == ["/all", "/failures", "/all"]


def test_one_failing_target_does_not_stop_the_others(webhook_sink: WebhookSink, http: httpx.Client) -> None:
    webhook_sink.respond_with(404, "no_service", path="/broken")
    targets = [target(webhook_sink, "slack", path="/broken"), target(webhook_sink, "teams")]
    results = notifier(http, targets).send(FAILED)
    assert [(r.delivered, r.error) for r in results] == [(False, "rejected"), (True, None)]


def test_an_unexpected_error_is_reported_not_raised(webhook_sink: WebhookSink, http: httpx.Client, caplog) -> None:
    broken = NotifyTarget.model_construct(url=webhook_sink.url, format="pager", secret=None, events=["backup.copied"])
    with caplog.at_level(logging.INFO, logger="shared.notify.delivery"):
        results = notifier(http, [broken, target(webhook_sink, "slack")]).send(COPIED)
    assert [(r.delivered, r.error) for r in results] == [(False, "internal_error"), (True, None)]
    assert any(getattr(r, "fields", {}).get("exc_type") == "KeyError" for r in caplog.records)


def test_logs_never_carry_the_secret_or_the_url_path(webhook_sink: WebhookSink, http: httpx.Client, caplog) -> None:
    webhook_sink.respond_with(500, times=1)
    targets = [target(webhook_sink, "slack", path=TOKEN_PATH),
               target(webhook_sink, path=TOKEN_PATH + "?token=QUERYSECRET", secret=SECRET)]
    caplog.set_level(logging.WARNING, logger="httpx")  # as configure_logging does: httpx logs full URLs
    with caplog.at_level(logging.DEBUG):
        results = notifier(http, targets).send(COPIED)
    assert all(r.delivered for r in results) and all(TOKEN_PATH not in repr(r) for r in results)
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert len([line for line in lines if "notification" in line]) == 2
    for text in lines + [caplog.text]:
        for secret in ("XOXTOKEN", "T000", "QUERYSECRET", SECRET, "MfKQ9r8"):
            assert secret not in text
    assert f'"target": "{webhook_sink.url}"' in lines[-1]


def test_from_settings_builds_a_working_notifier(webhook_sink: WebhookSink) -> None:
    targets = [{"url": webhook_sink.url + "/from-settings", "format": "generic", "secret": SECRET}]
    settings = Settings(notify_targets=json.dumps(targets))
    with Notifier.from_settings(settings) as sender:
        assert sender.http.follow_redirects is False and "authorization" not in sender.http.headers
        (result,) = sender.send(FAILED)
    assert result.delivered
    (arrived,) = webhook_sink.wait_for(1)
    assert Webhook(SECRET).verify(arrived.body, arrived.headers)["type"] == "backup.copy_failed"
    assert arrived.headers["user-agent"] == "sdb-backup-export"
