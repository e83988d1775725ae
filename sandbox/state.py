"""Seeded sandbox state: a project's databases and their daily backups, plus export requests.

``SandboxConfig`` says what to seed; ``SandboxState`` holds the records behind one lock and
lets tests change them from Python. Ids are uuid5 of the seed, so a seed always gives the
same ids; times are relative to now (daily backups at about 03:00 UTC over the last week).
The sandbox has its own clock (``advance``) so tests can age links without sleeping.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sandbox.readings import Readings
from sandbox.records import BackupRecord, DatabaseRecord, ExportRecord, from_epoch

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class DatabaseSpec:
    """A database to seed. ``sizes`` (newest first) overrides the ``size``-based default."""

    name: str
    backups: int = 7
    size: int = 64 * KiB
    latest_status: str = "ready"
    status: str = "ready"
    sizes: tuple[int, ...] | None = None

    def backup_sizes(self) -> list[int]:
        if self.sizes is not None:
            return list(self.sizes[: self.backups])
        # A database that grows a little every day.
        return [max(0, int(self.size * (1 - 0.02 * age))) for age in range(self.backups)]


def seeded_uuid(seed: int, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox/{seed}/" + "/".join(parts)))


@dataclass
class SandboxConfig:
    token: str = ""
    project_id: str = ""
    organization_id: str = ""  # "" = same as project_id, as in a default project
    region: str = "fr-par"
    databases: list[DatabaseSpec] = field(default_factory=list)
    export_delay_seconds: float = 1.0
    link_ttl_seconds: int = 86400
    rate_limit: int | None = 50  # requests per token per window; None disables
    rate_window_seconds: float = 1.0
    seed: int = 0
    readings: Readings = field(default_factory=Readings)  # undocumented behaviours (sandbox.readings)

    def __post_init__(self) -> None:
        self.token = self.token or seeded_uuid(self.seed, "token")
        self.project_id = self.project_id or seeded_uuid(self.seed, "project")
        self.organization_id = self.organization_id or self.project_id

    @classmethod
    def default(cls, **overrides: Any) -> SandboxConfig:
        """Six databases covering every case: small and huge, error, locked, no backups."""
        databases = [
            DatabaseSpec("shop", size=48 * KiB),
            DatabaseSpec(
                "blog", sizes=(3 * MiB, 3 * MiB - 4099, 2 * MiB + 17, MiB, 64 * KiB, 4 * KiB, 7)
            ),
            DatabaseSpec("analytics", size=6 * GiB + 12345),
            DatabaseSpec("billing", size=16 * KiB, latest_status="error"),
            DatabaseSpec("crm", size=256 * KiB, latest_status="locked"),
            DatabaseSpec("staging", backups=0),
        ]
        return cls(**{"databases": databases, **overrides})

    @classmethod
    def demo(cls, **overrides: Any) -> SandboxConfig:
        """Four databases whose latest backups add up to a few hundred MB."""
        databases = [
            DatabaseSpec("shop", size=120 * MiB + 321),
            DatabaseSpec("blog", size=40 * MiB + 77),
            DatabaseSpec("analytics", size=160 * MiB + 5),
            DatabaseSpec("billing", size=8 * MiB, latest_status="error"),
        ]
        return cls(**{"databases": databases, **overrides})

    @classmethod
    def generated(
        cls, n_databases: int, backups_per_db: int = 7, size: int = 4 * KiB, **overrides: Any
    ) -> SandboxConfig:
        """Many alike databases (``db-0000``...) for scale tests."""
        databases = [
            DatabaseSpec(f"db-{i:04d}", backups=backups_per_db, size=size)
            for i in range(n_databases)
        ]
        return cls(**{"databases": databases, **overrides})


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._offset = 0.0
        self.reset()

    # --- clock ---------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward (links expire, pending exports complete)."""
        with self._lock:
            self._offset += seconds

    # --- seeding -------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._databases: dict[str, DatabaseRecord] = {}
            self._backups: dict[str, BackupRecord] = {}
            self._exports: dict[str, ExportRecord] = {}
            self._serial = 0
            self._revoked_below = 0  # links with a lower serial are dead...
            self._spared: set[int] = set()  # ...except exports still pending at the time
            self._fetched: set[str] = set()  # backups whose file was requested at least once
            self.export_delay_seconds = self.config.export_delay_seconds
            self.link_ttl_seconds = self.config.link_ttl_seconds
            self.readings = self.config.readings
            rng = random.Random(self.config.seed)
            created = from_epoch(self.now()) - timedelta(days=90)
            for index, spec in enumerate(self.config.databases):
                database = self._seed_database(spec, created + timedelta(minutes=index), rng)
                self._seed_backups(database, spec, rng)

    def _seed_database(self, spec: DatabaseSpec, created: datetime, rng: random.Random) -> DatabaseRecord:
        created = created.replace(microsecond=rng.randrange(1_000_000))
        return self.add_database(
            spec.name, status=spec.status, created_at=created,
            database_id=seeded_uuid(self.config.seed, "database", spec.name),
        )

    def _seed_backups(self, database: DatabaseRecord, spec: DatabaseSpec, rng: random.Random) -> None:
        latest = _latest_backup_time(from_epoch(self.now()))
        for age, size in enumerate(spec.backup_sizes()):
            status = spec.latest_status if age == 0 else "ready"
            jitter = timedelta(seconds=rng.randrange(1800), microseconds=rng.randrange(1_000_000))
            self.add_backup(
                database.id, size=size, status=status, created_at=latest - timedelta(days=age) + jitter,
                backup_id=seeded_uuid(self.config.seed, "backup", spec.name, str(age)),
            )

    # --- changes tests can make ---------------------------------------------------------------

    def add_database(
        self, name: str, *, status: str = "ready", created_at: datetime | None = None,
        project_id: str | None = None, database_id: str | None = None, **fields: Any,
    ) -> DatabaseRecord:
        project = project_id or self.config.project_id
        record = DatabaseRecord(
            id=database_id or str(uuid.uuid4()), name=name, status=status,
            project_id=project,
            organization_id=self.config.organization_id if project_id is None else project,
            region=self.config.region, created_at=created_at or from_epoch(self.now()), **fields,
        )
        with self._lock:
            self._databases[record.id] = record
        return record

    def add_backup(
        self, database_id: str, *, size: int | None = 4 * KiB, status: str = "ready",
        created_at: datetime | None = None, backup_id: str | None = None, db_size: int | None = None,
        source_path: str | None = None,
    ) -> BackupRecord:
        """A backup; with ``source_path`` its bytes are that file's (e.g. a real ``pg_dump -Fc``
        archive), streamed from disk, and its size the file's."""
        if source_path is not None:
            size = os.path.getsize(source_path)
        with self._lock:
            database = self._databases[database_id]
            created = created_at or from_epoch(self.now())
            failed = status == "error"
            record = BackupRecord(
                id=backup_id or str(uuid.uuid4()), database_id=database_id,
                project_id=database.project_id, organization_id=database.organization_id,
                region=database.region, created_at=created, expires_at=created + RETENTION,
                status=status, size=None if failed else size,
                db_size=None if failed else (db_size if db_size is not None else (size or 0) * 3),
                source_path=source_path,
            )
            self._backups[record.id] = record
        return record

    def set_backup(self, backup_id: str, **changes: Any) -> BackupRecord:
        with self._lock:
            record = dataclasses.replace(self._backups[backup_id], **changes)
            self._backups[backup_id] = record
        return record

    def set_database(self, database_id: str, **changes: Any) -> DatabaseRecord:
        with self._lock:
            record = dataclasses.replace(self._databases[database_id], **changes)
            self._databases[database_id] = record
        return record

    def remove_database(self, database_id: str) -> None:
        with self._lock:
            self._databases.pop(database_id, None)
            for backup in [b for b in self._backups.values() if b.database_id == database_id]:
                self.remove_backup(backup.id)

    def remove_backup(self, backup_id: str) -> None:
        with self._lock:
            self._backups.pop(backup_id, None)
            self._exports.pop(backup_id, None)

    def expire_links(self) -> None:
        """Every link visible so far stops working now (GETs show it expired).

        Exports still pending keep their future link.
        """
        with self._lock:
            now = self.now()
            self._revoked_below = self._serial + 1
            self._spared = {e.serial for e in self._exports.values() if e.ready_at > now}
            for backup_id, export in self._exports.items():
                if export.serial not in self._spared:
                    self._exports[backup_id] = dataclasses.replace(export, expires_at=min(export.expires_at, now))

    def link_revoked(self, serial: int) -> bool:
        with self._lock:  # expire_links sets both fields: read them as one
            return serial < self._revoked_below and serial not in self._spared

    # --- reads ---------------------------------------------------------------------------------

    def databases(self) -> list[DatabaseRecord]:
        with self._lock:
            return list(self._databases.values())

    def database(self, database_id: str) -> DatabaseRecord | None:
        return self._databases.get(database_id)

    def backups(self, database_id: str | None = None) -> list[BackupRecord]:
        with self._lock:
            found = list(self._backups.values())
        return [b for b in found if database_id is None or b.database_id == database_id]

    def backup(self, backup_id: str) -> BackupRecord | None:
        return self._backups.get(backup_id)

    def latest_backup(self, database_id: str, status: str | None = "ready") -> BackupRecord | None:
        matches = [b for b in self.backups(database_id) if status is None or b.status == status]
        return max(matches, key=lambda b: b.created_at, default=None)

    def database_named(self, name: str) -> DatabaseRecord | None:
        return next((d for d in self.databases() if d.name == name), None)

    # --- exports -------------------------------------------------------------------------------

    def export(self, backup_id: str) -> ExportRecord:
        """Start an export: its link shows up ``export_delay_seconds`` later."""
        with self._lock:
            self._serial += 1
            ready_at = self.now() + self.export_delay_seconds
            expires_at = math.floor(ready_at) + self.link_ttl_seconds
            record = ExportRecord(backup_id, self._serial, ready_at, expires_at, self.link_ttl_seconds)
            self._exports[backup_id] = record
        return record

    def ready_export(self, backup_id: str) -> ExportRecord | None:
        """The backup's export if its link is visible by now."""
        record = self._exports.get(backup_id)
        return record if record is not None and record.ready_at <= self.now() else None

    def export_pending(self, backup_id: str) -> bool:
        """An export of the backup was requested and its link is not visible yet."""
        record = self._exports.get(backup_id)
        return record is not None and record.ready_at > self.now()

    def first_fetch(self, backup_id: str) -> bool:
        """True the first time the backup's file is requested (since the last reset)."""
        with self._lock:
            first = backup_id not in self._fetched
            self._fetched.add(backup_id)
            return first


def _latest_backup_time(now: datetime) -> datetime:
    """03:00 UTC of the last day whose backup (plus up to 30 min of jitter) is done by now."""
    latest = now.astimezone(timezone.utc).replace(hour=3, minute=0, second=0, microsecond=0)
    return latest if latest + timedelta(hours=1) <= now else latest - timedelta(days=1)
