"""Copy jobs asked for by hand: one backup by its id, or the newest ready backup of each named
database. Each job is built as dispatch builds it (its key from ``BACKUP_KEY_TEMPLATE``), so the
copy use case (``shared.copying.run.run_job``) runs it exactly as the copy function would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from shared.copies.backups import select
from shared.copies.listing import DatabaseFilter
from shared.dispatch.plan import KeyLayout, candidate_key
from shared.errors import ConfigurationError, ExportNotReady
from shared.models import CopyJob, Database, DatabaseBackup
from shared.settings import Settings


class BackupReader(Protocol):
    def list_databases(self) -> list[Database]: ...
    def get_database(self, database_id: UUID | str) -> Database: ...
    def get_backup(self, backup_id: UUID | str) -> DatabaseBackup: ...
    def latest_ready_backups(self, *, database_ids: Any = None) -> dict[UUID, DatabaseBackup]: ...


@dataclass(frozen=True)
class ChosenJobs:
    jobs: tuple[CopyJob, ...]
    not_found: tuple[str, ...] = ()  # names or ids asked for that no database has
    no_ready_backup: tuple[str, ...] = ()  # names of databases without a backup in status ready


def run_id() -> str:
    return uuid.uuid4().hex[:16]


def job_for_backup(api: BackupReader, backup_id: str, settings: Settings, *, now: datetime, run: str,
                   force: bool = False, requested_by: str = "cli") -> CopyJob:
    """The job for one backup (``ScalewayNotFound`` when the API knows no such backup)."""
    backup = api.get_backup(backup_id)
    database = api.get_database(backup.database_id)
    return build_job(database, backup, settings, now=now, run=run, force=force, requested_by=requested_by)


def jobs_for_databases(api: BackupReader, chosen: DatabaseFilter, settings: Settings, *, now: datetime, run: str,
                       force: bool = False, requested_by: str = "cli") -> ChosenJobs:
    """One job per chosen database, for its newest ready backup."""
    selection = select(api, chosen)
    databases = selection.databases
    latest = api.latest_ready_backups(database_ids=[db.id for db in databases]) if databases else {}
    jobs = tuple(build_job(db, latest[db.id], settings, now=now, run=run, force=force, requested_by=requested_by)
                 for db in databases if db.id in latest)
    missing = tuple(str(i) for i in selection.missing_ids) + tuple(selection.missing_names)
    return ChosenJobs(jobs, missing, tuple(db.name for db in databases if db.id not in latest))


def build_job(db: Database, backup: DatabaseBackup, settings: Settings, *, now: datetime, run: str, force: bool,
              requested_by: str) -> CopyJob:
    project_id = str(db.project_id or settings.scw_default_project_id or "")
    if not project_id:
        raise ConfigurationError("SCALEWAY_PROJECT_ID (or SCW_DEFAULT_PROJECT_ID) is not set")
    region = db.region or settings.region
    key = candidate_key(db, backup, KeyLayout(settings.backup_key_template, settings.backup_prefix, project_id, region))
    if key is None or backup.created_at is None:  # the key is named after the backup's date
        raise ExportNotReady(f"backup {backup.id} has no creation date yet (status {backup.status})")
    return CopyJob(run_id=run, backup_id=backup.id, database_id=db.id, database_name=db.name,
                   project_id=UUID(project_id), region=region, backup_created_at=backup.created_at,
                   size=backup.size, db_size=backup.db_size, object_key=key,
                   deadline=now + timedelta(hours=settings.job_deadline_hours), requested_by=requested_by, force=force)
