"""The copy function's handler: the platform's HTTP event in, the JSON answer out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from handlers.copy import MAX_BODY, handle
from shared.keys import META_SHA256
from sandbox import blobs
from sandbox.api import SandboxServer
from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET
from tests.fixtures.copying import SMALL, Bucket, job_for

TOKEN = "copy-token-0123456789"


def event(body: Any = "", method: str = "POST", path: str = "/", token: str | None = TOKEN) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    text = body if isinstance(body, str) else json.dumps(body)
    return {"httpMethod": method, "path": path, "headers": headers, "body": text}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SCW_CONFIG_PATH", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("HTTP_AUTH_TOKENS", f"other-token-0123456789,{TOKEN}")
    monkeypatch.setenv("HANDOFF_MODE", "inline")
    return monkeypatch


def answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return response["statusCode"], json.loads(response["body"])


def test_health_needs_no_token_and_says_nothing(env: pytest.MonkeyPatch) -> None:
    assert answer(handle(event(method="GET", path="/health", token=None))) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("evt", "status", "code"),
    [
        (event({}, token=None), 401, "unauthorized"),
        (event({}, token="wrong-token"), 401, "unauthorized"),
        (event("{not json"), 400, "invalid_json"),
        (event("[1, 2]"), 400, "invalid_json"),
        (event({}, method="PUT"), 405, "method_not_allowed"),
        (event("x" * (MAX_BODY + 1)), 413, "payload_too_large"),
    ],
)
def test_bad_requests_are_refused(env: pytest.MonkeyPatch, evt: dict[str, Any], status: int, code: str) -> None:
    got_status, body = answer(handle(evt))
    assert (got_status, body["error"]["code"]) == (status, code)


def test_an_invalid_job_names_the_fields_without_echoing_them(env: pytest.MonkeyPatch,
                                                              copy_sandbox: SandboxServer) -> None:
    job = json.loads(job_for(copy_sandbox).model_dump_json())
    job["backup_id"] = "secret-looking-value"
    job["surprise"] = "another-value"

    status, body = answer(handle(event(job)))

    assert status == 422 and body["error"]["code"] == "invalid_request"
    assert body["error"]["details"]["fields"] == ["backup_id", "surprise"]
    assert "secret-looking-value" not in json.dumps(body) and "another-value" not in json.dumps(body)


@pytest.mark.parametrize("region", ["FR-PAR", "fr-par/../../x", "fr par", ""])
def test_a_job_whose_region_cannot_go_into_an_api_path_is_refused(env: pytest.MonkeyPatch,
                                                                   copy_sandbox: SandboxServer, region: str) -> None:
    job = json.loads(job_for(copy_sandbox).model_dump_json()) | {"region": region}

    status, body = answer(handle(event(job)))

    assert (status, body["error"]["code"], body["error"]["details"]["fields"]) == (422, "invalid_request", ["region"])
    assert copy_sandbox.stats.snapshot()["requests"].get("get_backup", 0) == 0


def _copy_env(env: pytest.MonkeyPatch, sandbox: SandboxServer, bucket: Bucket) -> None:
    for name, value in {
        "SCW_SECRET_KEY": sandbox.token, "SCW_API_URL": sandbox.base_url,
        "SCW_DEFAULT_PROJECT_ID": sandbox.project_id, "BACKUP_BUCKET": bucket.name,
        "S3_ENDPOINT_URL": bucket.endpoint, "S3_REGION": "fr-par", "S3_ACCESS_KEY": FAKE_KEY,
        "S3_SECRET_KEY": FAKE_SECRET, "DOWNLOAD_HOST_ALLOWLIST": "127.0.0.1",
    }.items():
        env.setenv(name, value)



def test_a_valid_job_is_copied(env: pytest.MonkeyPatch, copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    _copy_env(env, copy_sandbox, bucket)
    job = job_for(copy_sandbox, "blog")

    status, body = answer(handle(event(job.model_dump_json())))

    expected = blobs.sha256_hex(str(job.backup_id), SMALL)
    assert (status, body["outcome"], body["sha256"]) == (200, "copied", expected)
    assert bucket.metadata(job.object_key)[META_SHA256] == expected
    again_status, again = answer(handle(event(job.model_dump_json())))
    assert (again_status, again["outcome"]) == (200, "already_copied")


def test_the_outcome_is_posted_to_the_jobs_reply_to_in_the_channel(env, copy_sandbox, bucket, webhook_sink):
    # GIVEN a job started by a Slack command, whose response_url is (here) the sink
    _copy_env(env, copy_sandbox, bucket)
    env.setenv("REPLY_HOST_ALLOWLIST", "127.0.0.1")
    job = job_for(copy_sandbox, "blog", reply_to=webhook_sink.url + "/commands/T1/2/abc")

    status, body = answer(handle(event(job.model_dump_json())))

    assert (status, body["outcome"]) == (200, "copied")
    [posted] = webhook_sink.wait_for(1)
    assert posted.path == "/commands/T1/2/abc"
    message = posted.json()
    assert message["response_type"] == "in_channel" and message["replace_original"] is False
    assert "blog" in message["text"] and body["sha256"] in json.dumps(message["blocks"])
    assert [(n["format"], n["delivered"]) for n in body["notifications"]] == [("slack_reply", True)]


def test_a_reply_to_off_the_allowlist_is_not_posted_and_the_copy_stands(env, copy_sandbox, bucket, webhook_sink):
    _copy_env(env, copy_sandbox, bucket)  # REPLY_HOST_ALLOWLIST: hooks.slack.com only
    job = job_for(copy_sandbox, "blog", reply_to=webhook_sink.url + "/steal")

    status, body = answer(handle(event(job.model_dump_json())))

    assert (status, body["outcome"]) == (200, "copied")
    assert "notifications" not in body
    assert webhook_sink.requests == []  # notices are sent before the handler answers: none was


def test_a_bad_setting_is_a_configuration_error_and_nothing_is_copied(env, copy_sandbox, bucket):
    _copy_env(env, copy_sandbox, bucket)
    env.setenv("DOWNLOAD_HOST_ALLOWLIST", "https://s3.fr-par.scw.cloud/")  # a URL, not a host
    job = job_for(copy_sandbox, "blog")

    status, body = answer(handle(event(job.model_dump_json())))

    assert (status, body["error"]["code"]) == (500, "configuration_error")
    assert "DOWNLOAD_HOST_ALLOWLIST" in body["error"]["message"]
    assert sum(copy_sandbox.stats.snapshot()["requests"].values()) == 0 and bucket.objects() == []


@pytest.mark.parametrize("key", ["shop/2026/01/01/another-backup.dump", "blog/../shop/x.dump", "blog/\x07.dump"])
def test_a_job_may_only_write_its_own_backups_key(env: pytest.MonkeyPatch, copy_sandbox: SandboxServer,
                                                  bucket: Bucket, key: str) -> None:
    # GIVEN a job for blog's backup that names some other key
    _copy_env(env, copy_sandbox, bucket)
    job = job_for(copy_sandbox, "blog", object_key=key)

    status, body = answer(handle(event(job.model_dump_json())))

    assert (status, body["error"]["code"], body["error"]["details"]) == (422, "invalid_request", {"fields": ["object_key"]})
    assert key not in json.dumps(body)
    assert bucket.objects() == [] and bucket.open_uploads() == []
    assert sum(copy_sandbox.stats.snapshot()["requests"].values()) == 0  # refused before any call
