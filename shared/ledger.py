"""What the bucket remembers between stateless runs: empty objects whose keys say it all.

One listing of ``<BACKUP_PREFIX>/.sdb-backup-export/`` tells a dispatch run, for every database
at once, whatever their number (a thousand databases are one or two list pages):

- ``verified/<database_id>/<created_at>_<backup_id>``: the newest verified copy of a database,
  written by the copy once it has stamped the SHA-256 (its older marker is then removed);
- ``stale/<database_id>/<announced_at>_<backup_id | none>``: the last ``backup.stale`` notice
  sent for a database, and which copy it was about;
- ``started/<at>``: when the ledger began, where the watch starts for a database that has no
  verified copy yet (so a first run, or the first run after an upgrade, raises no false alarm).

Pure: keys in, values out. Database names never appear in these keys (ids only): a rename
changes nothing, and ``_safe_segment`` in ``shared.keys`` keeps names from starting with a dot,
so a copy's key never falls inside this folder with the default template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable
from uuid import UUID

from shared.models import as_utc

FOLDER = ".sdb-backup-export"
NO_COPY = "none"
_STAMP = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True)
class RestorePoint:
    """A backup by its id and creation time: what a verified copy lets you restore."""

    backup_id: str
    created_at: datetime


@dataclass(frozen=True)
class Announcement:
    announced_at: datetime
    about: str  # the backup id of the last verified copy it reported, or NO_COPY


@dataclass(frozen=True)
class Ledger:
    started_at: datetime | None = None
    verified: dict[UUID, RestorePoint] = field(default_factory=dict)
    announced: dict[UUID, Announcement] = field(default_factory=dict)
    verified_keys: dict[UUID, tuple[str, ...]] = field(default_factory=dict)
    stale_keys: dict[UUID, tuple[str, ...]] = field(default_factory=dict)


def stamp(moment: datetime) -> str:
    return as_utc(moment).astimezone(timezone.utc).strftime(_STAMP)


def _parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, _STAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def root(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{FOLDER}/" if prefix else f"{FOLDER}/"


def verified_prefix(prefix: str, database_id: UUID | str) -> str:
    return f"{root(prefix)}verified/{database_id}/"


def verified_key(prefix: str, database_id: UUID | str, point: RestorePoint) -> str:
    return f"{verified_prefix(prefix, database_id)}{stamp(point.created_at)}_{point.backup_id}"


def stale_prefix(prefix: str, database_id: UUID | str) -> str:
    return f"{root(prefix)}stale/{database_id}/"


def stale_key(prefix: str, database_id: UUID | str, announced_at: datetime, about: str) -> str:
    return f"{stale_prefix(prefix, database_id)}{stamp(announced_at)}_{about}"


def started_key(prefix: str, at: datetime) -> str:
    return f"{root(prefix)}started/{stamp(at)}"


def read_ledger(keys: Iterable[str], prefix: str) -> Ledger:
    """The ledger from a listing of ``root(prefix)``; keys it does not recognise are ignored."""
    base = root(prefix)
    found = _Found()
    for key in keys:
        if key.startswith(base):
            found.add(key, key[len(base):].split("/"))
    return Ledger(found.started_at, found.verified, found.announced,
                  {k: tuple(v) for k, v in found.verified_keys.items()},
                  {k: tuple(v) for k, v in found.stale_keys.items()})


@dataclass
class _Found:
    started_at: datetime | None = None
    verified: dict[UUID, RestorePoint] = field(default_factory=dict)
    announced: dict[UUID, Announcement] = field(default_factory=dict)
    verified_keys: dict[UUID, list[str]] = field(default_factory=dict)
    stale_keys: dict[UUID, list[str]] = field(default_factory=dict)

    def add(self, key: str, parts: list[str]) -> None:
        if parts[0] == "started" and len(parts) == 2:
            at = _parse_stamp(parts[1])
            if at is not None and (self.started_at is None or at < self.started_at):
                self.started_at = at  # the earliest: two first runs at once agree on the first
            return
        if parts[0] not in ("verified", "stale") or len(parts) != 3:
            return
        database_id, entry = _database(parts[1]), parts[2].split("_", 1)
        when = _parse_stamp(entry[0])
        if database_id is None or when is None or len(entry) != 2 or not entry[1]:
            return
        if parts[0] == "verified":
            self.verified_keys.setdefault(database_id, []).append(key)
            known = self.verified.get(database_id)
            if known is None or when > known.created_at:
                self.verified[database_id] = RestorePoint(entry[1], when)
        else:
            self.stale_keys.setdefault(database_id, []).append(key)
            previous = self.announced.get(database_id)
            if previous is None or when > previous.announced_at:
                self.announced[database_id] = Announcement(when, entry[1])


def _database(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None
