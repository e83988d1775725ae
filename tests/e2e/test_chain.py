"""The deployed topology on loopback: cron event -> dispatch -> queue -> trigger -> copy ->
bucket -> webhook sink, every hop a real server over a real socket (the demo's code)."""

from __future__ import annotations

import json
import time
from typing import Iterator

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sandbox.blobs import sha256_hex
from sandbox.topology import LocalChain, local_chain

# Small backups from the sandbox's default seed: 48 KiB and 3 MiB.
SELECTION = {"database_names": ["shop", "blog"]}


@pytest.fixture(scope="module")
def chain() -> Iterator[LocalChain]:
    with local_chain(config="default", export_delay=0.2) as running:
        yield running


@pytest.fixture(scope="module")
def first_run(chain: LocalChain) -> dict:
    answer = chain.fire_cron(SELECTION)
    assert answer.status_code == 200, answer.text + chain.log_tails()
    try:
        chain.sink.wait_for(2, timeout=120)
    except TimeoutError:
        pytest.fail(f"notifications missing; trigger {chain.trigger and chain.trigger.stats.snapshot()}\n"
                    + chain.log_tails())
    # a copy notifies before it stamps and prunes: its job is done once the trigger saw its answer
    deadline = time.monotonic() + 60
    while chain.jobs_pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    return answer.json()


def test_cron_event_copies_every_selected_backup(chain: LocalChain, first_run: dict):
    assert first_run["requested_by"] == "cron"
    assert first_run["summary"] == {"handed_off": 2}
    stored = chain.stored()
    for entry in first_run["databases"]:
        key = entry["object_key"]
        assert stored[key] == entry["size"]
        assert chain.object_sha256(key) == sha256_hex(entry["backup_id"], entry["size"])
    assert chain.trigger is not None and chain.trigger.stats.snapshot()["delivered"] == 2
    assert chain.dead_letters() == 0
    assert chain.uploading() == {}  # no multipart upload left open


def test_notifications_are_signed_and_describe_the_copies(chain: LocalChain, first_run: dict):
    hook = Webhook(chain.webhook_secret)
    by_backup = {}
    for request in chain.notifications():
        payload = hook.verify(request.body, request.headers)  # raises on a bad signature
        assert request.path == "/hooks/backups"
        by_backup[payload["data"]["backup_id"]] = payload
    for entry in first_run["databases"]:
        notice = by_backup[entry["backup_id"]]
        assert notice["type"] == "backup.copied"
        assert notice["data"]["database_name"] == entry["database_name"]
        assert notice["data"]["location"]["key"] == entry["object_key"]
        assert notice["data"]["sha256"] == sha256_hex(entry["backup_id"], entry["size"])


def test_a_tampered_notification_fails_verification(chain: LocalChain, first_run: dict):
    request = chain.notifications()[0]
    tampered = json.loads(request.body)
    tampered["data"]["database_name"] = "someone-else"
    with pytest.raises(WebhookVerificationError):
        Webhook(chain.webhook_secret).verify(json.dumps(tampered), request.headers)


def test_second_cron_run_finds_the_copies_and_sends_nothing(chain: LocalChain, first_run: dict):
    notified = len(chain.notifications())
    answer = chain.fire_cron(SELECTION)
    assert answer.status_code == 200
    assert answer.json()["summary"] == {"already_copied": 2}
    assert chain.jobs_pending() == 0  # the run handed off nothing, so no notice can follow
    assert len(chain.notifications()) == notified


def test_functions_answer_health_and_dispatch_refuses_a_wrong_bearer(chain: LocalChain):
    assert httpx.get(chain.dispatch_url + "health").json() == {"status": "ok"}
    assert chain.copy_url and httpx.get(chain.copy_url + "health").status_code == 200
    denied = httpx.post(chain.dispatch_url, json={}, headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401
    allowed = httpx.post(chain.dispatch_url, json={"dry_run": True, **SELECTION},
                         headers={"Authorization": f"Bearer {chain.auth_token}"})
    assert allowed.status_code == 200
    assert allowed.json()["dry_run"] is True
