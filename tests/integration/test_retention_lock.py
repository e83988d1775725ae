"""Retention that protects, against moto's S3 server: Object Lock on every published copy,
locked copies kept by pruning, a bucket without Object Lock said clearly, and KEEP_MIN."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from sandbox.api import SandboxServer
from shared.copying.pruning import preview_from_settings, preview_pruning
from shared.copying.run import run_job
from shared.dispatch.request import DispatchRequest
from shared.dispatch.run import run_dispatch
from shared.errors import ObjectLockNotEnabled
from shared.keys import copy_metadata, object_key
from shared.models import CopyJob
from shared.settings import DEFAULT_KEY_TEMPLATE
from shared.storage import ObjectStore
from tests.fixtures.copying import Bucket, fast_clients, job_for, make_settings, s3_client

LOCK = dict(object_lock_mode="GOVERNANCE", object_lock_days=2)


@pytest.fixture
def locked_bucket(moto_reset: str) -> Bucket:
    s3 = s3_client(moto_reset)
    name = f"locked-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "fr-par"},
                     ObjectLockEnabledForBucket=True)
    return Bucket(s3, name, moto_reset)


def nth_oldest(sandbox: SandboxServer, name: str, index: int) -> CopyJob:
    db = sandbox.state.database_named(name)
    chosen = sorted(sandbox.state.backups(db.id), key=lambda b: b.created_at)[index]
    key = object_key(DEFAULT_KEY_TEMPLATE, "", database_name=name, database_id=db.id, backup_id=chosen.id,
                     created_at=chosen.created_at)
    return job_for(sandbox, name, backup_id=chosen.id, backup_created_at=chosen.created_at, size=chosen.size,
                   db_size=chosen.db_size, object_key=key)


def versions(bucket: Bucket, key: str) -> list[str]:
    answer = bucket.s3.list_object_versions(Bucket=bucket.name, Prefix=key)
    return [v["VersionId"] for v in answer.get("Versions", []) + answer.get("DeleteMarkers", []) if v["Key"] == key]


def test_each_copy_is_published_with_its_retention_and_stored_once(copy_sandbox: SandboxServer,
                                                                   locked_bucket: Bucket):
    settings = make_settings(copy_sandbox, locked_bucket, **LOCK)
    job = job_for(copy_sandbox, "blog")
    before = datetime.now(timezone.utc)

    result = run_job(job, settings, clients=fast_clients(settings))

    assert result.outcome == "copied" and locked_bucket.sha256(job.object_key) == result.sha256
    head = locked_bucket.s3.head_object(Bucket=locked_bucket.name, Key=job.object_key)
    assert head["Metadata"]["sdb-sha256"] == result.sha256  # the published, verified version is the locked one
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert before + timedelta(days=2) - timedelta(seconds=5) <= until <= datetime.now(timezone.utc) + timedelta(days=2)
    (version,) = versions(locked_bucket, job.object_key)  # the unverified upload's version is gone
    with pytest.raises(ClientError) as refused:
        locked_bucket.s3.delete_object(Bucket=locked_bucket.name, Key=job.object_key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_pruning_keeps_locked_copies_as_kept_never_as_an_error(copy_sandbox: SandboxServer, locked_bucket: Bucket):
    # GIVEN an unlocked old copy (written before OBJECT_LOCK_MODE was set) and a locked one
    unlocked, locked, latest = (nth_oldest(copy_sandbox, "shop", i) for i in range(3))
    plain = make_settings(copy_sandbox, locked_bucket)
    assert run_job(unlocked, plain, clients=fast_clients(plain)).outcome == "copied"
    settings = make_settings(copy_sandbox, locked_bucket, keep_last=1, **LOCK)
    assert run_job(locked, make_settings(copy_sandbox, locked_bucket, **LOCK),
                   clients=fast_clients(settings)).outcome == "copied"

    # WHEN a new copy prunes with KEEP_LAST=1
    result = run_job(latest, settings, clients=fast_clients(settings))

    # THEN the unlocked copy is deleted (every version of it), the locked one kept, and no error
    assert result.outcome == "copied" and result.pruned == (unlocked.object_key,) and result.prune_errors == ()
    assert sorted(locked_bucket.objects()) == sorted([locked.object_key, latest.object_key])
    assert versions(locked_bucket, unlocked.object_key) == []
    plan = preview_pruning(ObjectStore.from_settings(settings), settings, database_name="shop",
                           database_id=latest.database_id, now=datetime.now(timezone.utc))
    assert plan.delete == ()
    assert {k.copy.key: k.reasons for k in plan.keep} == {latest.object_key: ("object_lock", "keep_min", "keep_last"),
                                                          locked.object_key: ("object_lock",)}


def test_a_bucket_without_object_lock_is_said_clearly(copy_sandbox: SandboxServer, bucket: Bucket):
    settings = make_settings(copy_sandbox, bucket, **LOCK)

    with pytest.raises(ObjectLockNotEnabled) as refused:
        run_dispatch(DispatchRequest(), settings=settings, requested_by="cron", inline_runner=lambda job: None)
    assert "OBJECT_LOCK_MODE" in refused.value.message and "created" in refused.value.message
    assert copy_sandbox.stats.snapshot()["exports"] == 0  # said before any export

    result = run_job(job_for(copy_sandbox, "blog"), settings, clients=fast_clients(settings))
    assert (result.outcome, result.error.code) == ("failed", "object_lock_not_enabled")
    assert "OBJECT_LOCK_MODE" in result.error.message and "created" in result.error.message
    assert bucket.objects() == [] and bucket.open_uploads() == []  # said before anything was uploaded


def put_old_copy(bucket: Bucket, sandbox: SandboxServer, days_old: int) -> str:
    """A verified copy as an earlier run left it: our metadata, its SHA-256, a backup ``days_old`` days old."""
    db = sandbox.state.database_named("shop")
    backup_id, created = str(uuid.uuid4()), datetime.now(timezone.utc) - timedelta(days=days_old)
    key = object_key(DEFAULT_KEY_TEMPLATE, "", database_name="shop", database_id=db.id, backup_id=backup_id,
                     created_at=created)
    body = f"backup of {days_old} days ago".encode()
    bucket.s3.put_object(Bucket=bucket.name, Key=key, Body=body, Metadata=copy_metadata(
        backup_id=backup_id, database_id=db.id, database_name="shop", created_at=created, size=len(body),
        db_size=None, sha256=hashlib.sha256(body).hexdigest()))
    return key


def test_keep_min_keeps_the_last_copies_while_exports_fail(copy_sandbox: SandboxServer, bucket: Bucket):
    # GIVEN shop's exports have failed for ten days: its copies are 10 to 13 days old
    old = {days: put_old_copy(bucket, copy_sandbox, days) for days in (10, 11, 12, 13)}
    settings = make_settings(copy_sandbox, bucket, keep_days=7, keep_min=3)
    shop_id = copy_sandbox.state.database_named("shop").id

    # THEN the preview (a dry run of pruning) keeps the three newest although KEEP_DAYS keeps none
    plan = preview_from_settings(settings, database_name="shop", database_id=shop_id)  # the CLI's call
    assert [c.key for c in plan.delete] == [old[13]]
    assert {k.copy.key: k.reasons for k in plan.keep} == {old[d]: ("keep_min",) for d in (10, 11, 12)}

    # WHEN exports still fail, a run copies and prunes nothing
    copy_sandbox.faults.set_error_rate("export_backup", 1.0, status=412)
    failing = run_dispatch(DispatchRequest(), settings=settings, requested_by="cron", inline_runner=lambda job: None)
    assert failing.summary == {"failed": 2} and sorted(bucket.objects()) == sorted(old.values())

    # WHEN an export finally works, the copy prunes, and still leaves KEEP_MIN copies
    copy_sandbox.faults.set_error_rate("export_backup", 0.0)
    job = job_for(copy_sandbox, "shop")
    result = run_job(job, settings, clients=fast_clients(settings))
    assert result.outcome == "copied" and sorted(result.pruned) == sorted([old[12], old[13]])
    assert sorted(bucket.objects()) == sorted([job.object_key, old[10], old[11]])
