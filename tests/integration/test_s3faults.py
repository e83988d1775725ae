"""The fault proxy in front of moto: transparent when told nothing, failing exactly where told."""

from __future__ import annotations

from typing import Iterator

import pytest

from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.s3faults import S3FaultProxy, operation
from shared.copying.run import run_job
from tests.fixtures.copying import BIG, Bucket, fast_clients, job_for, make_settings


@pytest.fixture
def proxy(bucket: Bucket) -> Iterator[S3FaultProxy]:
    with S3FaultProxy(upstream=bucket.endpoint) as running:
        yield running


@pytest.mark.parametrize(("method", "path", "query", "headers", "op"), [
    ("POST", "/b/k", "uploads", {}, "create_multipart"),
    ("PUT", "/b/k", "partNumber=2&uploadId=u", {}, "upload_part"),
    ("PUT", "/b/k", "partNumber=2&uploadId=u", {"x-amz-copy-source": "b/k"}, "upload_part_copy"),
    ("POST", "/b/k", "uploadId=u", {}, "complete"),
    ("DELETE", "/b/k", "uploadId=u", {}, "abort"),
    ("GET", "/b/k", "uploadId=u", {}, "list_parts"),
    ("GET", "/b", "uploads&prefix=k", {}, "list_uploads"),
    ("PUT", "/b/k", "", {"x-amz-copy-source": "b/k"}, "copy_object"),
    ("PUT", "/b/k", "", {}, "put_object"),
    ("HEAD", "/b/k", "", {}, "head"),
    ("GET", "/b/k", "", {}, "get"),
    ("GET", "/b", "list-type=2&prefix=k", {}, "list_objects"),
    ("DELETE", "/b/k", "", {}, "delete"),
])
def test_operations_are_told_apart_as_s3_does(method, path, query, headers, op) -> None:
    from urllib.parse import parse_qs

    assert operation(method, path, parse_qs(query, keep_blank_values=True), headers) == op


def test_without_rules_the_proxy_is_transparent(copy_sandbox: SandboxServer, bucket: Bucket,
                                                proxy: S3FaultProxy) -> None:
    settings = make_settings(copy_sandbox, bucket, s3_endpoint_url=proxy.url)
    job = job_for(copy_sandbox)

    result = run_job(job, settings, clients=fast_clients(settings))

    assert result.outcome == "copied"
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG)
    assert proxy.seen("upload_part") == [200, 200, 200] and proxy.seen("complete") == [200]


def test_a_rule_fails_exactly_the_requests_it_names(copy_sandbox: SandboxServer, bucket: Bucket,
                                                    proxy: S3FaultProxy) -> None:
    settings = make_settings(copy_sandbox, bucket, s3_endpoint_url=proxy.url)
    job = job_for(copy_sandbox)
    proxy.fail("upload_part", status=500, skip=1, times=1)  # the second part, once

    result = run_job(job, settings, clients=fast_clients(settings))

    assert result.outcome == "copied"  # a part that failed once is sent again
    assert proxy.seen("upload_part") == [200, 500, 200, 200]
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG)


def test_a_refused_upload_leaves_nothing(copy_sandbox: SandboxServer, bucket: Bucket, proxy: S3FaultProxy) -> None:
    settings = make_settings(copy_sandbox, bucket, s3_endpoint_url=proxy.url)
    proxy.fail("create_multipart", status=404, code="NoSuchBucket", times=None)

    result = run_job(job_for(copy_sandbox), settings, clients=fast_clients(settings))

    assert (result.outcome, result.error.code) == ("failed", "storage_error")
    assert "NoSuchBucket" in result.error.message
    assert bucket.objects() == [] and bucket.open_uploads() == []
