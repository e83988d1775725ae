"""The copy use case end to end: sandbox API + download links -> moto (server mode) -> webhook sink."""

from __future__ import annotations

import threading

import pytest
from datetime import datetime, timedelta, timezone

from shared.clock import Clock
from shared.copying.run import run_job
from shared.keys import META_SHA256, copy_metadata
from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.sink import WebhookSink
from shared.models import Continuation
from shared.storage import ObjectStore
from tests.fixtures.copying import (BIG, LATER, SMALL, Bucket, MiB, fast_clients, job_for,
                                    stop_after_one_part,
                                    make_settings, notify_to, status)


def test_copies_a_multipart_backup_byte_for_byte(copy_sandbox: SandboxServer, bucket: Bucket,
                                                  webhook_sink: WebhookSink) -> None:
    settings = make_settings(copy_sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(copy_sandbox)

    report = run_job(job, settings, clients=fast_clients(settings))

    expected = blobs.sha256_hex(str(job.backup_id), BIG)
    assert (report.outcome, status(report, job), report.parts) == ("copied", 200, 3)
    assert report.sha256 == expected == bucket.sha256(job.object_key)
    assert bucket.metadata(job.object_key)[META_SHA256] == expected
    assert bucket.open_uploads() == []
    [notice] = webhook_sink.wait_for(1)
    assert notice.json()["type"] == "backup.copied" and notice.json()["data"]["sha256"] == expected
    assert report.notifications[0]["delivered"] is True


def test_a_second_delivery_finds_the_copy_and_stays_quiet(copy_sandbox: SandboxServer, bucket: Bucket,
                                                          webhook_sink: WebhookSink) -> None:
    settings = make_settings(copy_sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(copy_sandbox, "blog")
    first = run_job(job, settings, clients=fast_clients(settings))
    exports_after_first = copy_sandbox.stats.snapshot()["exports"]

    second = run_job(job, settings, clients=fast_clients(settings))

    assert (first.outcome, second.outcome, status(second, job)) == ("copied", "already_copied", 200)
    assert copy_sandbox.stats.snapshot()["exports"] == exports_after_first  # no second export
    assert [r.json()["type"] for r in webhook_sink.wait_for(1)] == ["backup.copied"]
    assert len(webhook_sink.requests) == 1
    assert bucket.objects() == [job.object_key]


def test_concurrent_deliveries_end_with_one_good_object(copy_sandbox: SandboxServer, bucket: Bucket,
                                                        webhook_sink: WebhookSink) -> None:
    settings = make_settings(copy_sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(copy_sandbox, "blog")
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(run_job(job, settings, clients=fast_clients(settings))))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(r.outcome for r in reports) in (["already_copied", "copied"], ["copied", "copied"])
    assert bucket.objects() == [job.object_key] and bucket.open_uploads() == []
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), SMALL)
    notices = webhook_sink.wait_for(1)
    # a residual race can send the notice twice; it then carries the same id, so receivers dedupe
    assert len({n.headers["webhook-id"] for n in notices}) == 1


def test_stops_in_time_and_the_continuation_finishes(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox)

    first, requeue = stop_after_one_part(job, settings)

    assert (first.outcome, status(first, job), first.parts) == ("continued", 202, 1)
    [follow_up] = requeue.jobs
    assert follow_up.attempt == 2 and len(follow_up.continuation.parts) == 1
    assert bucket.objects() == [] and bucket.open_uploads() == [job.object_key]

    second = run_job(follow_up, settings, clients=fast_clients(settings), requeue=requeue)

    expected = blobs.sha256_hex(str(job.backup_id), BIG)
    assert (second.outcome, second.sha256) == ("copied", expected)
    assert bucket.sha256(job.object_key) == expected == bucket.metadata(job.object_key)[META_SHA256]
    assert bucket.open_uploads() == []


