"""What a dispatch run tells its channels, built from its result: pure, no I/O.

``stale_notice`` is the ``backup.stale`` event of one stale database (its last verified copy and
its age, the latest backup the API offers, what this run did and what to check);
``run_summary`` is the run's one ``backup.run_summary`` event; ``heartbeat_kind`` is the outcome
pinged to ``HEARTBEAT_URL``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from shared.dispatch.freshness import Freshness, hours_between, reminder_period
from shared.dispatch.report import DatabaseOutcome, DispatchResult
from shared.models import DatabaseBackup
from shared.notify.events import (NotificationEvent, RestorePointData, RunSummaryData, StaleData, SummaryLine,
                                  run_summary_event, stale_advice, stale_event)
from shared.targets import PingKind


def _backup_point(backup: DatabaseBackup | None, now: datetime) -> RestorePointData | None:
    if backup is None or backup.created_at is None:
        return None
    return RestorePointData(backup_id=str(backup.id), created_at=backup.created_at, size_bytes=backup.size,
                            age_hours=round(hours_between(backup.created_at, now), 2))


def stale_notice(outcome: DatabaseOutcome, fresh: Freshness, *, run_id: str, now: datetime) -> NotificationEvent:
    last = fresh.last_copy
    data = StaleData(
        database_name=fresh.database_name, database_id=str(fresh.database_id),
        stale_after_hours=fresh.stale_after_hours,
        last_copy=RestorePointData(backup_id=last.backup_id, created_at=last.created_at,
                                   age_hours=round(fresh.age_hours or 0.0, 2)) if last else None,
        watching_since=fresh.watching_since, latest_backup=_backup_point(fresh.latest_backup, now),
        this_run=outcome.status, error_code=outcome.error_code, advice=stale_advice(outcome.status), run_id=run_id,
    )
    return stale_event(data, period=reminder_period(now, fresh.stale_after_hours), occurred_at=now)


def _line(outcome: DatabaseOutcome) -> SummaryLine:
    entry, fresh = outcome.entry, outcome.freshness
    return SummaryLine(
        database_name=entry.database_name, database_id=str(entry.database_id) if entry.database_id else None,
        status=outcome.status, stale=bool(fresh and fresh.stale),
        age_hours=round(fresh.age_hours, 2) if fresh and fresh.age_hours is not None else None,
        error_code=outcome.error_code,
    )


def run_summary(result: DispatchResult, *, now: datetime) -> NotificationEvent:
    lines = [_line(o) for o in result.databases]
    counts = dict(Counter(line.status for line in lines))
    counts["stale"] = sum(line.stale for line in lines)

    def named(keep: bool | str) -> list[str]:
        return [line.database_name or line.database_id or "?" for line in lines
                if (line.stale if keep is True else line.status == keep)]

    data = RunSummaryData(run_id=result.run_id, requested_by=result.requested_by, counts=counts,
                          stale=named(True), failed=named("failed"), too_old=named("too_old"), databases=lines)
    return run_summary_event(data, occurred_at=now)


def heartbeat_kind(result: DispatchResult) -> PingKind:
    """``fail`` when a database failed or is stale: the monitor then alerts as for a missed run."""
    troubled = any(o.status == "failed" or (o.freshness and o.freshness.stale) for o in result.databases)
    return "fail" if troubled else "success"
