"""Which backups need copying: pure decisions over data, no I/O.

``select_databases`` resolves the requested ids and names, ``candidate_key`` names the
object a backup would be copied to, ``plan_database`` decides one database's action from its
latest ready backup and what the bucket already holds at that key, ``mark_in_flight`` holds
back a copy that another job is already making, and ``missing_entries`` reports what was asked
for but does not exist. Dispatch calls exactly these, one database at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Literal, Mapping, Sequence
from uuid import UUID

from shared.keys import is_verified_copy, object_key
from shared.models import Database, DatabaseBackup, as_utc

Action = Literal["copy", "already_copied", "copy_in_progress", "no_ready_backup", "too_old", "not_found"]


@dataclass(frozen=True)
class KeyLayout:
    """How object keys are built (``BACKUP_KEY_TEMPLATE``, ``BACKUP_PREFIX``)."""

    template: str
    prefix: str = ""
    project_id: str = ""
    region: str = ""


@dataclass(frozen=True)
class Selection:
    databases: list[Database]
    missing_ids: list[UUID] = field(default_factory=list)
    missing_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanEntry:
    action: Action
    reason: str
    database_id: UUID | None = None
    database_name: str | None = None
    backup: DatabaseBackup | None = None
    object_key: str | None = None

    @property
    def backup_id(self) -> UUID | None:
        return self.backup.id if self.backup else None

    @property
    def created_at(self) -> datetime | None:
        return self.backup.created_at if self.backup else None

    @property
    def size(self) -> int | None:
        return self.backup.size if self.backup else None


def select_databases(
    databases: Iterable[Database], *, ids: Sequence[UUID] = (), names: Sequence[str] = ()
) -> Selection:
    """Every database when nothing is named; else those matching an id or an exact name."""
    databases = list(databases)
    if not ids and not names:
        return Selection(databases)
    wanted_ids, wanted_names = set(ids), set(names)
    chosen = [db for db in databases if db.id in wanted_ids or db.name in wanted_names]
    found_ids = {db.id for db in databases}
    found_names = {db.name for db in databases}
    return Selection(
        chosen,
        missing_ids=[i for i in dict.fromkeys(ids) if i not in found_ids],
        missing_names=[n for n in dict.fromkeys(names) if n not in found_names],
    )


def candidate_key(database: Database, backup: DatabaseBackup, layout: KeyLayout) -> str | None:
    if backup.created_at is None:
        return None
    return object_key(
        layout.template,
        layout.prefix,
        database_name=database.name,
        database_id=database.id,
        backup_id=backup.id,
        created_at=backup.created_at,
        project_id=str(database.project_id or layout.project_id),
        region=database.region or layout.region,
    )


def missing_entries(selection: Selection) -> list[PlanEntry]:
    return [
        PlanEntry("not_found", "no database with this id in the project", database_id=i)
        for i in selection.missing_ids
    ] + [
        PlanEntry("not_found", "no database with this name in the project", database_name=n)
        for n in selection.missing_names
    ]


def plan_database(
    db: Database,
    backup: DatabaseBackup | None,
    stored_meta: Mapping[str, str] | None,
    *,
    layout: KeyLayout,
    max_age_hours: float,
    force: bool,
    now: datetime,
) -> PlanEntry:
    """Decide for one database, given its latest ready backup and the metadata at its key."""
    base: dict[str, Any] = {"database_id": db.id, "database_name": db.name}
    if backup is None:
        return PlanEntry("no_ready_backup", "the database has no backup in status ready", **base)
    key = candidate_key(db, backup, layout)
    if key is None or backup.created_at is None:  # the key and the job both need the date
        return PlanEntry("no_ready_backup", "the latest ready backup has no creation date", backup=backup, **base)
    base.update(backup=backup, object_key=key)
    meta = stored_meta
    if meta is not None and not force and is_verified_copy(meta, backup_id=backup.id, size=backup.size):
        return PlanEntry("already_copied", "a verified copy of this backup is already stored", **base)
    age_hours = (as_utc(now) - as_utc(backup.created_at)).total_seconds() / 3600
    if age_hours > max_age_hours:
        return PlanEntry("too_old", f"the latest ready backup is {age_hours:.1f} h old (limit {max_age_hours:g} h)", **base)
    if meta is not None and not force:
        return PlanEntry("copy", "the stored object is not a verified copy of this backup", **base)
    return PlanEntry("copy", "forced copy" if force else "no copy of this backup yet", **base)


IN_FLIGHT_SILENCE_MINUTES = 60.0


def mark_in_flight(entry: PlanEntry, uploads_written: Iterable[datetime | None], *, now: datetime,
                   silence_minutes: float = IN_FLIGHT_SILENCE_MINUTES) -> PlanEntry:
    """A planned copy whose key has an open multipart upload written to in the last
    ``silence_minutes`` is already under way: a second job would redo it. A live copy writes
    a part every few seconds to minutes (a continuation's hand-over included); an upload
    silent for an hour, or of unknown age, has no job behind it and does not hold a copy back.
    """
    if entry.action != "copy":
        return entry
    ages = [(as_utc(now) - as_utc(when)).total_seconds() / 60 for when in uploads_written if when is not None]
    live = [age for age in ages if age < silence_minutes]
    if not live:
        return entry
    return replace(entry, action="copy_in_progress",
                   reason=f"a copy of this backup is under way (its upload was written {min(live):.0f} min ago)")
