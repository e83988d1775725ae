"""ObjectStore against moto in server mode: presigned part PUTs, publishing, listing, errors."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from shared.errors import StorageError
from shared.keys import copy_metadata
from shared.storage import ObjectStore
from tests.fixtures.copying import Bucket, s3_client

MiB = 1 << 20
META = copy_metadata(backup_id="11111111-1111-1111-1111-111111111111", database_id="22222222-2222-2222-2222-222222222222",
                     database_name="shop", created_at=None, size=21 * MiB, db_size=None)


def upload(store: ObjectStore, key: str, parts: list[bytes]) -> tuple[str, list[tuple[int, str]]]:
    upload_id = store.create_multipart(key, META)
    done = []
    with httpx.Client() as http:
        for number, body in enumerate(parts, start=1):
            resp = http.put(store.upload_part_url(key, upload_id, number), content=iter([body]),
                            headers={"Content-Length": str(len(body))})
            assert resp.status_code == 200
            done.append((number, resp.headers["etag"].strip('"')))
    return upload_id, done


def test_presigned_parts_complete_into_the_object(bucket: Bucket) -> None:
    store = ObjectStore(bucket.s3, bucket.name)
    parts = [b"a" * (16 * MiB), b"b" * (5 * MiB)]
    upload_id, done = upload(store, "shop/x.dump", parts)
    assert [e for _, e in done] == [hashlib.md5(p).hexdigest() for p in parts]
    assert store.list_parts("shop/x.dump", upload_id) == [(1, done[0][1], 16 * MiB), (2, done[1][1], 5 * MiB)]
    assert [u.key for u in store.list_open_uploads("shop/")] == ["shop/x.dump"]

    store.complete("shop/x.dump", upload_id, done)

    found = store.head("shop/x.dump")
    assert found is not None and found.size == 21 * MiB and found.metadata == META
    assert b"".join(store.iter_object("shop/x.dump")) == b"".join(parts)
    assert store.list_open_uploads("shop/") == []


def test_an_upload_gone_since_it_was_listed_was_written_just_now(bucket: Bucket) -> None:
    # another invocation completed it between our listing and our look at its parts: a live copy
    store = ObjectStore(bucket.s3, bucket.name)
    upload_id, done = upload(store, "shop/z.dump", [b"z" * MiB])
    (listed,) = store.list_open_uploads("shop/")
    store.complete("shop/z.dump", upload_id, done)

    written = store.last_written(listed)

    assert written is not None and written >= listed.initiated


def test_abort_leaves_no_upload(bucket: Bucket) -> None:
    store = ObjectStore(bucket.s3, bucket.name)
    upload_id, _ = upload(store, "shop/y.dump", [b"z" * MiB])
    store.abort("shop/y.dump", upload_id)
    assert store.list_open_uploads() == [] and store.head("shop/y.dump") is None


@pytest.mark.parametrize("copy_limit", [5 << 30, 8 * MiB])  # one CopyObject, or a multipart copy
def test_replace_metadata_keeps_the_bytes(bucket: Bucket, copy_limit: int) -> None:
    store = ObjectStore(bucket.s3, bucket.name, copy_limit=copy_limit, copy_part_size=1)
    body = hashlib.shake_128(b"x").digest(21 * MiB)
    _, done = upload(store, "shop/z.dump", [body[: 16 * MiB], body[16 * MiB:]])
    store.complete("shop/z.dump", _, done)
    etag = store.head("shop/z.dump").etag

    store.replace_metadata("shop/z.dump", {**META, "sdb-sha256": "f" * 64}, "STANDARD", len(body), if_match=etag)

    found = store.head("shop/z.dump")
    assert found.metadata["sdb-sha256"] == "f" * 64 and found.size == len(body)
    assert hashlib.sha256(b"".join(store.iter_object("shop/z.dump"))).digest() == hashlib.sha256(body).digest()
    assert store.list_open_uploads() == []


def test_replace_metadata_refuses_an_object_that_changed() -> None:
    """moto ignores x-amz-copy-source-if-match, so this runs against the sink, which honours it."""
    from sandbox.s3sink import S3Sink

    with S3Sink() as sink:
        s3 = s3_client(sink.url)
        s3.put_object(Bucket="b", Key="k", Body=b"new bytes", Metadata=META)
        store = ObjectStore(s3, "b")
        with pytest.raises(StorageError) as caught:
            store.replace_metadata("k", META, "STANDARD", 9, if_match="0" * 32)
        store.replace_metadata("k", {**META, "sdb-sha256": "e" * 64}, "STANDARD", 9,
                               if_match=store.head("k").etag)
        assert store.head("k").metadata["sdb-sha256"] == "e" * 64
    assert "PreconditionFailed" in caught.value.message


def test_list_copies_sees_only_our_objects(bucket: Bucket) -> None:
    store = ObjectStore(bucket.s3, bucket.name)
    bucket.s3.put_object(Bucket=bucket.name, Key="shop/a.dump", Body=b"1", Metadata=META)
    bucket.s3.put_object(Bucket=bucket.name, Key="shop/readme.txt", Body=b"2")
    bucket.s3.put_object(Bucket=bucket.name, Key="blog/b.dump", Body=b"3", Metadata=META)
    assert [c.key for c in store.list_copies("shop/")] == ["shop/a.dump"]
    store.delete("shop/a.dump")
    assert store.list_copies("shop/") == []


def test_errors_become_storage_errors(moto_reset: str) -> None:
    store = ObjectStore(s3_client(moto_reset), "no-such-bucket")
    with pytest.raises(StorageError) as caught:
        store.create_multipart("k", META)
    assert "NoSuchBucket" in caught.value.message
    dead = ObjectStore(s3_client("http://127.0.0.1:9", attempts=1), "b")
    with pytest.raises(StorageError):
        dead.list_copies("x")
