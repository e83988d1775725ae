"""Hand-off logic that needs no server: batching, message size, inline runs, settings checks.

The queue and HTTP transports are tested against real servers in tests/integration.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace
from uuid import uuid4

import pytest

from shared.copying.result import CopyError, CopyResult
from shared.errors import ConfigurationError, ExportNotReady, HandoffError
from shared.handoff import (
    MAX_MESSAGE_BYTES,
    InlineHandoff,
    handoff_from_settings,
    message_body,
    pack_batches,
)
from shared.models import Continuation, CopyJob, PartDone
from shared.settings import Settings

WHEN = datetime(2026, 11, 26, 3, tzinfo=timezone.utc)


def job(name: str = "orders", **extra) -> CopyJob:
    return CopyJob(run_id="run1", backup_id=uuid4(), database_id=uuid4(), database_name=name,
                   project_id=uuid4(), region="fr-par", backup_created_at=WHEN, object_key=f"{name}/x.dump",
                   deadline=WHEN, **extra)


def test_batches_hold_at_most_ten_messages():
    assert pack_batches([100] * 23) == [list(range(10)), list(range(10, 20)), [20, 21, 22]]
    assert pack_batches([]) == []


def test_batches_hold_at_most_256_kib_in_all():
    sizes = [100_000, 100_000, 100_000, 10, 200_000]
    assert pack_batches(sizes) == [[0, 1], [2, 3], [4]]
    assert all(sum(sizes[i] for i in b) <= MAX_MESSAGE_BYTES for b in pack_batches(sizes))


def test_message_body_round_trips_and_carries_no_delay_fields():
    original = job()
    body = message_body(original)
    assert CopyJob.model_validate_json(body) == original
    assert "Delay" not in body and "MessageGroupId" not in body


def test_oversized_message_is_refused():
    parts = [PartDone(part_number=i, etag="e" * 80, size=5) for i in range(1, 1001)]
    big = job(continuation=Continuation(upload_id="u" * 1024, part_size=5, parts=parts))
    assert len(message_body(big).encode()) < MAX_MESSAGE_BYTES  # the largest legal continuation fits
    huge = big.model_copy(update={"database_name": "n" * 255, "reply_to": "r" * 2048})
    object.__setattr__(huge, "object_key", "k" * 300_000)  # bypass validation to exceed the limit
    with pytest.raises(HandoffError):
        message_body(huge)


def test_inline_runs_every_job_and_reports_each_failure():
    seen: list[str] = []

    def runner(j: CopyJob) -> object:
        seen.append(j.database_name)
        if j.database_name == "slow":
            raise ExportNotReady("link not ready")
        if j.database_name == "broken":
            raise RuntimeError("boom")
        if j.database_name == "reported":  # the copy use case reports failures in its result
            return CopyResult("failed", str(j.backup_id), j.object_key, error=CopyError("download_failed", "cut", True))
        return SimpleNamespace(outcome="copied", error=None)

    jobs = [job("a"), job("slow"), job("broken"), job("reported"), job("b")]
    results = InlineHandoff(runner).send(jobs)
    assert seen == ["a", "slow", "broken", "reported", "b"]
    assert [(r.job.database_name, r.ok, r.code) for r in results] == [
        ("a", True, None), ("slow", False, "export_not_ready"), ("broken", False, "internal_error"),
        ("reported", False, "download_failed"), ("b", True, None)]
    assert "boom" not in (results[2].message or "")


@pytest.mark.parametrize("mode,settings,missing", [
    ("queue", {}, "QUEUE_URL"),
    ("queue", {"queue_url": "http://127.0.0.1:9/q"}, "QUEUE_ACCESS_KEY"),
    ("queue", {"queue_url": "http://127.0.0.1:9/q", "queue_access_key": "k"}, "QUEUE_SECRET_KEY"),
    ("http", {}, "COPY_FUNCTION_URL"),
])
def test_missing_settings_name_what_is_missing(mode, settings, missing):
    with pytest.raises(ConfigurationError) as info:
        handoff_from_settings(Settings(handoff_mode=mode, **settings))
    assert missing in info.value.message


def test_inline_mode_uses_the_given_runner():
    ran: list[CopyJob] = []
    handoff = handoff_from_settings(Settings(handoff_mode="inline"), inline_runner=ran.append)
    one = job()
    assert [r.ok for r in handoff.send([one])] == [True] and ran == [one]
