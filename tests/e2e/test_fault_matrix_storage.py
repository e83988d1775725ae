"""Fault matrix, object storage: the copy function reaches the bucket through an S3 fault proxy
(``sandbox.s3faults``) that fails a part, the completion or the metadata copy once, answers
slowly, or refuses the upload for good (``NoSuchBucket``, ``AccessDenied``). Through the served
chain: a storage error that passes ends in the verified copy and one success notice; a refusal
ends with nothing at the key, no upload left open and a failure notice naming the store's answer
(one per delivery, one ``webhook-id``), the job then in the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.topology import LocalChain
from tests.e2e.matrix import slate  # noqa: F401  (a fixture the cases take)
from tests.e2e.matrix import assert_failed, assert_verified, matrix_chain, run_chain, wait_until


# a refused upload is delivered again (three tries in all) 4 s after each try
chain = matrix_chain(s3_faults=True, visibility_seconds=4)


PASSING = {
    "500-on-a-part": {"op": "upload_part", "status": 500, "code": "InternalError"},
    "503-slowdown-on-a-part": {"op": "upload_part", "status": 503, "code": "SlowDown"},
    "500-on-complete": {"op": "complete", "status": 500, "code": "InternalError"},
    "500-on-the-metadata-copy": {"op": "copy_object", "status": 500, "code": "InternalError"},
    "500-on-create": {"op": "create_multipart", "status": 500, "code": "InternalError"},
}


@pytest.mark.parametrize("fault", list(PASSING.values()), ids=list(PASSING))
def test_a_storage_error_that_passes_ends_in_the_verified_copy(slate: LocalChain, fault: dict[str, Any]) -> None:
    proxy = slate.s3_faults
    assert proxy is not None
    proxy.fail(fault["op"], status=fault["status"], code=fault["code"], times=1)

    entry = run_chain(slate)

    assert_verified(slate, entry)
    assert proxy.seen(fault["op"])[:2] == [fault["status"], 200]  # failed once, then sent again


def test_a_slow_store_ends_in_the_verified_copy(slate: LocalChain) -> None:
    proxy = slate.s3_faults
    assert proxy is not None
    proxy.slow("upload_part", 1.5)
    proxy.slow("complete", 1.5)

    entry = run_chain(slate)

    assert_verified(slate, entry)
    assert proxy.seen("upload_part") and set(proxy.seen("upload_part")) == {200}


# "said": what the failure notice's message must name (a part goes to a presigned URL: its status)
REFUSALS = {
    "no-such-bucket": {"op": "create_multipart", "status": 404, "code": "NoSuchBucket", "said": "NoSuchBucket"},
    "access-denied-on-create": {"op": "create_multipart", "status": 403, "code": "AccessDenied", "said": "AccessDenied"},
    "access-denied-on-a-part": {"op": "upload_part", "status": 403, "code": "AccessDenied", "said": "403"},
}


@pytest.mark.parametrize("fault", list(REFUSALS.values()), ids=list(REFUSALS))
def test_a_store_that_refuses_the_upload_leaves_nothing_and_says_so(slate: LocalChain, fault: dict[str, Any]) -> None:
    proxy = slate.s3_faults
    assert proxy is not None
    proxy.fail(fault["op"], status=fault["status"], code=fault["code"], times=None)

    entry = run_chain(slate)

    failure = assert_failed(slate, entry, "storage_error")
    assert fault["said"] in failure["message"]
    # a store's refusal may be mended (a bucket created, a policy fixed): each delivery tries, and
    # tells, again (one notice id); after the queue's last try the job waits in the dead-letter queue
    wait_until(lambda: slate.dead_letters() >= 1, 10, slate.log_tails)  # the trigger's last word on the job
    assert len(slate.notifications()) >= 2
    if fault["op"] == "upload_part":
        assert 204 in proxy.seen("abort")  # the uploads it had started were aborted