@pytest.mark.parametrize("forgery", ["etag", "part_size"])
def test_a_continuation_that_does_not_match_restarts_from_zero(copy_sandbox: SandboxServer, bucket: Bucket,
                                                               forgery: str) -> None:
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox)
    _, requeue = stop_after_one_part(job, settings)
    cont = requeue.jobs[0].continuation
    if forgery == "etag":
        forged = cont.model_copy(update={"parts": [cont.parts[0].model_copy(update={"etag": "0" * 32})]})
    else:  # a part size that would plan billions of parts must be refused before any planning
        forged = cont.model_copy(update={"part_size": 1})

    report = run_job(requeue.jobs[0].model_copy(update={"continuation": forged}), settings,
                     clients=fast_clients(settings))

    assert report.outcome == "copied" and report.parts == 3
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG)
    assert bucket.open_uploads() == []  # the forged upload was aborted


def test_a_redelivery_leaves_a_live_upload_alone_and_answers_503(copy_sandbox: SandboxServer,
                                                                 bucket: Bucket) -> None:
    # GIVEN a copy that stopped after its first part a moment ago (its upload is live)
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox)
    _, requeue = stop_after_one_part(job, settings)
    exports = copy_sandbox.stats.snapshot()["exports"]
    parts_before = bucket.parts(job.object_key)

    # WHEN the same job is delivered again right away
    again = run_job(job, settings, clients=fast_clients(settings))

    # THEN it touches nothing and asks to be delivered later; the live copy finishes
    assert (again.outcome, status(again, job), again.error.code) == ("in_progress", 503, "copy_in_progress")
    assert bucket.parts(job.object_key) == parts_before and copy_sandbox.stats.snapshot()["exports"] == exports
    finished = run_job(requeue.jobs[0], settings, clients=fast_clients(settings))
    assert finished.outcome == "copied" and bucket.open_uploads() == []
    assert bucket.sha256(job.object_key) == blobs.sha256_hex(str(job.backup_id), BIG)


def test_a_redelivery_after_the_live_window_resumes_the_stored_parts(copy_sandbox: SandboxServer,
                                                                     bucket: Bucket) -> None:
    # GIVEN a copy that stored its first part, then died (its continuation never sent)
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox)
    stop_after_one_part(job, settings)
    downloaded = copy_sandbox.stats.snapshot()["download_bytes"]

    # WHEN the queue delivers the job again, later
    report = run_job(job, settings, clients=fast_clients(settings), clock=LATER)

    # THEN it goes on from part 2 of the same upload, and the SHA-256 read back is the source's
    expected = blobs.sha256_hex(str(job.backup_id), BIG)
    assert (report.outcome, report.parts, report.resumed_parts, report.sha256) == ("copied", 3, 1, expected)
    assert copy_sandbox.stats.snapshot()["download_bytes"] - downloaded == 1 + BIG - 16 * MiB  # probe + the rest
    assert bucket.sha256(job.object_key) == expected and bucket.open_uploads() == []


def test_a_late_continuation_finds_the_copy_and_aborts_its_upload(copy_sandbox: SandboxServer,
                                                                   bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox, "blog")
    assert run_job(job, settings, clients=fast_clients(settings)).outcome == "copied"
    store = ObjectStore(bucket.s3, bucket.name)
    stray = store.create_multipart(job.object_key, {})  # the upload a continuation still names
    late = job.model_copy(update={"attempt": 2, "continuation": Continuation(upload_id=stray, part_size=16 * MiB)})

    report = run_job(late, settings, clients=fast_clients(settings))

    assert report.outcome == "already_copied" and bucket.open_uploads() == []


def test_link_not_ready_in_budget_answers_503(sandbox_factory, bucket: Bucket) -> None:
    from tests.fixtures.copying import copy_config

    sandbox = sandbox_factory(copy_config(export_delay_seconds=60))
    settings = make_settings(sandbox, bucket, link_wait_seconds=0.3)

    job = job_for(sandbox, "blog")
    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, job), report.error.code) == ("not_ready", 503, "export_not_ready")
    assert bucket.objects() == [] and bucket.open_uploads() == []


