"""``status``, ``run`` and ``prune`` against the sandbox API and moto's S3 server: their output, exit
status and effects (a stale database reported, real copies in the bucket, real deletions)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import datetime, timedelta, timezone

from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.processes import free_port
from shared.copying.run import run_job
from shared.keys import copy_metadata, object_key
from shared.settings import DEFAULT_KEY_TEMPLATE
from tests.fixtures.cli import cli_settings, invoke
from tests.fixtures.cli import env, sandbox  # noqa: F401  (fixtures)
from tests.fixtures.copying import Bucket, fast_clients, job_for, make_settings, s3_client


def copy_backup(sandbox: SandboxServer, bucket: Bucket, name: str, days_ago: int = 0) -> str:
    """A verified copy, made by the copy use case, of ``name``'s backup of ``days_ago`` days before its latest."""
    db = sandbox.state.database_named(name)
    backup = sorted(sandbox.state.backups(db.id), key=lambda b: b.created_at, reverse=True)[days_ago]
    key = object_key(DEFAULT_KEY_TEMPLATE, "", database_name=name, database_id=db.id, backup_id=backup.id,
                     created_at=backup.created_at)
    job = job_for(sandbox, name, backup_id=backup.id, backup_created_at=backup.created_at, size=backup.size,
                  db_size=backup.db_size, object_key=key)
    sandbox.state.export(str(backup.id))
    settings = make_settings(sandbox, bucket)
    assert run_job(job, settings, clients=fast_clients(settings)).outcome == "copied"
    return key


# --- status -----------------------------------------------------------------------------------


def test_status_says_which_database_is_stale_and_exits_1(sandbox, env, bucket):
    # GIVEN blog's latest backup copied, shop's newest copy three days old, staging without backups
    copy_backup(sandbox, bucket, "blog")
    old = copy_backup(sandbox, bucket, "shop", days_ago=3)

    result = invoke(env, "status", "--json")
    shown = invoke(env, "status")

    assert result.code == shown.code == 1, result.stderr
    rows = {r["database_name"]: r for r in result.json()["databases"]}
    assert result.json()["stale"] == ["shop"] and "shop" in result.stderr and "[stale]" in result.stderr
    shop, blog = rows["shop"], rows["blog"]
    assert (shop["stale"], blog["stale"], rows["staging"]["stale"]) == (True, False, False)
    assert shop["last_copy"]["backup_id"] in old and shop["age_hours"] > 72
    latest = sandbox.state.latest_backup(sandbox.state.database_named("shop").id)
    assert shop["latest_backup"] == {"backup_id": latest.id, "created_at": latest.created_at.isoformat(),
                                     "size": latest.size}
    assert blog["last_copy"]["backup_id"] == rows["blog"]["latest_backup"]["backup_id"]
    assert rows["staging"]["latest_backup"] is None and rows["staging"]["watching_since"] is not None
    line = next(line for line in shown.stdout.splitlines() if line.startswith("shop"))
    assert "STALE" in line and "1 stale of" in shown.stdout and "no ready backup" in shown.stdout


def test_status_by_name_and_id_of_fresh_databases_exits_0(sandbox, env, bucket):
    copy_backup(sandbox, bucket, "blog")
    blog = sandbox.state.database_named("blog")

    by_id = invoke(env, "status", "-d", blog.id, "--json")
    by_name = invoke(env, "status", "-d", "blog")

    assert by_id.code == 0, by_id.stderr
    [row] = by_id.json()["databases"]
    assert (row["database_name"], row["stale"], by_id.json()["not_found"]) == ("blog", False, [])
    assert by_name.code == 0 and "fresh" in by_name.stdout and "(the latest)" in by_name.stdout


def test_status_of_an_unknown_database_is_not_found(env):
    result = invoke(env, "status", "-d", "nope", "--json")
    assert result.code == 1 and result.json()["not_found"] == ["nope"] and "[not_found]" in result.stderr


