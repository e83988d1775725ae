"""The copy under faults: refused links, cut and lying downloads, a dying object store, the wire."""

from __future__ import annotations

from shared.copying.run import run_job
from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.s3sink import S3Sink
from shared.storage import ObjectStore
from tests.fixtures.copying import BIG, Bucket, fast_clients, job_for, make_settings, notify_to, s3_client, status

NO_CUT = 1 << 40  # a "cut" after more bytes than any part holds lets that download through whole


def test_a_refused_link_is_exported_again_and_the_copy_carries_on(copy_sandbox: SandboxServer,
                                                                  bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox)
    copy_sandbox.faults.cut_downloads(NO_CUT, count=3)  # the probe, part 1, part 2 pass...
    copy_sandbox.faults.forbid_downloads(count=1)  # ...part 3 gets a 403
    exports_before = copy_sandbox.stats.snapshot()["exports"]

    report = run_job(job, settings, clients=fast_clients(settings))

    assert report.outcome == "copied"
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG)
    assert copy_sandbox.stats.snapshot()["exports"] >= exports_before + 2  # the first link and a new one


def test_a_cut_download_is_fetched_again(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox)
    copy_sandbox.faults.cut_downloads(NO_CUT, count=2)  # the probe and part 1 pass
    copy_sandbox.faults.cut_downloads(5 * (1 << 20), count=2)  # part 2 is cut twice

    report = run_job(job, settings, clients=fast_clients(settings))

    assert report.outcome == "copied"
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG) == report.sha256


def test_a_wrong_content_length_is_fetched_again(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    copy_sandbox.faults.cut_downloads(NO_CUT, count=2)  # the probe and part 1 pass
    copy_sandbox.faults.wrong_length_downloads(count=1)  # part 2 declares more than it sends

    job = job_for(copy_sandbox)
    report = run_job(job, settings, clients=fast_clients(settings))

    assert report.outcome == "copied"
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG) and bucket.open_uploads() == []


def test_a_content_length_wrong_every_time_fails_for_now_and_leaves_nothing(copy_sandbox: SandboxServer,
                                                                            bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    copy_sandbox.faults.cut_downloads(NO_CUT, count=2)
    copy_sandbox.faults.wrong_length_downloads(count=20)

    job = job_for(copy_sandbox)
    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, job), report.error.code) == ("failed", 503, "download_failed")
    assert bucket.objects() == [] and bucket.open_uploads() == []


def test_a_link_of_the_wrong_size_is_refused_before_uploading(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    copy_sandbox.faults.other_size_downloads(count=1)  # the probe's answer names a longer object

    job = job_for(copy_sandbox, "blog")
    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, job), report.error.code) == ("failed", 200, "integrity_check_failed")
    assert bucket.objects() == [] and bucket.open_uploads() == []


def test_a_redirect_is_a_permanent_failure_with_its_own_code(copy_sandbox: SandboxServer, bucket: Bucket,
                                                             webhook_sink) -> None:
    settings = make_settings(copy_sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    copy_sandbox.faults.redirect_downloads(f"{webhook_sink.url}/elsewhere", count=5)

    job = job_for(copy_sandbox, "blog")
    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, job), report.error.code) == ("failed", 200, "download_redirected")
    [notice] = webhook_sink.wait_for(1)
    assert notice.json()["data"]["failure"]["code"] == "download_redirected"
    assert [r.method for r in webhook_sink.requests] == ["POST"]  # the redirect was never followed
    assert bucket.objects() == [] and bucket.open_uploads() == []


class DyingStore(ObjectStore):
    """The object store's part endpoint dies from part 2 on (connection refused)."""

    def upload_part_url(self, key: str, upload_id: str, part_number: int, expires: int = 3600) -> str:
        if part_number >= 2:
            return "http://127.0.0.1:9/bucket/key?partNumber=2&X-Amz-Signature=x"
        return super().upload_part_url(key, upload_id, part_number, expires)


def test_an_object_store_that_dies_mid_upload_leaves_nothing(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    store = DyingStore(s3_client(bucket.endpoint), bucket.name)

    job = job_for(copy_sandbox)
    report = run_job(job, settings, clients=fast_clients(settings, store))

    assert (report.outcome, status(report, job), report.error.code) == ("failed", 503, "storage_error")
    assert bucket.objects() == [] and bucket.open_uploads() == []


def test_no_request_carries_aws_chunked_or_a_trailer(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    """moto accepts aws-chunked bodies, so the wire is read from the recording sink instead."""
    with S3Sink() as sink:
        settings = make_settings(copy_sandbox, bucket, s3_endpoint_url=sink.url, keep_last=1,
                                 backup_storage_class="GLACIER")
        sink_s3 = s3_client(sink.url)
        sink_s3.create_bucket(Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": "fr-par"})
        job = job_for(copy_sandbox)

        report = run_job(job, settings, clients=fast_clients(settings))

        requests = list(sink.state.requests)
    assert report.outcome == "copied"
    assert len(requests) >= 8  # create, 3 parts, complete, head, copy, list, head...
    for method, path, headers in requests:
        assert "x-amz-trailer" not in headers, (method, path)
        assert "aws-chunked" not in headers.get("content-encoding", ""), (method, path)
        assert "chunked" not in headers.get("transfer-encoding", ""), (method, path)
        assert not any(name.startswith("x-amz-checksum") for name in headers), (method, path)
    part_puts = [h for m, path, h in requests if m == "PUT" and "partNumber" in path]
    assert sorted(int(h["content-length"]) for h in part_puts) == sorted([16 << 20, 16 << 20, BIG - (32 << 20)])
