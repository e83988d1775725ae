"""The backups of the chosen databases, each with whether a verified copy of it is stored at
the key a copy of it would have (the same reading as dispatch: ``keys.is_verified_copy``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence
from uuid import UUID

from shared.copies.listing import DatabaseFilter
from shared.dispatch.plan import KeyLayout, Selection, candidate_key, select_databases
from shared.keys import is_verified_copy
from shared.models import Database, DatabaseBackup, as_utc
from shared.storage import StoredObject

FEW = 20  # up to this many databases, one listing each beats one project-wide listing


class BackupLister(Protocol):
    def list_databases(self) -> list[Database]: ...
    def list_backups(self, *, database_id: Any = None) -> list[DatabaseBackup]: ...


class Header(Protocol):
    def head(self, key: str) -> StoredObject | None: ...


@dataclass(frozen=True)
class BackupRow:
    database: Database
    backup: DatabaseBackup
    object_key: str | None
    verified_copy: bool | None  # None: no bucket to look in, or no date to name the key

    def to_dict(self) -> dict[str, Any]:
        b = self.backup
        return {
            "database_id": str(self.database.id), "database_name": self.database.name, "backup_id": str(b.id),
            "status": b.status, "created_at": _iso(b.created_at), "expires_at": _iso(b.expires_at),
            "size": b.size, "db_size": b.db_size, "object_key": self.object_key, "verified_copy": self.verified_copy,
        }


def select(api: BackupLister, databases: DatabaseFilter) -> Selection:
    """The databases named by id or name (all when none is named), and those not found."""
    return select_databases(api.list_databases(), ids=[UUID(i) for i in databases.ids], names=databases.names)


def backups_with_copies(api: BackupLister, store: Header | None, layout: KeyLayout,
                        databases: Sequence[Database], *, every: bool) -> list[BackupRow]:
    """Every backup of ``databases``, newest first per database (by name). ``every``: the
    selection is the whole project, so one paged listing serves all of them."""
    by_id = {db.id: db for db in databases}
    if every or len(databases) > FEW:
        backups = [b for b in api.list_backups() if b.database_id in by_id]
    else:
        backups = [b for db in databases for b in api.list_backups(database_id=db.id)]
    rows = [_row(by_id[b.database_id], b, store, layout) for b in backups]
    return sorted(rows, key=lambda r: (r.database.name, -_epoch(r.backup)))


def _row(db: Database, backup: DatabaseBackup, store: Header | None, layout: KeyLayout) -> BackupRow:
    key = candidate_key(db, backup, layout)
    if store is None or key is None:
        return BackupRow(db, backup, key, None)
    found = store.head(key)
    verified = found is not None and is_verified_copy(found.metadata, backup_id=backup.id, size=backup.size)
    return BackupRow(db, backup, key, verified)


def _epoch(backup: DatabaseBackup) -> float:
    return as_utc(backup.created_at).timestamp() if backup.created_at else 0.0


def _iso(moment: Any) -> str | None:
    return as_utc(moment).isoformat() if moment else None
