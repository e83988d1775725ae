"""A Slack slash command over a real socket: signed form -> served dispatch -> queue -> copy ->
bucket -> notification, and the copy's answer posted to the command's response_url. The
signature is checked on the bytes as they crossed the HTTP stack."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from sandbox.blobs import sha256_hex
from sandbox.topology import LocalChain, local_chain

SECRET = "e2e-slack-signing-secret"


@pytest.fixture(scope="module")
def chain() -> Iterator[LocalChain]:
    # The sink stands in for Slack's response_url host too.
    allow = {"REPLY_HOST_ALLOWLIST": "127.0.0.1"}
    with local_chain(config="default", export_delay=0.2, dispatch_env={"SLACK_SIGNING_SECRET": SECRET, **allow},
                     copy_env=allow) as running:
        yield running


def command(chain: LocalChain, text: str, secret: str = SECRET) -> httpx.Response:
    form = urlencode({"team_id": "T0001", "channel_id": "C0001", "user_id": "U0001", "user_name": "ops",
                      "command": "/sdb-backup", "text": text,
                      "response_url": chain.sink.url + "/commands/T0001/1/reply",
                      "trigger_id": "1.2.3"})
    stamp = str(int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:{form}".encode(), hashlib.sha256).hexdigest()
    return httpx.post(chain.dispatch_url + "slack/command", content=form, timeout=60, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"})


def test_a_signed_command_copies_and_answers_the_channel(chain):
    answer = command(chain, "copy blog")

    assert answer.status_code == 200, answer.text
    reply = answer.json()
    assert reply["response_type"] == "in_channel" and "*blog*: copy started" in reply["text"]
    assert "Each copy will report here" in reply["text"]
    chain.sink.wait_for(2, timeout=120)  # the signed notice, and the answer to the command
    (key, size), = chain.stored().items()
    by_path = {r.path: r for r in chain.notifications()}
    notice = json.loads(by_path["/hooks/backups"].body)
    assert key.startswith("blog/") and notice["data"]["location"]["key"] == key
    assert chain.object_sha256(key) == sha256_hex(notice["data"]["backup_id"], size)
    answer_in_channel = json.loads(by_path["/commands/T0001/1/reply"].body)
    assert answer_in_channel["response_type"] == "in_channel" and "blog" in answer_in_channel["text"]
    assert notice["data"]["sha256"] in json.dumps(answer_in_channel["blocks"])

    again = command(chain, "copy blog").json()  # typed twice: the copy is there, nothing new
    assert again["response_type"] == "ephemeral" and "*blog*: already copied" in again["text"]


def test_a_command_signed_with_another_secret_is_refused(chain):
    answer = command(chain, "copy shop", secret="not-the-secret")

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert not [k for k in chain.stored() if k.startswith("shop/")]
