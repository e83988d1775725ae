"""The dispatch use case's view of the outside world: only what it calls, typed.

``shared.scaleway.ScalewayClient``, ``shared.storage.ObjectStore``, ``shared.notify.Notifier`` and
``shared.notify.heartbeats.Heartbeat`` satisfy these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Protocol, Sequence
from uuid import UUID

from shared.models import Database, DatabaseBackup
from shared.storage import OpenUpload, StoredObject


class BackupCatalog(Protocol):
    """The backup API: databases, their latest ready backups, exports."""

    def list_databases(self, *, project_id: str | None = None, region: str | None = None) -> list[Database]: ...

    def get_database(self, database_id: UUID | str, *, region: str | None = None) -> Database: ...

    def latest_ready_backups(self, *, project_id: str | None = None,
                             database_ids: Iterable[UUID | str] | None = None,
                             region: str | None = None) -> dict[UUID, DatabaseBackup]: ...

    def export_backup(self, backup_id: UUID | str, *, region: str | None = None) -> DatabaseBackup: ...


class CopyIndex(Protocol):
    """The bucket, as far as planning looks: is a verified copy there, is one under way, and its ledger."""

    def head(self, key: str) -> StoredObject | None: ...

    def list_open_uploads(self, prefix: str = "") -> list[OpenUpload]: ...

    def last_written(self, upload: OpenUpload) -> datetime | None: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def put_marker(self, key: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def check_object_lock(self) -> None: ...


class LedgerIndex(Protocol):
    """The bucket's ledger (``shared.ledger``): one listing, a few empty objects."""

    def list_keys(self, prefix: str) -> list[str]: ...

    def put_marker(self, key: str) -> None: ...

    def delete(self, key: str) -> None: ...


class Notifier(Protocol):
    """Delivers one event to every target that wants it; never raises."""

    def send(self, event: Any) -> Sequence[Any]: ...


class PingOutcome(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class Heartbeat(Protocol):
    """Pings ``HEARTBEAT_URL``; never raises."""

    def ping(self, kind: Any = "success", *, what: str = "dispatch") -> PingOutcome: ...