def test_a_job_past_its_deadline_fails_once_and_is_not_redelivered(copy_sandbox: SandboxServer, bucket: Bucket,
                                                                   webhook_sink: WebhookSink) -> None:
    settings = make_settings(copy_sandbox, bucket, notify_targets=notify_to(webhook_sink.url))
    job = job_for(copy_sandbox, "blog", deadline=datetime.now(timezone.utc) - timedelta(minutes=1))

    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, job), report.error.code) == ("failed", 200, "deadline_exceeded")
    [notice] = webhook_sink.wait_for(1)
    assert notice.json()["type"] == "backup.copy_failed"
    assert notice.json()["data"]["failure"]["code"] == "deadline_exceeded"


def test_the_deadline_is_read_on_the_injected_clock(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    # GIVEN a job due in an hour, and a clock that says the hour has passed
    settings = make_settings(copy_sandbox, bucket)
    job = job_for(copy_sandbox, "blog")
    late = Clock(now=lambda: datetime.now(timezone.utc) + timedelta(hours=2))

    result = run_job(job, settings, clients=fast_clients(settings), clock=late)

    assert (result.outcome, result.error.code) == ("failed", "deadline_exceeded")
    assert copy_sandbox.stats.snapshot()["exports"] == 0 and bucket.objects() == []


def test_a_host_outside_the_allowlist_is_never_fetched(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket, download_host_allowlist=["s3.fr-par.scw.cloud"])

    job = job_for(copy_sandbox, "blog")
    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, status(report, job), report.error.code) == ("failed", 200, "download_host_not_allowed")
    assert copy_sandbox.stats.snapshot()["download_bytes"] == 0
    assert copy_sandbox.stats.snapshot()["requests"]["download"] == 0
    assert bucket.objects() == [] and bucket.open_uploads() == []


def test_keep_last_prunes_only_our_older_copies(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket, keep_last=2)
    job = job_for(copy_sandbox, "blog")
    older = []
    for days in (1, 2, 3):
        created = job.backup_created_at - timedelta(days=days)
        key = f"blog/{created:%Y/%m/%d}/old-{days}.dump"
        meta = copy_metadata(backup_id=f"00000000-0000-0000-0000-00000000000{days}", database_id=job.database_id,
                             database_name="blog", created_at=created, size=10, db_size=None, sha256="ab" * 32)
        bucket.s3.put_object(Bucket=bucket.name, Key=key, Body=b"x" * 10, Metadata=meta)
        older.append(key)
    bucket.s3.put_object(Bucket=bucket.name, Key="blog/notes.txt", Body=b"not a copy")

    report = run_job(job, settings, clients=fast_clients(settings))

    assert report.outcome == "copied"
    assert sorted(report.pruned) == sorted(older[1:])
    assert sorted(bucket.objects()) == sorted([job.object_key, older[0], "blog/notes.txt"])


def test_glacier_copies_are_verified_before_the_class_changes(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    settings = make_settings(copy_sandbox, bucket, backup_storage_class="GLACIER")
    job = job_for(copy_sandbox, "blog")

    report = run_job(job, settings, clients=fast_clients(settings))

    head = bucket.s3.head_object(Bucket=bucket.name, Key=job.object_key)
    assert report.outcome == "copied" and head["StorageClass"] == "GLACIER"
    assert head["Metadata"][META_SHA256] == blobs.sha256_hex(str(job.backup_id), SMALL)


def test_an_empty_backup_is_refused_and_leaves_nothing(copy_sandbox: SandboxServer, bucket: Bucket) -> None:
    # A pg_dump archive is never empty: a 0-byte backup is reported, not published. The link
    # answers the probe's one-byte range with 416 "bytes */0", which is how the size is known.
    db = copy_sandbox.state.add_database("empty")
    copy_sandbox.state.add_backup(db.id, size=0)
    settings = make_settings(copy_sandbox, bucket)

    job = job_for(copy_sandbox, "empty")
    report = run_job(job, settings, clients=fast_clients(settings))

    assert (report.outcome, report.error.code, report.error.message) == (
        "failed", "integrity_check_failed", "the backup is empty")
    assert bucket.objects() == [] and bucket.open_uploads() == []
