"""Hand-off transports against real servers: moto's SQS and a local recording HTTP server."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from shared.handoff import HttpHandoff, QueueHandoff, handoff_from_settings
from shared.models import CopyJob
from shared.settings import Settings
from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET

WHEN = datetime(2026, 11, 26, 3, tzinfo=timezone.utc)
QUEUE_REGION = "us-east-1"  # moto's SQS only knows AWS region names


def job(name: str) -> CopyJob:
    return CopyJob(run_id="run1", backup_id=uuid4(), database_id=uuid4(), database_name=name,
                   project_id=uuid4(), region="fr-par", backup_created_at=WHEN,
                   object_key=f"{name}/2026/11/26/x.dump", deadline=WHEN, size=123)


def sqs_client(endpoint: str):
    import boto3

    return boto3.client("sqs", endpoint_url=endpoint, region_name=QUEUE_REGION,
                        aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_SECRET)


def drain(sqs, queue_url: str) -> list[CopyJob]:
    jobs: list[CopyJob] = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return jobs
        jobs += [CopyJob.model_validate_json(m["Body"]) for m in messages]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])


def test_queue_handoff_delivers_every_job_in_batches(moto_reset):
    # GIVEN a queue and 23 jobs (three batches)
    sqs = sqs_client(moto_reset)
    queue_url = sqs.create_queue(QueueName="copy-jobs")["QueueUrl"]
    jobs = [job(f"db{i}") for i in range(23)]

    # WHEN handing them off through settings (as the deployed function does)
    settings = Settings(handoff_mode="queue", queue_url=queue_url, queue_endpoint_url=moto_reset,
                        queue_region=QUEUE_REGION, queue_access_key=FAKE_KEY, queue_secret_key=FAKE_SECRET)
    results = handoff_from_settings(settings).send(jobs)

    # THEN every job is acknowledged and the queue holds exactly those jobs
    assert [r.ok for r in results] == [True] * 23
    assert sorted(drain(sqs, queue_url), key=lambda j: j.database_name) == sorted(jobs, key=lambda j: j.database_name)


def test_queue_handoff_reports_each_job_when_the_queue_is_missing(moto_reset):
    sqs = sqs_client(moto_reset)
    missing = sqs.create_queue(QueueName="exists")["QueueUrl"].replace("exists", "missing")
    results = QueueHandoff(sqs, missing).send([job("a"), job("b")])
    assert [(r.job.database_name, r.ok, r.code) for r in results] == [
        ("a", False, "handoff_failed"), ("b", False, "handoff_failed")]
    assert "NonExistentQueue" in (results[0].message or "")


class Recorder(BaseHTTPRequestHandler):
    """Stands in for the copy function: records each POST, fails database 'broken'."""

    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        broken = json.loads(body).get("database_name") == "broken"
        payload = {"error": {"code": "export_not_ready", "message": "later"}} if broken else {"status": "copied"}
        raw = json.dumps(payload).encode()
        self.send_response(503 if broken else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def copy_server() -> Iterator[str]:
    Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_http_handoff_posts_each_job_with_both_credentials(copy_server):
    jobs = [job("a"), job("broken"), job("c")]
    handoff = HttpHandoff(httpx.Client(timeout=10), copy_server, platform_token=SecretStr("iam-secret"),
                          bearer_token=SecretStr("copy-bearer"))
    try:
        results = handoff.send(jobs)
    finally:
        handoff.close()

    assert [(r.job.database_name, r.ok, r.code) for r in results] == [
        ("a", True, None), ("broken", False, "export_not_ready"), ("c", True, None)]
    assert "503" in (results[1].message or "")
    assert len(Recorder.received) == 3
    for headers, body in Recorder.received:
        assert headers["x-auth-token"] == "iam-secret"
        assert headers["authorization"] == "Bearer copy-bearer"
        assert headers["content-type"] == "application/json"
    assert sorted(CopyJob.model_validate_json(b).database_name for _, b in Recorder.received) == ["a", "broken", "c"]


def test_http_handoff_reports_an_unreachable_copy_function_without_its_url_secrets():
    url = "http://127.0.0.1:9/?token=secret-in-query"
    handoff = HttpHandoff(httpx.Client(timeout=2), url, platform_token=None, bearer_token=None)
    [result] = handoff.send([job("a")])
    handoff.close()
    assert not result.ok and result.code == "handoff_failed"
    assert "secret-in-query" not in (result.message or "") and "127.0.0.1:9" in (result.message or "")
