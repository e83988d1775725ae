"""Fault matrix, delivery: the same job three times at once, and the copy function SIGKILLed
mid-copy (waiting on its first download; after publishing, before the stamp), the queue then
delivering the job again to a fresh instance; a job delivered again once its copy is stamped.
Through the served chain: one verified object, stamped, no upload open, and the success notices
all carry one ``webhook-id``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.topology import LocalChain
from tests.e2e.matrix import slate  # noqa: F401  (a fixture the cases take)
from tests.e2e.matrix import DATABASE, SELECTION, assert_verified, inject, matrix_chain, wait_until

# a job whose copy did not answer 2xx (killed, or "in progress" elsewhere) comes back in 5 s
chain = matrix_chain(s3_faults=True, visibility_seconds=5)


def test_the_same_job_three_times_at_once_ends_in_one_verified_copy(slate: LocalChain) -> None:
    trigger = slate.trigger
    assert trigger is not None
    delivered = trigger.stats.snapshot()["delivered"]

    answer, _ = _dispatch_sending_the_job(slate, times=3)  # delivered at once, up to 10 in flight
    # the trigger deletes a message, then counts it: wait for both, not the empty queue alone
    wait_until(lambda: slate.jobs_pending() == 0 and trigger.stats.snapshot()["delivered"] - delivered == 3,
               60, slate.log_tails)

    (entry,) = [d for d in answer["databases"] if d["database_name"] == DATABASE]
    assert_verified(slate, entry)
    assert slate.dead_letters() == 0


def _dispatch_sending_the_job(chain: LocalChain, times: int) -> tuple[dict[str, Any], str]:
    """Fire the cron with the trigger held, put dispatch's job in the queue ``times`` times, release:
    the answer and the job's body."""
    assert chain.trigger is not None
    chain.trigger.hold()
    try:
        answer = chain.fire_cron(SELECTION)
        assert answer.status_code == 200, answer.text
        (message,) = chain.sqs.receive_message(QueueUrl=chain.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        entries = [{"Id": str(n), "MessageBody": message["Body"]} for n in range(times)]
        chain.sqs.send_message_batch(QueueUrl=chain.queue_url, Entries=entries)
        chain.sqs.delete_message(QueueUrl=chain.queue_url, ReceiptHandle=message["ReceiptHandle"])
    finally:
        chain.trigger.release()
    return answer.json(), message["Body"]


def test_a_copy_killed_waiting_on_its_download_is_done_by_the_next_delivery(slate: LocalChain) -> None:
    inject(slate, inject=[{"route": "download", "status": 500, "delay_seconds": 20}])  # the first download hangs
    answer = slate.fire_cron(SELECTION)
    assert answer.status_code == 200, answer.text
    wait_until(lambda: _stats(slate)["downloads_active"] == 1, 30, slate.log_tails)

    slate.crash_copy()

    entry = _finished(slate, answer.json())
    assert_verified(slate, entry)
    assert slate.dead_letters() == 0


def test_a_copy_killed_after_publishing_before_the_stamp_is_finished_and_told_again(slate: LocalChain) -> None:
    proxy = slate.s3_faults
    assert proxy is not None
    stamp = proxy.add_rule(operation="copy_object", status=500, delay_seconds=20, times=1)  # the stamp hangs
    answer = slate.fire_cron(SELECTION)
    assert answer.status_code == 200, answer.text
    wait_until(lambda: stamp.used == 1, 30, slate.log_tails)

    slate.crash_copy()

    entry = _finished(slate, answer.json())
    assert_verified(slate, entry)  # read back, verified, told again with the same id, stamped
    assert len(slate.notifications()) == 2 and slate.dead_letters() == 0


def _finished(chain: LocalChain, report: dict[str, Any]) -> dict[str, Any]:
    wait_until(lambda: chain.jobs_pending() == 0, 60, chain.log_tails)
    (entry,) = [d for d in report["databases"] if d["database_name"] == DATABASE]
    return entry


def test_a_job_delivered_again_after_its_copy_is_quiet(slate: LocalChain) -> None:
    answer, job = _dispatch_sending_the_job(slate, times=1)
    entry = _finished(slate, answer)
    notified = len(slate.notifications())
    assert slate.copy_url is not None

    again = httpx.post(slate.copy_url, content=job, headers={"Content-Type": "application/json"}, timeout=60)

    assert again.status_code == 200 and again.json()["outcome"] == "already_copied", again.text
    assert_verified(slate, entry)
    assert len(slate.notifications()) == notified  # the stamp ends it: nothing told again


def _stats(chain: LocalChain) -> dict[str, Any]:
    return httpx.get(chain.api["base_url"] + "/_sandbox/stats", headers={"X-Auth-Token": chain.api["token"]}).json()
