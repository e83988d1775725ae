"""How fresh each database's off-site copy is, and which staleness to announce: pure decisions.

A database's freshness is the age of its newest verified copy's restore point: now minus the
copied backup's ``created_at`` (not when the copy was made: a copy made today of a week-old
backup restores a week-old database). The newest verified copy is the newer of what the ledger
recorded (``shared.ledger``) and the latest backup's own key, when the bucket already holds a
verified copy of it. A database is ``stale`` when that age passes ``stale_after_hours``; with no
verified copy at all, when it has been watched that long (since the ledger began, or since the
database was created if later), so a first run raises no alarm.

A stale database is announced once, then again only once per ``stale_after_hours`` while it
stays stale about the same copy (``announcements_due``); the memory of what was announced lives
in the bucket, in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping
from uuid import UUID

from shared.keys import is_verified_copy
from shared.ledger import NO_COPY, Announcement, RestorePoint
from shared.models import Database, DatabaseBackup, as_utc


@dataclass(frozen=True)
class Freshness:
    database_id: UUID
    database_name: str
    stale: bool
    stale_after_hours: float
    last_copy: RestorePoint | None = None  # the newest verified copy's backup
    age_hours: float | None = None  # of last_copy's restore point
    watching_since: datetime | None = None  # with no verified copy: since when
    latest_backup: DatabaseBackup | None = None  # the newest ready backup the API offers

    @property
    def about(self) -> str:
        """What an announcement of this staleness is about: the last copy's backup id, or none."""
        return self.last_copy.backup_id if self.last_copy else NO_COPY

    def to_dict(self) -> dict[str, Any]:
        last = self.last_copy
        return {
            "stale": self.stale,
            "age_hours": None if self.age_hours is None else round(self.age_hours, 2),
            "last_copy": {"backup_id": last.backup_id, "created_at": last.created_at.isoformat()} if last else None,
            "watching_since": self.watching_since.isoformat() if self.watching_since else None,
            "stale_after_hours": self.stale_after_hours,
        }


def hours_between(earlier: datetime, later: datetime) -> float:
    return (as_utc(later) - as_utc(earlier)).total_seconds() / 3600


def newest_copy(latest: DatabaseBackup | None, stored_meta: Mapping[str, str] | None,
                recorded: RestorePoint | None) -> RestorePoint | None:
    """The newer of the ledger's entry and the latest backup, if its key holds a verified copy of it."""
    candidates = [recorded] if recorded is not None else []
    if (latest is not None and latest.created_at is not None and stored_meta is not None
            and is_verified_copy(stored_meta, backup_id=latest.id, size=latest.size)):
        candidates.append(RestorePoint(str(latest.id), as_utc(latest.created_at)))
    return max(candidates, key=lambda p: as_utc(p.created_at), default=None)


def assess(db: Database, *, latest: DatabaseBackup | None, stored_meta: Mapping[str, str] | None,
           recorded: RestorePoint | None, started_at: datetime, now: datetime,
           stale_after_hours: float) -> Freshness:
    """One database's freshness (see the module docstring)."""
    base: dict[str, Any] = {"database_id": db.id, "database_name": db.name, "stale_after_hours": stale_after_hours,
                            "latest_backup": latest}
    point = newest_copy(latest, stored_meta, recorded)
    if point is not None:
        age = hours_between(point.created_at, now)
        return Freshness(stale=age > stale_after_hours, last_copy=point, age_hours=age, **base)
    since = max(as_utc(started_at), as_utc(db.created_at)) if db.created_at else as_utc(started_at)
    return Freshness(stale=hours_between(since, now) > stale_after_hours, watching_since=since, **base)


@dataclass(frozen=True)
class Watch:
    """What a run knows before it looks at any database: the ledger's entries, when the watch began."""

    recorded: Mapping[UUID, RestorePoint]
    started_at: datetime
    stale_after_hours: float

    def assess(self, db: Database, *, latest: DatabaseBackup | None, stored_meta: Mapping[str, str] | None,
               now: datetime) -> Freshness:
        return assess(db, latest=latest, stored_meta=stored_meta, recorded=self.recorded.get(db.id),
                      started_at=self.started_at, now=now, stale_after_hours=self.stale_after_hours)


def announcements_due(freshness: Iterable[Freshness], announced: Mapping[UUID, Announcement], *,
                      now: datetime, stale_after_hours: float) -> list[Freshness]:
    """The stale databases to announce now: never announced, announced about another copy, or
    announced ``stale_after_hours`` ago or more."""
    due = []
    for fresh in freshness:
        previous = announced.get(fresh.database_id)
        if fresh.stale and (previous is None or previous.about != fresh.about
                            or hours_between(previous.announced_at, now) >= stale_after_hours):
            due.append(fresh)
    return due


def recovered(freshness: Iterable[Freshness], announced: Mapping[UUID, Announcement]) -> list[UUID]:
    """Databases announced stale that are fresh again: their announcement is forgotten."""
    return [f.database_id for f in freshness if not f.stale and f.database_id in announced]


def reminder_period(now: datetime, stale_after_hours: float) -> int:
    """Numbers each ``stale_after_hours`` window: the same staleness gets one notice id per window."""
    return int(as_utc(now).timestamp() // (stale_after_hours * 3600))
