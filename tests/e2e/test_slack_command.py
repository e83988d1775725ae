"""A Slack slash command over real sockets, through both queues as deployed: signed form ->
hooks (answers at once, queues the command) -> command queue -> trigger -> dispatch (plans,
exports, posts the run's summary on the response_url) -> job queue -> trigger -> copy ->
bucket -> notification, and the copy's own answer on the response_url. The signature is
checked on the bytes as they crossed the HTTP stack; the webhook sink stands in for Slack."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any, Iterator

import httpx
import pytest

from sandbox.blobs import sha256_hex
from sandbox.slack import signed_command
from sandbox.topology import LocalChain, local_chain

SECRET = "e2e-slack-signing-secret"
_commands = itertools.count(1)


@pytest.fixture(scope="module")
def chain() -> Iterator[LocalChain]:
    allow = {"REPLY_HOST_ALLOWLIST": "127.0.0.1"}  # the sink stands in for Slack's response_url host
    with local_chain(config="default", export_delay=0.2, dispatch_env=allow, copy_env=allow,
                     hooks_env={"SLACK_SIGNING_SECRET": SECRET}) as running:
        yield running


def command(chain: LocalChain, text: str, secret: str = SECRET) -> tuple[httpx.Response, str]:
    """Send a signed slash command to hooks; its answer, and the path of its response_url."""
    reply_path = f"/commands/T0001/{next(_commands)}/reply"
    form, headers = signed_command(secret, text, chain.sink.url + reply_path)
    return httpx.post(chain.hooks_url + "slack/command", content=form, headers=headers, timeout=60), reply_path


def exports(chain: LocalChain) -> int:
    stats = httpx.get(chain.api["base_url"] + "/_sandbox/stats", headers={"X-Auth-Token": chain.api["token"]})
    return stats.json()["exports"]


def posts(chain: LocalChain, path: str, count: int, timeout: float = 120) -> list[dict[str, Any]]:
    """The first ``count`` messages posted on one response_url, in the order they arrived."""
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(r.body) for r in chain.notifications() if r.path == path]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, f"{len(found)} of {count} posts on {path}"
            return found[:count]
        chain.sink.wait_for(len(chain.sink.requests) + 1, timeout=max(0.1, deadline - time.monotonic()))


def test_the_answer_comes_before_any_export_then_the_summary_then_the_copy(chain):
    chain.command_trigger.hold()  # the command waits in its queue until we have looked
    try:
        answer, reply_path = command(chain, "copy blog")

        assert answer.status_code == 200, answer.text
        ack = answer.json()
        assert ack["response_type"] == "in_channel" and ack["text"].startswith("Copy started: 1 database.")
        assert "first 4 copies" in ack["text"]
        assert exports(chain) == 0  # answered with nothing planned, exported or handed off
        waiting = chain.sqs.get_queue_attributes(QueueUrl=chain.command_queue_url,
                                                 AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        assert waiting["ApproximateNumberOfMessages"] == "1" and chain.jobs_pending() == 0
    finally:
        chain.command_trigger.release()

    summary, copied = posts(chain, reply_path, 2)

    assert summary["response_type"] == "in_channel" and summary["replace_original"] is False
    assert summary["text"].startswith("Copy run") and "*blog*: copy started" in summary["text"]
    assert "Each copy will report here when it is done." in summary["text"]
    assert exports(chain) == 1
    (key, size), = chain.stored().items()
    notice = next(json.loads(r.body) for r in chain.notifications() if r.path == "/hooks/backups")
    assert key.startswith("blog/") and notice["data"]["location"]["key"] == key
    assert chain.object_sha256(key) == sha256_hex(notice["data"]["backup_id"], size)
    assert copied["response_type"] == "in_channel" and notice["data"]["sha256"] in json.dumps(copied["blocks"])

    again, again_path = command(chain, "copy blog")  # typed twice: answered at once, nothing new copied
    assert again.json()["text"].startswith("Copy started: 1 database.")
    [repeat] = posts(chain, again_path, 1)
    assert repeat["response_type"] == "ephemeral" and "*blog*: already copied" in repeat["text"]
    assert exports(chain) == 1 and chain.dead_letters() == 0


def test_help_is_answered_by_hooks_and_queues_nothing(chain):
    chain.command_trigger.hold()  # a queued command would wait, visible, in the queue
    try:
        answer, _ = command(chain, "help")

        assert answer.status_code == 200 and answer.json()["text"].startswith("Usage:")
        waiting = chain.sqs.get_queue_attributes(QueueUrl=chain.command_queue_url,
                                                 AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        assert waiting["ApproximateNumberOfMessages"] == "0"
    finally:
        chain.command_trigger.release()


def test_a_command_signed_with_another_secret_is_refused(chain):
    answer, _ = command(chain, "copy shop", secret="not-the-secret")

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert not [k for k in chain.stored() if k.startswith("shop/")]


def test_hooks_refuses_the_unauthenticated_schedule(chain):
    answer = httpx.post(chain.hooks_url, json={}, timeout=30)

    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
