"""Dispatch with each hand-off mode, against the sandbox API and moto, plus API outages."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from handlers.dispatch import handle
from shared.dispatch.run import dispatch, run_dispatch
from shared.errors import ScalewayUnavailable
from shared.handoff import InlineHandoff
from shared.keys import is_verified_copy
from shared.models import CopyJob
from shared.dispatch.request import DispatchRequest
from shared.scaleway.client import ScalewayClient
from shared.settings import load_settings
from shared.storage import ObjectStore
from shared.web import error_response
from tests.integration.test_dispatch_handler import BUCKET, body, event, world  # noqa: F401 (fixture)
from tests.integration.test_dispatch_handoff import Recorder, copy_server  # noqa: F401 (fixture)


def test_inline_mode_hands_each_job_to_the_copy_runner(world):
    # GIVEN inline hand-off and a runner that records what it receives
    world.env.setenv("HANDOFF_MODE", "inline")
    received: list[CopyJob] = []

    # WHEN dispatching every database
    report = run_dispatch(DispatchRequest(), settings=load_settings(), requested_by="http",
                          inline_runner=received.append)

    # THEN the runner got exactly the copy candidates, and nothing went to the queue
    assert report.status == 200 and report.summary["handed_off"] == 3
    assert sorted((j.database_name, str(j.backup_id)) for j in received) == sorted(
        (n, world.latest_ready(n).id) for n in ("shop", "blog", "analytics"))
    assert world.jobs() == []


def test_inline_mode_with_the_real_copy_puts_verified_copies_in_the_bucket(world):
    world.env.setenv("HANDOFF_MODE", "inline")
    world.env.setenv("DOWNLOAD_HOST_ALLOWLIST", "127.0.0.1")
    response = handle(event("http_all", body='{"database_names": ["shop", "blog"]}'), None)

    assert response["statusCode"] == 200, response["body"]
    assert body(response)["summary"] == {"handed_off": 2}
    for name in ("shop", "blog"):
        backup = world.latest_ready(name)
        head = world.s3.head_object(Bucket=BUCKET, Key=world.key(name))
        assert head["ContentLength"] == backup.size
        assert is_verified_copy(head["Metadata"], backup_id=backup.id, size=backup.size)

    # a second run finds the verified copies and exports nothing more
    exports = world.sandbox.stats.snapshot()["exports"]
    again = handle(event("http_all", body='{"database_names": ["shop", "blog"]}'), None)
    assert body(again)["summary"] == {"already_copied": 2}
    assert world.sandbox.stats.snapshot()["exports"] == exports


def test_http_mode_posts_each_job_to_the_copy_function(world, copy_server):  # noqa: F811
    world.env.setenv("HANDOFF_MODE", "http")
    world.env.setenv("COPY_FUNCTION_URL", copy_server)
    world.env.setenv("COPY_FUNCTION_TOKEN", "iam-secret-key")
    response = handle(event("http_all"), None)

    assert response["statusCode"] == 200, response["body"]
    assert body(response)["summary"]["handed_off"] == 3
    assert sorted(CopyJob.model_validate_json(b).database_name for _, b in Recorder.received) == [
        "analytics", "blog", "shop"]
    assert {h["x-auth-token"] for h, _ in Recorder.received} == {"iam-secret-key"}
    assert "iam-secret-key" not in response["body"] and world.jobs() == []


def test_api_outage_during_listing_is_a_503(world):
    # GIVEN the API answers 503 to every listing and a client that gives up quickly
    world.sandbox.faults.set_error_rate("list_databases", 1.0, status=503)
    settings = load_settings()
    api = ScalewayClient(httpx.Client(base_url=world.sandbox.base_url, headers={"X-Auth-Token": world.sandbox.token}),
                         region=world.sandbox.region, project_id=world.sandbox.project_id, max_retry_seconds=0.5)
    sent: list[CopyJob] = []

    # WHEN dispatching
    with api, pytest.raises(ScalewayUnavailable) as info:
        dispatch(DispatchRequest(), settings=settings, api=api, store=ObjectStore.from_settings(settings),
                 handoff=InlineHandoff(sent.append), now=datetime.now(timezone.utc), requested_by="http")
    answer = error_response(info.value)

    # THEN the answer is a 503 and nothing was exported or handed off
    assert answer["statusCode"] == 503
    assert world.api_requests()["export_backup"] == 0 and sent == []


def test_a_bucket_that_cannot_be_read_exports_nothing_and_says_why(world, copy_server):  # noqa: F811
    # GIVEN an S3 endpoint that refuses HEAD (501) and the real API client
    import boto3

    from shared.storage import s3_config

    settings = load_settings()
    s3 = boto3.client("s3", endpoint_url=copy_server.rstrip("/"), region_name="us-east-1", config=s3_config(),
                      aws_access_key_id="k", aws_secret_access_key="s")
    sent: list[CopyJob] = []

    # WHEN dispatching
    with ScalewayClient.from_settings(settings) as api:
        report = dispatch(DispatchRequest(), settings=settings, api=api, store=ObjectStore(s3, BUCKET),
                          handoff=InlineHandoff(sent.append), now=datetime.now(timezone.utc), requested_by="http")

    # THEN every copy candidate failed on the bucket check, none was exported, the rest stand
    failed = [o.to_dict() for o in report.databases if o.status == "failed"]
    assert sorted(f["database_name"] for f in failed) == ["analytics", "blog", "shop"]
    assert {f["error"]["code"] for f in failed} == {"storage_error"}
    assert report.summary == {"failed": 3, "too_old": 2, "no_ready_backup": 1}
    assert report.status == 207 and sent == []
    assert world.api_requests()["export_backup"] == 0


def test_an_unexpected_error_for_one_database_does_not_stop_the_others(world):
    # GIVEN a bucket check that crashes (a bug, not a storage error) for the "blog" key only
    settings = load_settings()
    store = ObjectStore.from_settings(settings)

    class CrashOnBlog:
        def head(self, key):
            if key.startswith("blog/"):
                raise RuntimeError("boom")
            return store.head(key)

        def list_open_uploads(self, prefix=""):
            return store.list_open_uploads(prefix)

        def last_written(self, upload):
            return store.last_written(upload)

        def __getattr__(self, name):  # the ledger's listing and writes: the real store's
            return getattr(store, name)

    sent: list[CopyJob] = []

    # WHEN dispatching every database
    with ScalewayClient.from_settings(settings) as api:
        report = dispatch(DispatchRequest(), settings=settings, api=api, store=CrashOnBlog(),
                          handoff=InlineHandoff(sent.append), now=datetime.now(timezone.utc), requested_by="http")

    # THEN blog is reported failed (without the exception's text), the others are still handed off
    outcomes = {o.entry.database_name: o.to_dict() for o in report.databases}
    assert outcomes["blog"]["status"] == "failed"
    assert outcomes["blog"]["error"] == {"code": "internal_error", "message": "unexpected error; see the logs"}
    assert sorted(j.database_name for j in sent) == ["analytics", "shop"]
    assert report.status == 207


def test_a_reply_to_goes_into_five_jobs_at_most(moto_reset, sandbox_factory, tmp_path):
    # GIVEN eight fresh databases and a Slack response_url (which takes five posts)
    from sandbox.state import SandboxConfig
    from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET
    from tests.fixtures.copying import s3_client

    sandbox = sandbox_factory(SandboxConfig.generated(8, backups_per_db=1, export_delay_seconds=0.0))
    s3_client(moto_reset).create_bucket(Bucket="replies", CreateBucketConfiguration={"LocationConstraint": "fr-par"})
    settings = load_settings(
        scw_config_path=str(tmp_path / "none.yaml"), scw_api_url=sandbox.base_url,
        scw_secret_key=sandbox.token, scw_default_project_id=sandbox.project_id, backup_bucket="replies",
        s3_endpoint_url=moto_reset, s3_region="fr-par", s3_access_key=FAKE_KEY, s3_secret_key=FAKE_SECRET)
    received: list[CopyJob] = []
    url = "https://hooks.slack.com/commands/T1/2/abc"

    report = run_dispatch(DispatchRequest(), settings=settings, requested_by="slack:U1", reply_to=url,
                          inline_runner=received.append)

    # THEN all eight are copied, and five of the jobs carry the reply address
    assert report.summary == {"handed_off": 8} and len(received) == 8
    assert sorted(j.reply_to or "" for j in received) == [""] * 3 + [url] * 5