def test_status_without_the_bucket_is_a_setting_and_exit_2(sandbox, env):
    result = invoke({**env, "BACKUP_BUCKET": "no-such-bucket"}, "status")
    assert result.code == 2 and "BACKUP_BUCKET" in result.stderr and result.stderr.count("\n") == 1


def test_status_with_an_unreachable_api_tries_three_times_saying_so(env):
    dead = f"http://127.0.0.1:{free_port()}"

    result = invoke({**env, "SCALEWAY_API_URL": dead}, "status")

    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert result.code == 1 and notes and notes[-1].endswith("attempt 3 of at most 3")
    assert "[scaleway_unavailable]" in result.stderr.splitlines()[-1] and dead in result.stderr


# --- run --------------------------------------------------------------------------------------


def test_run_dry_run_plans_and_exports_nothing(sandbox, env, bucket):
    result = invoke(env, "run", "--dry-run", "-d", "shop", "-d", "blog", "--json")

    assert result.code == 0, result.stderr
    statuses = {d["database_name"]: d["status"] for d in result.json()["databases"]}
    assert statuses == {"shop": "would_copy", "blog": "would_copy"} and result.json()["dry_run"] is True
    assert sandbox.stats.snapshot()["exports"] == 0 and bucket.keys() == []


def test_run_copies_inline_and_shows_the_verified_sha256(sandbox, env, bucket):
    backup = sandbox.state.latest_backup(sandbox.state.database_named("blog").id)

    first = invoke(env, "run", "-d", "blog", "--json")
    again = invoke(env, "run", "-d", "blog")

    assert first.code == 0, first.stderr
    [row] = first.json()["databases"]
    expected = blobs.sha256_hex(backup.id, backup.size)
    assert (row["status"], row["copy"]["outcome"], row["copy"]["sha256"]) == ("handed_off", "copied", expected)
    assert bucket.sha256(row["object_key"]) == expected and bucket.objects() == [row["object_key"]]
    assert "copying blog" in first.stderr
    assert again.code == 0 and "already_copied" in again.stdout and sandbox.stats.snapshot()["exports"] == 1


def test_run_with_a_failed_copy_exits_1_and_says_why(sandbox, env, bucket):
    result = invoke({**env, "DOWNLOAD_HOST_ALLOWLIST": "downloads.example.com"}, "run", "-d", "shop", "--json")

    assert result.code == 1, result.stderr
    [row] = result.json()["databases"]
    assert (row["status"], row["error"]["code"]) == ("failed", "download_host_not_allowed")
    assert row["copy"]["outcome"] == "failed" and bucket.objects() == [] and bucket.open_uploads() == []


def test_run_checks_the_bucket_before_exporting(sandbox, env):
    result = invoke({**env, "BACKUP_BUCKET": "no-such-bucket"}, "run", "-d", "shop")
    assert result.code == 2 and "BACKUP_BUCKET" in result.stderr and sandbox.stats.snapshot()["exports"] == 0


def test_dispatch_is_a_hidden_name_of_run(env):
    result = invoke(env, "dispatch", "--dry-run", "-d", "nope", "--json")
    assert result.code == 1 and [d["status"] for d in result.json()["databases"]] == ["not_found"]
    assert "dispatch" not in invoke(env, "--help").stdout


# --- prune ------------------------------------------------------------------------------------


def put_copy(bucket: Bucket, sandbox: SandboxServer, name: str, days_old: int, **lock: object) -> str:
    """A verified copy as an earlier run left it, of a backup ``days_old`` days old."""
    db = sandbox.state.database_named(name)
    backup_id, created = str(uuid.uuid4()), datetime.now(timezone.utc) - timedelta(days=days_old, hours=1)
    key = object_key(DEFAULT_KEY_TEMPLATE, "", database_name=name, database_id=db.id, backup_id=backup_id,
                     created_at=created)
    body = f"{name}, {days_old} days ago".encode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()  # S3 wants it with a retention
    bucket.s3.put_object(Bucket=bucket.name, Key=key, Body=body, ContentMD5=md5, **lock, Metadata=copy_metadata(
        backup_id=backup_id, database_id=db.id, database_name=name, created_at=created, size=len(body),
        db_size=None, sha256=hashlib.sha256(body).hexdigest()))
    return key


