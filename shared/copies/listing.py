"""What the bucket holds: our copies, per database, read from their metadata.

A copy is ours when its metadata carries ``sdb-backup-id``, and verified when it also
carries ``sdb-sha256`` (written only once the copy was checked, see ``shared.keys``). The
database filter matches the copies' own metadata, so copies of a database that no longer
exists are still found; the key template only narrows the listing when it can.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Protocol
from uuid import UUID

from shared import keys
from shared.models import as_utc
from shared.storage import StoredObject


class CopyLister(Protocol):
    def list_copies(self, prefix: str) -> list[StoredObject]: ...


@dataclass(frozen=True)
class DatabaseFilter:
    """Databases named by id or by name (``--database`` takes both); empty = every database."""

    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def from_values(cls, values: Iterable[str]) -> "DatabaseFilter":
        ids, names = [], []
        for value in values:
            try:
                ids.append(str(UUID(value)))
            except ValueError:
                names.append(value)
        return cls(tuple(dict.fromkeys(ids)), tuple(dict.fromkeys(names)))

    @property
    def empty(self) -> bool:
        return not self.ids and not self.names

    def matches(self, database_id: str | None, database_name: str | None) -> bool:
        return self.empty or (database_id or "").lower() in self.ids or database_name in self.names


@dataclass(frozen=True)
class Copy:
    key: str
    size: int
    etag: str
    database_id: str | None
    database_name: str | None
    backup_id: str | None
    backup_created_at: datetime | None
    sha256: str | None
    storage_class: str = "STANDARD"
    last_modified: datetime | None = None
    lock_mode: str | None = None
    lock_until: datetime | None = None
    legal_hold: bool = False
    metadata: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def verified(self) -> bool:
        return bool(self.sha256)

    @property
    def recorded_size(self) -> int | None:
        """The size the copy recorded when it was written (``sdb-size``)."""
        raw = self.metadata.get(keys.META_SIZE, "")
        return int(raw) if raw.isdigit() else None

    def to_dict(self) -> dict[str, Any]:
        lock = ({"mode": self.lock_mode, "retain_until": _iso(self.lock_until), "legal_hold": self.legal_hold}
                if self.lock_mode or self.legal_hold else None)
        return {
            "key": self.key, "database_id": self.database_id, "database_name": self.database_name,
            "backup_id": self.backup_id, "backup_created_at": _iso(self.backup_created_at),
            "size": self.size, "sha256": self.sha256, "verified": self.verified,
            "storage_class": self.storage_class, "last_modified": _iso(self.last_modified), "retention_lock": lock,
        }


def copy_from(obj: StoredObject) -> Copy:
    meta = obj.metadata
    return Copy(
        key=obj.key, size=obj.size, etag=obj.etag,
        database_id=meta.get(keys.META_DATABASE_ID) or None, database_name=meta.get(keys.META_DATABASE_NAME) or None,
        backup_id=meta.get(keys.META_BACKUP_ID) or None, backup_created_at=_parse_time(meta.get(keys.META_CREATED_AT)),
        sha256=meta.get(keys.META_SHA256) or None, storage_class=obj.storage_class, last_modified=obj.last_modified,
        lock_mode=obj.lock_mode, lock_until=obj.lock_until, legal_hold=obj.legal_hold, metadata=dict(meta),
    )


def list_copies(store: CopyLister, *, template: str, prefix: str,
                databases: DatabaseFilter = DatabaseFilter()) -> list[Copy]:
    """Our copies of the chosen databases, by database name, then newest backup first."""
    found: dict[str, Copy] = {}
    for search in search_prefixes(template, prefix, databases):
        for obj in store.list_copies(search):
            copy = copy_from(obj)
            if databases.matches(copy.database_id, copy.database_name):
                found[copy.key] = copy
    return sorted(found.values(), key=_order)


def search_prefixes(template: str, prefix: str, databases: DatabaseFilter) -> list[str]:
    """Where to list: one prefix per database when the key template starts with just the
    field the filter gives (e.g. ``{database_name}/...`` and names), else the whole prefix."""
    head = template.split("{created_at", 1)[0].split("{backup_id", 1)[0]
    fields = {name for _, name, _, _ in string.Formatter().parse(head) if name}
    if fields == {"database_name"} and databases.names and not databases.ids:
        return [keys.database_prefix(template, prefix, database_name=n, database_id="") for n in databases.names]
    if fields == {"database_id"} and databases.ids and not databases.names:
        return [keys.database_prefix(template, prefix, database_name="", database_id=i) for i in databases.ids]
    return [f"{prefix}/" if prefix else ""]


def _order(copy: Copy) -> tuple[str, float, str]:
    moment = copy.backup_created_at or copy.last_modified
    return (copy.database_name or "", -(as_utc(moment).timestamp() if moment else 0.0), copy.key)


def _parse_time(raw: str | None) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(raw)) if raw else None
    except ValueError:
        return None


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None
