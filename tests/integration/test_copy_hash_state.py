"""A continuation carries the SHA-256's state: the next invocation hashes on from where it stopped
instead of reading every stored byte back (which, for a large backup, could outlast the function).

The S3 fault proxy in front of moto (``sandbox/s3faults.py``) tells which requests reached the store.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.s3faults import S3FaultProxy
from shared.copying import sha256state
from shared.copying.run import run_job
from shared.keys import META_SHA256
from tests.fixtures.copying import BIG, Bucket, fast_clients, job_for, make_settings, stop_after_one_part


@pytest.fixture
def proxy(bucket: Bucket) -> Iterator[S3FaultProxy]:
    with S3FaultProxy(upstream=bucket.endpoint) as running:
        yield running


def test_the_continuation_carries_the_hash_and_nothing_is_read_back(copy_sandbox: SandboxServer, bucket: Bucket,
                                                                    proxy: S3FaultProxy) -> None:
    if not sha256state.resumable():
        pytest.skip("this machine's OpenSSL has no SHA256_* functions: hashes cannot be written down")
    settings = make_settings(copy_sandbox, bucket, s3_endpoint_url=proxy.url)
    job = job_for(copy_sandbox)
    _, requeue = stop_after_one_part(job, settings)
    [follow_up] = requeue.jobs
    assert follow_up.continuation is not None and follow_up.continuation.sha256_state is not None
    proxy.reset()

    report = run_job(follow_up, settings, clients=fast_clients(settings))

    expected = blobs.sha256_hex(str(job.backup_id), BIG)
    assert (report.outcome, report.sha256, report.resumed_parts) == ("copied", expected, 1)
    assert bucket.sha256(job.object_key) == expected == bucket.metadata(job.object_key)[META_SHA256]
    assert proxy.seen("get") == []  # the stored part was never read back
    assert bucket.open_uploads() == []


@pytest.mark.parametrize("state", ["bytes", "garbage"])
def test_a_state_that_does_not_fit_the_parts_is_not_trusted(copy_sandbox: SandboxServer, bucket: Bucket,
                                                            proxy: S3FaultProxy, state: str) -> None:
    settings = make_settings(copy_sandbox, bucket, s3_endpoint_url=proxy.url)
    job = job_for(copy_sandbox)
    _, requeue = stop_after_one_part(job, settings)
    cont = requeue.jobs[0].continuation
    other = sha256state.ResumableSha256() if sha256state.resumable() else None
    if other is None:
        pytest.skip("this machine's OpenSSL has no SHA256_* functions: hashes cannot be written down")
    other.update(b"x" * 1000)  # a hash of 1,000 bytes, not of the stored part's
    forged = other.state() if state == "bytes" else "f" * 224
    proxy.reset()

    report = run_job(requeue.jobs[0].model_copy(update={"continuation": cont.model_copy(
        update={"sha256_state": forged})}), settings, clients=fast_clients(settings))

    expected = blobs.sha256_hex(str(job.backup_id), BIG)
    assert (report.outcome, report.sha256) == ("copied", expected)  # read back instead
    assert bucket.metadata(job.object_key)[META_SHA256] == expected
    assert proxy.seen("get") != []
