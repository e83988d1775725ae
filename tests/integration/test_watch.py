"""Never silent, against real servers: the sandbox API, moto's S3 and the webhook sink.

Freshness read from the bucket, one ``backup.stale`` per staleness (the memory of it in the
bucket), one run summary per run in every format, and heartbeats for an outside monitor.
Dispatch hands its jobs to a runner that drops them, like a queue that loses jobs: nothing
else would say that the copies stopped.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from standardwebhooks import Webhook

from sandbox.api import SandboxServer
from sandbox.sink import WebhookSink
from shared.copying.run import run_job
from shared.dispatch.request import DispatchRequest
from shared.dispatch.run import read_freshness, run_dispatch
from shared.errors import BackupExportError
from shared.keys import object_key
from shared.models import CopyJob
from shared.observability import JsonFormatter
from shared.settings import DEFAULT_KEY_TEMPLATE, Settings
from tests.fixtures.copying import Bucket, fast_clients, job_for, make_settings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN = "hc-3f9a1c2e-token"  # a monitor's ping URL is a credential


def old_job(sandbox: SandboxServer, name: str) -> CopyJob:
    """The job for the database's oldest backup (three days before its latest)."""
    db = sandbox.state.database_named(name)
    oldest = min(sandbox.state.backups(db.id), key=lambda b: b.created_at)
    key = object_key(DEFAULT_KEY_TEMPLATE, "", database_name=name, database_id=db.id, backup_id=oldest.id,
                     created_at=oldest.created_at)
    return job_for(sandbox, name, backup_id=oldest.id, backup_created_at=oldest.created_at, size=oldest.size,
                   db_size=oldest.db_size, object_key=key)


def watched(sandbox: SandboxServer, bucket: Bucket, sink: WebhookSink, **overrides: Any) -> Settings:
    targets = [{"url": f"{sink.url}/hooks", "format": "generic", "secret": SECRET}]
    return make_settings(sandbox, bucket, notify_targets=json.dumps(targets), **overrides)


def run(settings: Settings, **request: Any) -> dict[str, Any]:
    """A dispatch run whose hand-off loses every job."""
    result = run_dispatch(DispatchRequest(**request), settings=settings, requested_by="cron",
                          inline_runner=lambda job: None)
    return result.to_dict()


def received(sink: WebhookSink) -> list[dict[str, Any]]:
    return [Webhook(SECRET).verify(r.body, r.headers) for r in sink.requests if r.method == "POST"]


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["database_name"]: d for d in report["databases"]}


def test_an_old_copy_gets_one_stale_notice_not_repeated_on_the_next_run(
        copy_sandbox: SandboxServer, bucket: Bucket, webhook_sink: WebhookSink):
    # GIVEN shop's newest verified copy is of its backup of three days ago
    settings = watched(copy_sandbox, bucket, webhook_sink)
    assert run_job(old_job(copy_sandbox, "shop"), settings, clients=fast_clients(settings)).outcome == "copied"
    webhook_sink.reset()

    # WHEN the nightly run hands off today's copy (which never arrives)
    first = run(settings)

    # THEN shop is stale in the answer and one backup.stale arrives; blog (never copied) is only watched
    shop, blog = by_name(first)["shop"], by_name(first)["blog"]
    assert (shop["status"], shop["freshness"]["stale"], first["stale"], first["announced"]) == (
        "handed_off", True, ["shop"], ["shop"])
    assert shop["freshness"]["age_hours"] > 72 and shop["freshness"]["last_copy"]["backup_id"] == str(
        old_job(copy_sandbox, "shop").backup_id)
    assert blog["freshness"]["stale"] is False and blog["freshness"]["last_copy"] is None
    notices = received(webhook_sink)
    assert [n["type"] for n in notices] == ["backup.stale", "backup.run_summary"]
    stale = notices[0]["data"]
    assert (stale["database_name"], stale["this_run"], stale["last_copy"]["backup_id"]) == (
        "shop", "handed_off", shop["freshness"]["last_copy"]["backup_id"])
    assert stale["latest_backup"]["backup_id"] == shop["backup_id"] and "dead-letter queue" in stale["advice"]
    assert notices[1]["data"]["counts"] == {"handed_off": 2, "stale": 1}

    # WHEN the next run finds the same stale copy
    webhook_sink.reset()
    second = run(settings)

    # THEN it is still stale in the answer, but only the run summary arrives
    assert second["stale"] == ["shop"] and second["announced"] == []
    assert [n["type"] for n in received(webhook_sink)] == ["backup.run_summary"]
    # the memory of the announcement is in the bucket, about that copy
    (entry,) = [k for k in bucket.ledger_keys() if "/stale/" in k]
    assert entry.endswith("_" + shop["freshness"]["last_copy"]["backup_id"])


