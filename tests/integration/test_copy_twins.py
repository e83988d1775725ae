"""The same continuation delivered twice (a queue delivers at least once; an invocation that
overruns its visibility timeout is delivered again while it still runs): the twin never aborts
the upload the other delivery is writing, and a transient listing error aborts nothing."""

from __future__ import annotations

from typing import Iterator

import pytest

from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.s3faults import S3FaultProxy
from shared.copying.run import run_job
from shared.storage import ObjectStore, s3_config
from tests.fixtures.copying import (BIG, LATER, Bucket, fast_clients, job_for, make_settings, s3_client, status,
                                    stop_after_one_part)


@pytest.fixture
def proxy(bucket: Bucket) -> Iterator[S3FaultProxy]:
    with S3FaultProxy(upstream=bucket.endpoint) as running:
        yield running


def two_parts_stored(sandbox: SandboxServer, bucket: Bucket):
    """A first delivery stored part 1 and handed over; its continuation's delivery stored part 2
    and handed over again. Returns the job of the first continuation (one part) and the settings."""
    settings = make_settings(sandbox, bucket)
    _, requeue = stop_after_one_part(job_for(sandbox), settings)
    first_continuation = requeue.jobs[0]
    _, again = stop_after_one_part(first_continuation, settings)
    assert len(again.jobs[0].continuation.parts) == 2
    return first_continuation, settings


def test_a_twin_of_a_continuation_leaves_the_live_upload_alone(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    twin, settings = two_parts_stored(copy_sandbox, bucket)
    stored = bucket.parts(twin.object_key)

    report = run_job(twin, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, twin)) == ("in_progress", 503)
    assert bucket.parts(twin.object_key) == stored and len(stored) == 2  # nothing aborted, nothing added


def test_a_twin_that_comes_after_the_other_died_goes_on_from_every_stored_part(copy_sandbox: SandboxServer,
                                                                               bucket: Bucket) -> None:
    twin, settings = two_parts_stored(copy_sandbox, bucket)

    report = run_job(twin, settings, clients=fast_clients(settings), clock=LATER)

    expected = blobs.sha256_hex(str(twin.backup_id), BIG)
    assert (report.outcome, report.resumed_parts, report.sha256) == ("copied", 2, expected)
    assert bucket.sha256(twin.object_key) == expected and bucket.open_uploads() == []


def test_a_continuation_whose_upload_is_gone_starts_again(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    _, requeue = stop_after_one_part(job_for(copy_sandbox), settings)
    job = requeue.jobs[0]
    bucket.s3.abort_multipart_upload(Bucket=bucket.name, Key=job.object_key, UploadId=job.continuation.upload_id)

    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, report.resumed_parts) == ("copied", None)  # from byte 0
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG)
    assert bucket.open_uploads() == []


def test_a_listing_that_fails_aborts_nothing_and_the_redelivery_resumes(copy_sandbox: SandboxServer, bucket: Bucket,
                                                                        proxy: S3FaultProxy) -> None:
    settings = make_settings(copy_sandbox, bucket)
    _, requeue = stop_after_one_part(job_for(copy_sandbox), settings)
    job = requeue.jobs[0]
    stored = bucket.parts(job.object_key)
    proxied = make_settings(copy_sandbox, bucket, s3_endpoint_url=proxy.url)
    store = ObjectStore(s3_client(proxy.url, attempts=1), bucket.name)
    proxy.fail("list_parts", status=500, times=None)

    failed = run_job(job, proxied, clients=fast_clients(proxied, store))

    assert (failed.outcome, failed.error.code, status(failed, job)) == ("failed", "storage_error", 503)
    assert bucket.parts(job.object_key) == stored  # the upload is still there, untouched
    proxy.reset()
    report = run_job(job, settings, clients=fast_clients(settings))
    assert (report.outcome, report.resumed_parts) == ("copied", 1)
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG)
