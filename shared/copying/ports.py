"""The copy use case's view of the outside world: only what it calls, typed.

``shared.scaleway.ScalewayClient``, ``shared.storage.ObjectStore``, ``shared.notify.Notifier`` and
``shared.handoff`` transports satisfy these; tests may pass anything that does.
"""

from __future__ import annotations

from typing import Any, Collection, Iterator, Protocol, Sequence
from datetime import datetime
from uuid import UUID

from shared.models import CopyJob, DatabaseBackup
from shared.storage import OpenUpload, StoredObject


class BackupSource(Protocol):
    """The backup API: the backup, its export, and the wait for a usable download link."""

    def get_backup(self, backup_id: UUID | str, *, region: str | None = None) -> DatabaseBackup: ...

    def request_export(self, backup_id: UUID | str, *, region: str | None = None) -> DatabaseBackup | None: ...

    def wait_for_download_url(self, backup_id: UUID | str, *, deadline: float, region: str | None = None,
                              refused: Collection[str] = (), requested: bool = False) -> DatabaseBackup: ...

    def close(self) -> None: ...


class CopyStore(Protocol):
    """The bucket: multipart uploads, the published object, our other copies."""

    bucket: str

    def head(self, key: str) -> StoredObject | None: ...

    def create_multipart(self, key: str, metadata: dict[str, str], storage_class: str = "STANDARD") -> str: ...

    def upload_part_url(self, key: str, upload_id: str, part_number: int) -> str: ...

    def list_parts(self, key: str, upload_id: str) -> list[tuple[int, str, int]]: ...

    def list_open_uploads(self, prefix: str = "") -> list[OpenUpload]: ...

    def last_written(self, upload: OpenUpload) -> datetime | None: ...

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str: ...

    def abort(self, key: str, upload_id: str) -> None: ...

    def replace_metadata(self, key: str, metadata: dict[str, str], storage_class: str, size: int, *,
                         if_match: str | None = None) -> None: ...

    def iter_object(self, key: str) -> Iterator[bytes]: ...

    def list_copies(self, prefix: str) -> list[StoredObject]: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def put_marker(self, key: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def close(self) -> None: ...


class Notifier(Protocol):
    """Delivers one event to every target that wants it; never raises."""

    def send(self, event: Any) -> Sequence[Any]: ...

    def close(self) -> None: ...


class Requeue(Protocol):
    """Hands a continuation to a later invocation (``shared.handoff``)."""

    def send(self, jobs: list[CopyJob]) -> Sequence[Any]: ...
