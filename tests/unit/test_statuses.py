"""The two places where a result becomes an HTTP status: pure, so every case is a line here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.copying.result import CopyError, copy_status
from shared.dispatch.plan import PlanEntry
from shared.dispatch.report import DatabaseOutcome, dispatch_status

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
LATER, EARLIER = NOW + timedelta(hours=1), NOW - timedelta(seconds=1)
RETRYABLE = CopyError("download_failed", "the download broke off", True)
PERMANENT = CopyError("integrity_check_failed", "sizes disagree", False)


@pytest.mark.parametrize(("outcome", "error", "deadline", "status"), [
    ("copied", None, LATER, 200),
    ("already_copied", None, EARLIER, 200),
    ("continued", None, LATER, 202),
    ("not_ready", CopyError("export_not_ready", "no link yet", True), LATER, 503),
    ("failed", RETRYABLE, LATER, 503),  # a redelivery can help: the queue tries again
    ("failed", RETRYABLE, EARLIER, 200),  # past its deadline: retrying cannot help any more
    ("failed", PERMANENT, LATER, 200),  # a permanent failure is never redelivered
    ("failed", None, LATER, 200),
])
def test_copy_status(outcome, error, deadline, status) -> None:
    assert copy_status(outcome, error, deadline, NOW) == status


def test_copy_status_reads_a_zoneless_deadline_as_utc() -> None:
    assert copy_status("failed", RETRYABLE, LATER.replace(tzinfo=None), NOW) == 503


def outcome(status: str, retryable: bool = False) -> DatabaseOutcome:
    entry = PlanEntry("copy", "no copy of this backup yet", database_name="db")
    return DatabaseOutcome(entry, status, "code" if status == "failed" else None, None, retryable)


@pytest.mark.parametrize(("statuses", "status"), [
    ([], 200),
    (["handed_off", "already_copied", "too_old"], 200),
    (["handed_off", "failed"], 207),
    (["failed", "failed"], 502),
    ([("failed", True), ("failed", True)], 503),  # the API was down for all: a retry may help
    ([("failed", True), "failed"], 502),
])
def test_dispatch_status(statuses, status) -> None:
    outcomes = [outcome(*s) if isinstance(s, tuple) else outcome(s) for s in statuses]
    assert dispatch_status(outcomes) == status


def test_a_hand_off_makes_a_new_outcome() -> None:
    exported = outcome("exported")
    assert exported.handed_off(True).status == "handed_off"
    lost = exported.handed_off(False, "handoff_failed", "the queue refused the batch")
    assert (lost.status, lost.error_code, lost.retryable) == ("failed", "handoff_failed", True)
    assert exported.status == "exported"  # frozen: the original is unchanged
