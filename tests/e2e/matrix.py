"""What every case of the fault matrix shares: a clean slate, faults set over HTTP as another
process would set them, one cron run through the served chain, and the two end states a case
may have.

- ``verified``: the object at its key holds the source's bytes (SHA-256), carries the stamp, no
  multipart upload is open, and the copy notices are ``backup.copied`` only, all with one
  ``webhook-id`` (a receiver that dedupes sees one).
- ``failed``: nothing at the final key, no open upload, and the copy notices are
  ``backup.copy_failed`` only, one ``webhook-id``, naming what happened (its error code).

A run ends when the job queue is empty (the trigger deleted the job, or dead-lettered it): a
copy notifies before it answers, so every notice has arrived by then.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import httpx
import pytest

from sandbox.blobs import sha256_hex
from sandbox.topology import LocalChain, local_chain
from shared.keys import META_SHA256

DATABASE = "shop"  # 48 KiB in the sandbox's default seed: one part, a copy in well under a second
SELECTION = {"database_names": [DATABASE]}
# Settings both functions get in every matrix topology: short waits, quick redelivery.
QUICK = {"API_TIMEOUT_SECONDS": "2", "LINK_WAIT_SECONDS": "10", "NOTIFY_TIMEOUT_SECONDS": "1"}
# The job queue delivers a job again this long after a copy did not answer 2xx: longer than any
# copy of the matrix takes, retries and backoff included, so no job is delivered twice at once.
VISIBILITY_SECONDS = 15


def wait_until(condition: Callable[[], bool], timeout: float, explain: Callable[[], str]) -> None:
    """Poll an observable condition (a queue's depth, what a server saw); fail with ``explain()``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout:.0f}s\n{explain()}")
        time.sleep(0.05)


def sandbox_control(chain: LocalChain, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = httpx.post(chain.api["base_url"] + path, json=body or {}, headers={"X-Auth-Token": chain.api["token"]})
    assert answer.status_code == 200, answer.text
    return answer.json()


def inject(chain: LocalChain, **spec: Any) -> dict[str, Any]:
    """``POST /_sandbox/faults`` (``sandbox.control``): the faults the sandbox applies from now on."""
    return sandbox_control(chain, "/_sandbox/faults", spec)


def clean_slate(chain: LocalChain) -> None:
    """An empty bucket and dead-letter queue, no open upload, fresh sandbox state and counters, sinks
    and proxy reset."""
    wait_until(lambda: chain.jobs_pending() == 0, 30, chain.log_tails)
    for key in list(chain.stored()) + _ledger_keys(chain):
        chain.s3.delete_object(Bucket=chain.bucket, Key=key)
    for upload in chain.s3.list_multipart_uploads(Bucket=chain.bucket).get("Uploads", []):
        chain.s3.abort_multipart_upload(Bucket=chain.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    if chain.sqs and chain.dlq_url:
        chain.sqs.purge_queue(QueueUrl=chain.dlq_url)
    sandbox_control(chain, "/_sandbox/reset")
    chain.sink.reset()
    if chain.monitor:
        chain.monitor.reset()
    if chain.s3_faults:
        chain.s3_faults.reset()


def _ledger_keys(chain: LocalChain) -> list[str]:
    pages = chain.s3.get_paginator("list_objects_v2").paginate(Bucket=chain.bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def run_chain(chain: LocalChain, timeout: float = 90) -> dict[str, Any]:
    """Fire the cron for ``SELECTION``; once the queue is empty, this database's entry of the answer."""
    answer = chain.fire_cron(SELECTION)
    assert answer.status_code in (200, 207), answer.text + chain.log_tails()
    wait_until(lambda: chain.jobs_pending() == 0, timeout, chain.log_tails)
    (entry,) = [d for d in answer.json()["databases"] if d["database_name"] == DATABASE]
    assert entry["status"] == "handed_off", entry
    return entry


def copy_notices(chain: LocalChain) -> list[tuple[str, dict[str, Any]]]:
    """Each copy notice that reached the sink (every attempt): its ``webhook-id`` and payload."""
    return [(n.headers["webhook-id"], n.json()) for n in chain.notifications()]


def assert_verified(chain: LocalChain, entry: dict[str, Any]) -> None:
    key, expected = entry["object_key"], sha256_hex(entry["backup_id"], entry["size"])
    explain = chain.log_tails()
    assert chain.stored() == {key: entry["size"]}, explain
    assert chain.object_sha256(key) == expected
    assert chain.object_metadata(key).get(META_SHA256) == expected  # the stamp of a verified copy
    assert chain.uploading() == {}
    notices = copy_notices(chain)
    assert notices and {payload["type"] for _, payload in notices} == {"backup.copied"}, notices
    assert len({webhook_id for webhook_id, _ in notices}) == 1
    assert {payload["data"]["sha256"] for _, payload in notices} == {expected}


def assert_failed(chain: LocalChain, entry: dict[str, Any], code: str) -> dict[str, Any]:
    """Nothing at the key, no upload open, failure notices with one id naming ``code``; the failure."""
    assert entry["object_key"] not in chain.stored(), chain.log_tails()
    assert chain.uploading() == {}
    notices = copy_notices(chain)
    assert notices and {payload["type"] for _, payload in notices} == {"backup.copy_failed"}, chain.log_tails()
    assert len({webhook_id for webhook_id, _ in notices}) == 1
    failures = [payload["data"]["failure"] for _, payload in notices]
    assert {failure["code"] for failure in failures} == {code}, failures
    assert all(failure["message"] and failure["tried"] for failure in failures)
    return failures[-1]


def matrix_chain(**options: Any) -> Any:
    """A module's chain: one served topology per family, the quick settings on both functions."""
    @pytest.fixture(scope="module")
    def chain() -> Iterator[LocalChain]:
        with local_chain(config="default", export_delay=0.2, dispatch_env=QUICK, copy_env=QUICK,
                         **options) as running:
            yield running
    return chain


@pytest.fixture
def slate(chain: LocalChain) -> LocalChain:
    """The module's chain, reset before the case (``clean_slate``)."""
    clean_slate(chain)
    return chain
