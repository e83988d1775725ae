"""The copy against SeaweedFS, an S3 server that keeps the bytes, checks signatures and computes ETags.

What the copy relies on, each exercised here on a real SeaweedFS: multipart uploads with
presigned part PUTs (part ETag = MD5), ListParts and ListMultipartUploads, CompleteMultipartUpload
(S3's multipart ETag), CopyObject onto itself with metadata REPLACE and CopySourceIfMatch, and
UploadPartCopy (the stamp of an object above the single-copy limit).

Where SeaweedFS 4.48 answers differently from S3 (nothing here relies on it): a CopyObject of
an object onto itself keeps its ETag (S3 gives it a new one), and UploadPartCopy answers a
part ETag that is not the MD5 of the copied range, so an object stamped part by part does not
get S3's multipart ETag. It refuses parts under 5 MiB but the last, as S3 does.
"""

from __future__ import annotations

import hashlib

import pytest

from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.seaweed import SeaweedS3
from shared.copying.engine import Progress, Transfer, transfer_clients
from shared.parts import iter_parts, multipart_etag, part_size_for
from shared.copying.run import run_job
from shared.errors import StorageError
from shared.keys import META_SHA256, copy_metadata
from shared.storage import ObjectStore
from tests.fixtures.copying import BIG, MiB, Bucket, fast_clients, job_for, make_settings


@pytest.fixture
def bucket(seaweed_server: SeaweedS3, seaweed_bucket: str) -> Bucket:
    return Bucket(seaweed_server.client(), seaweed_bucket, seaweed_server.endpoint)


def source_etag(backup_id: str, size: int) -> str:
    """The multipart ETag an S3 server must compute for this backup, from the source's bytes."""
    md5s = []
    for part in iter_parts(size, part_size_for(size)):
        digest = hashlib.md5()
        for piece in blobs.iter_bytes(backup_id, size, part.start, part.start + part.length):
            digest.update(piece)
        md5s.append(digest.hexdigest())
    return multipart_etag(md5s)


def test_engine_and_store_write_a_multipart_object_byte_for_byte(copy_sandbox: SandboxServer,
                                                                 bucket: Bucket) -> None:
    # GIVEN a three-part backup's download link and a multipart upload on SeaweedFS
    backup = copy_sandbox.state.latest_backup(copy_sandbox.state.database_named("shop").id)
    link = copy_sandbox.link_for(backup, copy_sandbox.state.export(backup.id))
    store, key = ObjectStore(bucket.s3, bucket.name), "shop/engine.dump"
    upload_id = store.create_multipart(key, {"sdb-backup-id": backup.id})
    progress = Progress(BIG, part_size_for(BIG), sha256=hashlib.sha256())
    download, upload = transfer_clients()

    # WHEN the engine streams every part
    try:
        done = Transfer(download, upload).run(link, progress, lambda n: store.upload_part_url(key, upload_id, n))
    finally:
        download.close()
        upload.close()

    # THEN SeaweedFS lists the open upload and its parts, and completes it with S3's ETag
    assert done and [u.upload_id for u in store.list_open_uploads("shop/")] == [upload_id]
    assert store.list_parts(key, upload_id) == [(p.part_number, p.etag, p.size) for p in progress.parts]
    assert store.last_written(store.list_open_uploads("shop/")[0]) is not None
    etag = store.complete(key, upload_id, [(p.part_number, p.etag) for p in progress.parts])
    expected_sha = blobs.sha256_hex(backup.id, BIG)
    assert etag == source_etag(backup.id, BIG) == store.head(key).etag
    assert bucket.sha256(key) == progress.sha256.hexdigest() == expected_sha
    assert store.list_open_uploads() == []


@pytest.mark.parametrize("copy_limit", [5 << 30, 8 * MiB])  # stamped by one CopyObject, or by UploadPartCopy
def test_the_copy_publishes_a_verified_copy(copy_sandbox: SandboxServer, bucket: Bucket, copy_limit: int) -> None:
    settings = make_settings(copy_sandbox, bucket, backup_storage_class="GLACIER")
    job = job_for(copy_sandbox)
    store = ObjectStore(bucket.s3, bucket.name, copy_limit=copy_limit, copy_part_size=1)

    report = run_job(job, settings, clients=fast_clients(settings, store))

    expected = blobs.sha256_hex(str(job.backup_id), BIG)
    found = store.head(job.object_key)
    assert (report.outcome, report.parts, report.sha256) == ("copied", 3, expected)
    assert bucket.sha256(job.object_key) == expected
    assert found is not None and found.metadata[META_SHA256] == expected and found.storage_class == "GLACIER"
    assert found.size == BIG and bucket.open_uploads() == []


@pytest.mark.parametrize("copy_limit", [5 << 30, 8 * MiB])
def test_the_stamp_refuses_an_object_that_changed(bucket: Bucket, copy_limit: int) -> None:
    meta = copy_metadata(backup_id="11111111-1111-1111-1111-111111111111",
                         database_id="22222222-2222-2222-2222-222222222222", database_name="shop",
                         created_at=None, size=10 * MiB, db_size=None)
    body = hashlib.shake_128(b"changed").digest(10 * MiB)
    bucket.s3.put_object(Bucket=bucket.name, Key="k", Body=body, Metadata=meta)
    store = ObjectStore(bucket.s3, bucket.name, copy_limit=copy_limit, copy_part_size=1)

    with pytest.raises(StorageError) as caught:
        store.replace_metadata("k", {**meta, META_SHA256: "e" * 64}, "STANDARD", len(body), if_match="0" * 32)

    assert "PreconditionFailed" in caught.value.message
    assert META_SHA256 not in store.head("k").metadata and store.list_open_uploads() == []
    assert hashlib.sha256(b"".join(store.iter_object("k"))).digest() == hashlib.sha256(body).digest()