def test_a_database_fresh_again_is_forgotten_and_a_dry_run_writes_and_sends_nothing(
        copy_sandbox: SandboxServer, bucket: Bucket, webhook_sink: WebhookSink):
    settings = watched(copy_sandbox, bucket, webhook_sink)
    run_job(old_job(copy_sandbox, "shop"), settings, clients=fast_clients(settings))
    run(settings)  # announces shop
    ledger_before = bucket.ledger_keys()
    webhook_sink.reset()

    dry = run(settings, dry_run=True)
    assert dry["stale"] == ["shop"] and webhook_sink.requests == [] and bucket.ledger_keys() == ledger_before
    (shop,) = read_freshness(settings, database_names=["shop"])  # the library call a CLI makes
    assert (shop.database_name, shop.stale, shop.last_copy.backup_id) == (
        "shop", True, by_name(dry)["shop"]["freshness"]["last_copy"]["backup_id"])
    assert webhook_sink.requests == [] and bucket.ledger_keys() == ledger_before

    # today's backup is copied: shop is fresh, its announcement forgotten, the old ledger entry replaced
    assert run_job(job_for(copy_sandbox, "shop"), settings, clients=fast_clients(settings)).outcome == "copied"
    webhook_sink.reset()
    after = run(settings)
    assert after["stale"] == [] and by_name(after)["shop"]["status"] == "already_copied"
    assert by_name(after)["shop"]["freshness"]["age_hours"] < 30
    assert [n["type"] for n in received(webhook_sink)] == ["backup.run_summary"]
    assert not [k for k in bucket.ledger_keys() if "/stale/" in k]
    shop_id = str(copy_sandbox.state.database_named("shop").id)
    assert [k for k in bucket.ledger_keys() if f"/verified/{shop_id}/" in k] == [
        next(k for k in bucket.ledger_keys() if k.endswith(by_name(after)["shop"]["backup_id"]))]


def test_the_run_summary_arrives_once_in_every_format_and_each_target_chooses_its_events(
        copy_sandbox: SandboxServer, bucket: Bucket, webhook_sink: WebhookSink):
    targets = [{"url": f"{webhook_sink.url}/generic", "format": "generic", "secret": SECRET},
               {"url": f"{webhook_sink.url}/slack", "format": "slack", "events": ["backup.run_summary"]},
               {"url": f"{webhook_sink.url}/discord", "format": "discord", "events": ["backup.run_summary"]},
               {"url": f"{webhook_sink.url}/teams", "format": "teams", "events": ["backup.run_summary"]},
               {"url": f"{webhook_sink.url}/copies-only", "format": "slack", "events": ["backup.copied"]}]
    settings = make_settings(copy_sandbox, bucket, notify_targets=json.dumps(targets))

    report = run(settings)

    by_path = {r.path: r for r in webhook_sink.requests}
    assert sorted(by_path) == ["/discord", "/generic", "/slack", "/teams"]  # one each; none for /copies-only
    assert all(n["delivered"] for n in report["notifications"])
    generic = Webhook(SECRET).verify(by_path["/generic"].body, by_path["/generic"].headers)
    assert generic["type"] == "backup.run_summary" and generic["data"]["run_id"] == report["run_id"]
    assert sorted(line["database_name"] for line in generic["data"]["databases"]) == ["blog", "shop"]
    slack = by_path["/slack"].json()
    assert slack["blocks"][0]["text"]["text"] == "Backup run: 2 database(s), all fine"
    assert by_path["/discord"].json()["embeds"][0]["title"] == "Backup run: 2 database(s), all fine"
    card = by_path["/teams"].json()["attachments"][0]["content"]
    assert card["body"][0]["text"] == "Backup run: 2 database(s), all fine"
    assert {"title": "handed off", "value": "2"} in card["body"][2]["facts"]


