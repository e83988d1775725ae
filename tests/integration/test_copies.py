"""Our copies in a real S3 server (moto): listing per database, verifying by reading back,
downloading (fresh, resumed, refused), against copies made by the copy use case."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sandbox import blobs
from sandbox.api import SandboxServer
from shared.copies import DatabaseFilter, download_copy, list_copies, verify_key
from shared.copying.run import run_job
from shared.errors import DestinationExists, IntegrityError
from shared.settings import DEFAULT_KEY_TEMPLATE
from shared.storage import ObjectStore
from tests.fixtures.copying import Bucket, fast_clients, job_for, make_settings


@pytest.fixture
def sandbox(sandbox_factory) -> SandboxServer:
    """The default sandbox, its export links ready at once (no waiting in the copies)."""
    return sandbox_factory(export_delay_seconds=0.0)


@pytest.fixture
def copied(sandbox: SandboxServer, bucket: Bucket) -> dict[str, str]:
    """Database name -> key of a verified copy of its latest backup (shop, blog)."""
    settings = make_settings(sandbox, bucket)
    keys = {}
    for name in ("shop", "blog"):
        job = job_for(sandbox, name)
        sandbox.state.export(str(job.backup_id))  # its link is there when the copy asks: no waiting
        assert run_job(job, settings, clients=fast_clients(settings)).outcome == "copied"
        keys[name] = job.object_key
    return keys


@pytest.fixture
def store(sandbox: SandboxServer, bucket: Bucket) -> ObjectStore:
    return ObjectStore.from_settings(make_settings(sandbox, bucket))


def source_bytes(sandbox: SandboxServer, name: str) -> bytes:
    backup = sandbox.state.latest_backup(sandbox.state.database_named(name).id)
    return blobs.read(backup.id, backup.size)


def test_lists_our_copies_per_database_by_name_or_id(sandbox, bucket, copied, store):
    bucket.s3.put_object(Bucket=bucket.name, Key="shop/notes.txt", Body=b"not a copy")
    shop = sandbox.state.database_named("shop")

    everything = list_copies(store, template=DEFAULT_KEY_TEMPLATE, prefix="")
    by_name = list_copies(store, template=DEFAULT_KEY_TEMPLATE, prefix="", databases=DatabaseFilter.from_values(["shop"]))
    by_id = list_copies(store, template=DEFAULT_KEY_TEMPLATE, prefix="",
                        databases=DatabaseFilter.from_values([shop.id.upper()]))

    assert [c.key for c in everything] == [copied["blog"], copied["shop"]]  # by database name
    assert [c.key for c in by_name] == [c.key for c in by_id] == [copied["shop"]]
    [copy] = by_id
    assert copy.verified and copy.database_id == shop.id and copy.size == len(source_bytes(sandbox, "shop"))
    assert copy.sha256 == hashlib.sha256(source_bytes(sandbox, "shop")).hexdigest()
    assert copy.to_dict()["retention_lock"] is None and copy.to_dict()["backup_created_at"].endswith("+00:00")


def test_a_retention_lock_is_listed(sandbox, moto_reset):
    from datetime import datetime, timedelta, timezone

    from tests.fixtures.copying import s3_client

    s3 = s3_client(moto_reset)
    s3.create_bucket(Bucket="locked-copies", ObjectLockEnabledForBucket=True,
                     CreateBucketConfiguration={"LocationConstraint": "fr-par"})
    bucket = Bucket(s3, "locked-copies", moto_reset)
    settings = make_settings(sandbox, bucket)
    job = job_for(sandbox, "shop")
    run_job(job, settings, clients=fast_clients(settings))
    until = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    s3.put_object_retention(Bucket=bucket.name, Key=job.object_key,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})

    [copy] = list_copies(ObjectStore.from_settings(settings), template=DEFAULT_KEY_TEMPLATE, prefix="")

    assert copy.to_dict()["retention_lock"] == {"mode": "GOVERNANCE", "retain_until": until.isoformat(),
                                                "legal_hold": False}


def test_verify_reads_back_and_names_what_is_wrong(sandbox, bucket, copied, store):
    meta = bucket.metadata(copied["shop"])
    good = source_bytes(sandbox, "shop")
    flipped = bytes([good[0] ^ 1]) + good[1:]
    bucket.s3.put_object(Bucket=bucket.name, Key="x/flipped.dump", Body=flipped, Metadata=meta)
    bucket.s3.put_object(Bucket=bucket.name, Key="x/short.dump", Body=good[:-1], Metadata=meta)
    bucket.s3.put_object(Bucket=bucket.name, Key="x/foreign.dump", Body=good)
    unverified = {k: v for k, v in meta.items() if k != "sdb-sha256"}
    bucket.s3.put_object(Bucket=bucket.name, Key="x/unverified.dump", Body=good, Metadata=unverified)
    seen: list[bytes] = []

    ok = verify_key(store, copied["shop"], tee=seen.append)
    problems = {key: verify_key(store, f"x/{key}.dump").problem
                for key in ("flipped", "short", "foreign", "unverified", "missing")}

    assert ok.ok and ok.sha256 == ok.expected_sha256 and b"".join(seen) == good
    assert problems == {"flipped": "checksum_mismatch", "short": "size_mismatch", "foreign": "not_a_copy",
                        "unverified": "unverified", "missing": "not_found"}


def test_download_writes_the_copy_and_accepts_it_again(sandbox, copied, store, tmp_path: Path):
    target = tmp_path / "shop.dump"
    progress: list[tuple[int, int]] = []

    first = download_copy(store, copied["shop"], target, progress=lambda done, total: progress.append((done, total)))
    again = download_copy(store, copied["shop"], target)

    assert target.read_bytes() == source_bytes(sandbox, "shop")
    assert (first.resumed_from, first.already_there, again.already_there) == (0, False, True)
    assert progress[-1] == (first.size, first.size) and not (tmp_path / "shop.dump.part").exists()


def test_download_resumes_a_partial_file(sandbox, copied, store, tmp_path: Path):
    good = source_bytes(sandbox, "blog")
    target = tmp_path / "blog.dump"
    (tmp_path / "blog.dump.part").write_bytes(good[: 1 << 20])

    done = download_copy(store, copied["blog"], target)

    assert done.resumed_from == 1 << 20 and target.read_bytes() == good


def test_a_partial_file_of_something_else_is_fetched_again(sandbox, copied, store, tmp_path: Path):
    good = source_bytes(sandbox, "blog")
    target = tmp_path / "blog.dump"
    (tmp_path / "blog.dump.part").write_bytes(b"\0" * 1000)

    done = download_copy(store, copied["blog"], target)

    assert done.resumed_from == 0 and target.read_bytes() == good


def test_download_never_overwrites_nor_keeps_bad_bytes(sandbox, bucket, copied, store, tmp_path: Path):
    other = tmp_path / "other.dump"
    other.write_bytes(b"precious")
    good = source_bytes(sandbox, "shop")
    bucket.s3.put_object(Bucket=bucket.name, Key="x/flipped.dump", Body=bytes([good[0] ^ 1]) + good[1:],
                         Metadata=bucket.metadata(copied["shop"]))

    with pytest.raises(DestinationExists):
        download_copy(store, copied["shop"], other)
    with pytest.raises(IntegrityError):
        download_copy(store, "x/flipped.dump", tmp_path / "flipped.dump")

    assert other.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.dump"]
