"""The dispatch function end to end: Scaleway-shaped events -> sandbox API, moto S3 and SQS.

Each test starts its own sandbox (real socket on 127.0.0.1) and gets a clean moto; the
handler reads its settings from the environment, as it does when deployed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from handlers.dispatch import handle
from shared.keys import copy_metadata, object_key
from shared.models import CopyJob
from shared.settings import DEFAULT_KEY_TEMPLATE
from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET
from tests.integration.test_dispatch_handoff import QUEUE_REGION, drain, sqs_client

EVENTS = Path(__file__).resolve().parents[1] / "events" / "dispatch"
TOKEN = "test-token-0123456789"
BUCKET = "backups"


def event(name: str, **changes: Any) -> dict[str, Any]:
    data = json.loads((EVENTS / f"{name}.json").read_text())
    data.update(changes)
    return data


def body(response: dict[str, Any]) -> dict[str, Any]:
    return json.loads(response["body"])


@dataclass
class World:
    sandbox: Any
    s3: Any
    sqs: Any
    queue_url: str
    env: Any

    def latest_ready(self, name: str):
        db = self.sandbox.state.database_named(name)
        return self.sandbox.state.latest_backup(db.id)

    def key(self, name: str) -> str:
        db, backup = self.sandbox.state.database_named(name), self.latest_ready(name)
        return object_key(DEFAULT_KEY_TEMPLATE, "", database_name=name, database_id=db.id,
                          backup_id=backup.id, created_at=backup.created_at)

    def store_verified_copy(self, name: str) -> None:
        db, backup = self.sandbox.state.database_named(name), self.latest_ready(name)
        meta = copy_metadata(backup_id=backup.id, database_id=db.id, database_name=name,
                             created_at=backup.created_at, size=backup.size, db_size=backup.db_size,
                             sha256="0" * 64)
        self.s3.put_object(Bucket=BUCKET, Key=self.key(name), Body=b"copied", Metadata=meta)

    def jobs(self) -> list[CopyJob]:
        return sorted(drain(self.sqs, self.queue_url), key=lambda j: j.database_name)

    def api_requests(self) -> dict[str, int]:
        return self.sandbox.stats.snapshot()["requests"]


def age_hours(backup) -> float:
    return (datetime.now(timezone.utc) - backup.created_at).total_seconds() / 3600


@pytest.fixture
def world(monkeypatch, moto_reset, sandbox_factory, tmp_path) -> World:
    import boto3

    sandbox = sandbox_factory(export_delay_seconds=0.0)
    s3 = boto3.client("s3", endpoint_url=moto_reset, region_name="us-east-1",
                      aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_SECRET)
    s3.create_bucket(Bucket=BUCKET)
    sqs = sqs_client(moto_reset)
    queue_url = sqs.create_queue(QueueName="copy-jobs")["QueueUrl"]
    w = World(sandbox, s3, sqs, queue_url, monkeypatch)
    # An age limit between the fresh backups (shop, blog, analytics) and the day-old ready
    # backups of billing (latest is error) and crm (latest is locked).
    fresh = max(age_hours(w.latest_ready(n)) for n in ("shop", "blog", "analytics"))
    stale = min(age_hours(w.latest_ready(n)) for n in ("billing", "crm"))
    assert fresh + 20 < stale
    env = {
        "SCW_CONFIG_PATH": str(tmp_path / "absent.yaml"),
        "SCW_API_URL": sandbox.base_url, "SCW_SECRET_KEY": sandbox.token,
        "SCW_DEFAULT_PROJECT_ID": sandbox.project_id, "SCW_DEFAULT_ORGANIZATION_ID": sandbox.organization_id,
        "SCW_DEFAULT_REGION": sandbox.region,
        "BACKUP_BUCKET": BUCKET, "S3_ENDPOINT_URL": moto_reset, "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY": FAKE_KEY, "S3_SECRET_KEY": FAKE_SECRET,
        "HANDOFF_MODE": "queue", "QUEUE_URL": queue_url, "QUEUE_ENDPOINT_URL": moto_reset,
        "QUEUE_REGION": QUEUE_REGION, "QUEUE_ACCESS_KEY": FAKE_KEY, "QUEUE_SECRET_KEY": FAKE_SECRET,
        "HTTP_AUTH_TOKENS": f"other-token-0123456789,{TOKEN}", "MAX_AGE_HOURS": f"{(fresh + stale) / 2:.3f}",
        "JOB_DEADLINE_HOURS": "20",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return w


def outcomes(response: dict[str, Any]) -> dict[str, str]:
    return {d["database_name"] or d["database_id"]: d["status"] for d in body(response)["databases"]}


def test_every_planning_outcome_and_exactly_the_expected_jobs_in_the_queue(world):
    # GIVEN blog already holds a verified copy of its latest backup
    world.store_verified_copy("blog")

    # WHEN the HTTP trigger asks for every database
    started = datetime.now(timezone.utc)
    response = handle(event("http_all"), None)

    # THEN each database got its outcome and only shop and analytics were exported and queued
    assert response["statusCode"] == 200, response["body"]
    assert outcomes(response) == {"shop": "handed_off", "blog": "already_copied", "analytics": "handed_off",
                                  "billing": "too_old", "crm": "too_old", "staging": "no_ready_backup"}
    report = body(response)
    assert report["summary"] == {"handed_off": 2, "already_copied": 1, "too_old": 2, "no_ready_backup": 1}
    assert report["dry_run"] is False and report["requested_by"] == "http"
    assert world.sandbox.stats.snapshot()["exports"] == 2
    jobs = world.jobs()
    assert [(j.database_name, str(j.backup_id), j.object_key) for j in jobs] == [
        (n, world.latest_ready(n).id, world.key(n)) for n in ("analytics", "shop")]
    shop = jobs[1]
    assert str(shop.project_id) == world.sandbox.project_id and shop.region == world.sandbox.region
    assert shop.size == world.latest_ready("shop").size and shop.attempt == 1 and shop.run_id == report["run_id"]
    assert shop.requested_by == "http" and shop.force is False and shop.continuation is None
    assert timedelta(hours=19.9) < shop.deadline - started < timedelta(hours=20.1)
    entry = next(d for d in report["databases"] if d["database_name"] == "shop")
    assert entry["object_key"] == world.key("shop") and entry["backup_id"] == str(shop.backup_id)


def test_cron_event_runs_the_scheduled_dispatch(world):
    response = handle(event("cron"), None)
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["requested_by"] == "cron"
    jobs = world.jobs()
    assert [j.database_name for j in jobs] == ["analytics", "blog", "shop"]
    assert {j.requested_by for j in jobs} == {"cron"}


def test_named_databases_and_unknown_ones(world):
    response = handle(event("http_selected"), None)
    assert response["statusCode"] == 200, response["body"]
    assert outcomes(response) == {"shop": "handed_off", "blog": "handed_off", "no-such-db": "not_found",
                                  "00000000-0000-4000-8000-000000000000": "not_found"}
    assert [j.database_name for j in world.jobs()] == ["blog", "shop"]
    # one listing per named database, not the whole project: its page, and the empty page after it
    # (a first page shorter than asked may be a capped one, and total_count may be the page's length)
    assert world.api_requests()["list_backups"] == 4


def test_force_copies_again_and_says_so_in_the_job(world):
    world.store_verified_copy("shop")
    response = handle(event("http_force"), None)
    assert outcomes(response) == {"shop": "handed_off"}
    [job] = world.jobs()
    assert job.force is True and job.object_key == world.key("shop")


def test_a_copy_under_way_is_not_started_again_unless_forced(world):
    # GIVEN a copy job is streaming shop's backup: its multipart upload is open at the key
    upload = world.s3.create_multipart_upload(Bucket=BUCKET, Key=world.key("shop"))
    world.s3.upload_part(Bucket=BUCKET, Key=world.key("shop"), UploadId=upload["UploadId"], PartNumber=1,
                         Body=b"x" * 1024)

    # WHEN another run asks for shop and blog
    response = handle(event("http_selected"), None)

    # THEN shop is left to the copy under way: not exported, not queued; blog goes ahead
    assert outcomes(response)["shop"] == "copy_in_progress"
    entry = next(d for d in body(response)["databases"] if d["database_name"] == "shop")
    assert "is under way (its upload was written 0 min ago)" in entry["reason"]
    assert entry["object_key"] == world.key("shop")
    assert [j.database_name for j in world.jobs()] == ["blog"]
    assert world.sandbox.stats.snapshot()["exports"] == 1
    # and the open upload is untouched: the job streaming into it can finish
    assert [u["UploadId"] for u in world.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])] == [
        upload["UploadId"]]

    # force copies anyway
    forced = handle(event("http_force"), None)
    assert outcomes(forced) == {"shop": "handed_off"}


@pytest.mark.parametrize("name", ["http_dry_run", "http_base64"])
def test_dry_run_reads_but_exports_and_sends_nothing(world, name):
    world.store_verified_copy("blog")
    response = handle(event(name), None)
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["dry_run"] is True
    assert body(response)["summary"] == {"would_copy": 2, "already_copied": 1, "too_old": 2, "no_ready_backup": 1}
    assert world.api_requests()["export_backup"] == 0 and world.jobs() == []


@pytest.mark.parametrize("name", ["no_token", "wrong_token", "wrong_scheme"])
def test_auth_failures_are_401_and_touch_nothing(world, name):
    response = handle(event(name), None)
    assert response["statusCode"] == 401
    assert body(response)["error"]["code"] == "unauthorized"
    assert response["headers"]["WWW-Authenticate"] == "Bearer"
    assert TOKEN not in response["body"]
    assert sum(world.api_requests().values()) == 0 and world.jobs() == []


MALFORMED = [
    ("malformed_json", 400, "invalid_json"),
    ("not_an_object", 400, "invalid_json"),
    ("unknown_field", 422, "invalid_request"),
    ("bad_uuid", 422, "invalid_request"),
    ("wrong_type", 422, "invalid_request"),
    ("wrong_content_type", 415, "unsupported_media_type"),
    ("bad_base64", 400, "bad_request"),
    ("wrong_method", 405, "method_not_allowed"),
    ("unknown_path", 404, "not_found"),
]


@pytest.mark.parametrize("name,status,code", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_requests_get_their_precise_4xx_and_nothing_is_done(world, name, status, code):
    response = handle(event(name), None)
    assert response["statusCode"] == status, response["body"]
    assert body(response)["error"]["code"] == code
    assert sum(world.api_requests().values()) == 0 and world.jobs() == []


def test_invalid_fields_are_named_without_echoing_values(world):
    response = handle(event("wrong_type"), None)
    error = body(response)["error"]
    assert error["details"] == {"fields": ["dry_run", "max_age_hours"]}
    assert "yes please" not in response["body"]


def test_body_over_64_kib_is_413(world):
    big = json.dumps({"database_names": ["x" * 200] * 400})
    response = handle(event("http_all", body=big), None)
    assert response["statusCode"] == 413 and body(response)["error"]["code"] == "payload_too_large"
    assert sum(world.api_requests().values()) == 0


def test_health_needs_no_auth_and_reveals_nothing(world, monkeypatch):
    monkeypatch.setenv("HANDOFF_MODE", "not-a-mode")  # even broken settings keep health answering
    response = handle(event("health"), None)
    assert response["statusCode"] == 200 and body(response) == {"status": "ok"}
    assert sum(world.api_requests().values()) == 0


def test_one_failing_export_is_reported_and_the_others_are_handed_off(world):
    # GIVEN the API refuses about half of the export calls (412, not retried)
    world.sandbox.faults.set_error_rate("export_backup", 0.5, status=412)
    for name in ("billing", "crm"):  # make every database a copy candidate
        world.sandbox.state.add_backup(world.sandbox.state.database_named(name).id)

    response = handle(event("http_all"), None)

    report = body(response)
    failed = [d for d in report["databases"] if d["status"] == "failed"]
    handed = [d for d in report["databases"] if d["status"] == "handed_off"]
    assert response["statusCode"] == 207, response["body"]
    assert failed and handed and len(failed) + len(handed) == 5
    assert all(d["error"]["code"].startswith("scaleway") for d in failed)
    assert sorted(str(j.backup_id) for j in world.jobs()) == sorted(d["backup_id"] for d in handed)


def test_listing_failure_is_a_502_and_nothing_is_exported(world):
    world.sandbox.faults.set_error_rate("list_databases", 1.0, status=403)
    response = handle(event("http_all"), None)
    assert response["statusCode"] == 502, response["body"]
    assert body(response)["error"]["code"].startswith("scaleway")
    assert world.api_requests()["export_backup"] == 0 and world.jobs() == []


@pytest.mark.parametrize(("setting", "value"), [
    ("API_RATE_LIMIT", "500"),
    ("BACKUP_KEY_TEMPLATE", "{database_name}/{created_at:%Y}.dump"),
    ("NOTIFY_TARGETS", '[{"url": "https://hooks.example/TOKEN-IN-PATH", "format": "pager"}]'),
])
def test_a_bad_setting_is_one_configuration_error_before_any_api_call(world, setting, value):
    # GIVEN a deployment with one setting wrong
    world.env.setenv(setting, value)

    # WHEN the cron fires
    response = handle(event("cron"), None)

    # THEN one named configuration error, not one failure per database, and the API is never called
    assert response["statusCode"] == 500
    error = body(response)["error"]
    assert error["code"] == "configuration_error" and setting in error["message"]
    assert value not in response["body"] and "TOKEN-IN-PATH" not in response["body"]
    assert sum(world.sandbox.stats.snapshot()["requests"].values()) == 0


@pytest.mark.parametrize("request_body", [
    {"region": "nl-ams"},  # every database: one listing
    {"region": "nl-ams", "database_ids": ["00000000-0000-4000-8000-000000000000"]},  # a few ids: one get each
    {"region": "nl-ams", "dry_run": True},
], ids=["all", "by_id", "dry_run"])
def test_a_region_the_product_is_not_in_is_the_callers_mistake(world, request_body):
    # The API answers 400 invalid_arguments on region: a 422 to the caller, not an outage (502)
    response = handle(event("http_all", body=json.dumps(request_body)), None)
    assert response["statusCode"] == 422, response["body"]
    assert body(response)["error"]["code"] == "unknown_region"
    assert world.api_requests()["export_backup"] == 0 and world.jobs() == []


def test_an_unknown_region_in_the_settings_is_a_configuration_error_naming_it(world, monkeypatch):
    monkeypatch.setenv("SCALEWAY_REGION", "nl-ams")  # the caller asked for nothing: our setting is wrong
    response = handle(event("http_all"), None)
    assert response["statusCode"] == 500, response["body"]
    error = body(response)["error"]
    assert error["code"] == "configuration_error" and "SCALEWAY_REGION" in error["message"]
    assert world.api_requests()["export_backup"] == 0 and world.jobs() == []