def test_heartbeats_start_success_fail_and_per_database_and_their_urls_are_never_logged(
        copy_sandbox: SandboxServer, bucket: Bucket, webhook_sink: WebhookSink, caplog):
    caplog.set_level(logging.WARNING, logger="httpx")  # as configure_logging does: httpx logs full URLs
    settings = make_settings(copy_sandbox, bucket, heartbeat_url=f"{webhook_sink.url}/ping/{TOKEN}",
                             heartbeat_url_template=f"{webhook_sink.url}/ping/{TOKEN}-{{database_name}}")
    with caplog.at_level(logging.DEBUG):
        # a clean full run: start, then success
        clean = run(settings)
        # a run for one database is not the nightly run: no ping
        run(settings, database_names=["shop"])
        # a run where a database fails: start, then fail
        copy_sandbox.faults.set_error_rate("export_backup", 1.0, status=412)  # not retried
        failing = run(settings)
        copy_sandbox.faults.set_error_rate("export_backup", 0.0)
        # a run that can do nothing at all (the API refuses the key): start, then fail, and the error
        copy_sandbox.faults.set_error_rate("list_databases", 1.0, status=403)
        with pytest.raises(BackupExportError):
            run(settings)
        copy_sandbox.faults.set_error_rate("list_databases", 0.0)
        # each verified copy pings its database's heartbeat
        copied = run_job(job_for(copy_sandbox, "blog"), settings, clients=fast_clients(settings))

    assert [r.path for r in webhook_sink.requests] == [
        f"/ping/{TOKEN}/start", f"/ping/{TOKEN}", f"/ping/{TOKEN}/start", f"/ping/{TOKEN}/fail",
        f"/ping/{TOKEN}/start", f"/ping/{TOKEN}/fail", f"/ping/{TOKEN}-blog"]
    assert {r.method for r in webhook_sink.requests} == {"GET"}
    assert [h["kind"] for h in clean["heartbeats"]] == ["start", "success"]
    assert [h["kind"] for h in failing["heartbeats"]] == ["start", "fail"] and failing["summary"] == {"failed": 2}
    assert copied.outcome == "copied" and copied.heartbeat == {"kind": "success", "host": webhook_sink.url,
                                                              "ok": True, "status": 200, "error": None}
    text = "\n".join([JsonFormatter().format(r) for r in caplog.records] + [caplog.text, json.dumps(clean),
                                                                            json.dumps(failing)])
    assert "heartbeat sent" in text and TOKEN not in text


@pytest.mark.parametrize("answer", [dict(status=500), dict(status=200, delay_seconds=6)], ids=["error", "hangs"])
def test_a_monitor_that_fails_or_hangs_never_fails_a_copy(copy_sandbox: SandboxServer, bucket: Bucket,
                                                         webhook_sink: WebhookSink, answer):
    webhook_sink.respond_with(**answer)
    settings = make_settings(copy_sandbox, bucket, heartbeat_url_template=f"{webhook_sink.url}/{{database_id}}")
    job = job_for(copy_sandbox, "blog")

    result = run_job(job, settings, clients=fast_clients(settings))

    assert result.outcome == "copied" and bucket.sha256(job.object_key) == result.sha256
    assert result.heartbeat["ok"] is False
    assert result.heartbeat["error"] == ("server_error" if answer["status"] == 500 else "timeout")
    assert webhook_sink.requests[0].path == f"/{job.database_id}"
