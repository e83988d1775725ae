"""The queue trigger stand-in against moto's SQS server and a real local HTTP target."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import boto3
import pytest

from sandbox.queue_trigger import QueueTrigger
from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET


class Target:
    """A function stand-in: answers scripted statuses and records what arrived."""

    def __init__(self, answer: Callable[[str, int], int], delay: float = 0.0, gate: int | None = None) -> None:
        self.answer = answer  # (body, nth delivery of that body) -> status
        self.delay = delay
        self.gate = gate  # hold each request until this many are in flight (or 10 s pass)
        self.bodies: list[str] = []
        self.content_types: set[str] = set()
        self.concurrent = 0
        self.max_concurrent = 0
        self.lock = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with target.lock:
                    target.concurrent += 1
                    target.max_concurrent = max(target.max_concurrent, target.concurrent)
                    target.bodies.append(body)
                    target.content_types.add(self.headers["Content-Type"])
                    nth = target.bodies.count(body)
                    target.lock.notify_all()
                    if target.gate is not None:  # timing-proof: wait for the others, however slow the machine
                        target.lock.wait_for(lambda: target.max_concurrent >= target.gate, timeout=10)
                time.sleep(target.delay)
                status = target.answer(body, nth)
                with target.lock:
                    target.concurrent -= 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> "Target":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sqs(moto_reset: str):
    return boto3.client(
        "sqs", endpoint_url=moto_reset, region_name="us-east-1", aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_SECRET
    )


def _queue(sqs, name: str, **attributes: str) -> str:
    attrs = {"VisibilityTimeout": "1", **attributes}  # redeliveries one second apart
    return sqs.create_queue(QueueName=f"{name}-{uuid.uuid4().hex[:6]}", Attributes=attrs)["QueueUrl"]


def _messages_left(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def running() -> Iterator[Callable[[QueueTrigger], QueueTrigger]]:
    started: list[QueueTrigger] = []

    def start(trigger: QueueTrigger) -> QueueTrigger:
        started.append(trigger.start())
        return trigger

    yield start
    for trigger in started:
        trigger.stop()


def test_2xx_deletes_the_message(sqs, running):
    url = _queue(sqs, "ok")
    sent = [json.dumps({"n": i}) for i in range(3)]
    for body in sent:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    with Target(lambda body, nth: 204) as target:
        trigger = running(QueueTrigger(sqs, url, target.url))
        _wait_for(lambda: trigger.stats.snapshot()["delivered"] == 3)
        assert sorted(target.bodies) == sorted(sent)
        assert target.content_types == {"application/json"}
        assert _messages_left(sqs, url) == 0


def test_status_300_or_more_gets_a_redelivery(sqs, running):
    url = _queue(sqs, "retry")
    sqs.send_message(QueueUrl=url, MessageBody='{"job": 1}')
    with Target(lambda body, nth: 503 if nth == 1 else 200) as target:
        trigger = running(QueueTrigger(sqs, url, target.url))
        _wait_for(lambda: trigger.stats.snapshot()["delivered"] == 1)
        assert target.bodies == ['{"job": 1}', '{"job": 1}']
        assert trigger.stats.snapshot()["failed_tries"] == 1
        assert _messages_left(sqs, url) == 0


def test_three_failures_go_to_the_dead_letter_queue(sqs, running):
    url, dlq = _queue(sqs, "fail"), _queue(sqs, "fail-dlq")
    sqs.send_message(QueueUrl=url, MessageBody='{"job": "doomed"}')
    with Target(lambda body, nth: 500) as target:
        trigger = running(QueueTrigger(sqs, url, target.url, dlq_url=dlq))
        _wait_for(lambda: trigger.stats.snapshot()["dead_lettered"] == 1)
        assert target.bodies == ['{"job": "doomed"}'] * 3
    moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in moved] == ['{"job": "doomed"}']
    assert _messages_left(sqs, url) == 0


def test_unreachable_target_counts_as_a_failed_try(sqs, running):
    url, dlq = _queue(sqs, "down"), _queue(sqs, "down-dlq")
    sqs.send_message(QueueUrl=url, MessageBody='{"job": "lost"}')
    trigger = running(QueueTrigger(sqs, url, "http://127.0.0.1:9/", dlq_url=dlq))
    _wait_for(lambda: trigger.stats.snapshot()["dead_lettered"] == 1)
    assert trigger.stats.snapshot()["failed_tries"] == 3
    assert sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)["Messages"][0]["Body"] == '{"job": "lost"}'


def test_dead_letter_queue_is_read_from_the_redrive_policy(sqs):
    dlq = _queue(sqs, "policy-dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
    url = _queue(sqs, "policy", RedrivePolicy=policy)
    trigger = QueueTrigger(sqs, url, "http://127.0.0.1:9/")
    try:
        assert trigger.dlq_url == dlq
    finally:
        trigger.stop()


def test_never_more_than_ten_requests_in_flight(sqs, running):
    url = _queue(sqs, "busy", VisibilityTimeout="30")
    for i in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i}))
    with Target(lambda body, nth: 200, delay=0.2, gate=10) as target:
        trigger = running(QueueTrigger(sqs, url, target.url))
        _wait_for(lambda: trigger.stats.snapshot()["delivered"] == 25)
        assert target.max_concurrent == 10
        assert len(set(target.bodies)) == 25
    assert _messages_left(sqs, url) == 0