def test_prune_dry_run_says_what_goes_and_why_the_rest_stays_then_prune_deletes_it(sandbox, env, bucket):
    shop = [put_copy(bucket, sandbox, "shop", days) for days in (0, 1, 2, 3)]
    blog = [put_copy(bucket, sandbox, "blog", days) for days in (0, 5)]
    rules = {**env, "KEEP_LAST": "2"}

    preview = invoke(rules, "prune", "--dry-run", "--json")
    shown = invoke(rules, "prune", "--dry-run", "-d", "shop")
    assert sorted(bucket.objects()) == sorted(shop + blog)  # the dry runs deleted nothing
    done = invoke(rules, "prune", "--json")

    assert preview.code == shown.code == 0, preview.stderr
    plans = {d["database_name"]: d for d in preview.json()["databases"]}
    assert [c["key"] for c in plans["shop"]["delete"]] == shop[2:] and plans["blog"]["delete"] == []
    assert {c["key"]: c["reasons"] for c in plans["shop"]["keep"]} == {
        shop[0]: ["keep_min", "keep_last"], shop[1]: ["keep_last"]}
    assert plans["shop"]["delete"][0]["size"] == len(b"shop, 2 days ago")
    assert "would delete" in shown.stdout and "keep_last" in shown.stdout and "blog" not in shown.stdout
    assert done.code == 0, done.stderr
    assert sorted(k for d in done.json()["databases"] for k in d["deleted"]) == sorted(shop[2:])
    assert sorted(bucket.objects()) == sorted(shop[:2] + blog)


def test_prune_without_a_rule_keeps_everything_and_says_so(sandbox, env, bucket):
    kept = [put_copy(bucket, sandbox, "shop", days) for days in (0, 9)]

    result = invoke(env, "prune")

    assert result.code == 0, result.stderr
    assert "no pruning rule" in result.stdout and sorted(bucket.objects()) == sorted(kept)


def test_prune_keeps_locked_copies_and_is_no_error(sandbox, moto_reset):
    s3 = s3_client(moto_reset)
    name = f"locked-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "fr-par"},
                     ObjectLockEnabledForBucket=True)
    bucket = Bucket(s3, name, moto_reset)
    until = datetime.now(timezone.utc) + timedelta(days=2)
    newest, locked = (put_copy(bucket, sandbox, "shop", d, ObjectLockMode="GOVERNANCE",
                               ObjectLockRetainUntilDate=until) for d in (0, 4))
    expired = put_copy(bucket, sandbox, "shop", 8)
    env = {**cli_settings(sandbox, bucket=name, s3=moto_reset), "KEEP_LAST": "1",
           "OBJECT_LOCK_MODE": "GOVERNANCE", "OBJECT_LOCK_DAYS": "2"}

    result = invoke(env, "prune", "--json")

    assert result.code == 0, result.stderr
    [plan] = result.json()["databases"]
    assert plan["deleted"] == [expired] and plan["failed"] == []
    assert {c["key"]: c["reasons"] for c in plan["keep"]}[locked] == ["object_lock"]
    assert sorted(bucket.objects()) == sorted([newest, locked])


def test_prune_of_a_database_without_copies_is_not_found(env, bucket, sandbox):
    put_copy(bucket, sandbox, "shop", 0)
    result = invoke({**env, "KEEP_LAST": "1"}, "prune", "-d", "blog", "--json")
    assert result.code == 1 and result.json()["databases"] == [] and "[not_found]" in result.stderr
