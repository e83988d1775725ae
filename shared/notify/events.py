"""The two events, built from what a copy knows: ``backup.copied`` and ``backup.copy_failed``.

Kept apart from ``shared.notify.delivery`` (targets and delivery), which re-exports both constructors. The
event model and its renderers are in ``shared.notify.formats``. Error messages are redacted and
clipped here, before any target sees them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote
from uuid import UUID

from shared.notify.formats import (CopyLocation, EventData, Failure, NotificationEvent, advice_for, clip, event_id)
from shared.units import human_size
from shared.urls import redact_text

MAX_MESSAGE = 2000


def _location(bucket: str, key: str, endpoint_url: str) -> CopyLocation:
    url = f"{endpoint_url.rstrip('/')}/{quote(bucket)}/{quote(key)}"
    return CopyLocation(bucket=bucket, key=key, uri=f"s3://{bucket}/{key}", url=url)


def _at(occurred_at: datetime | None) -> datetime:
    return occurred_at or datetime.now(timezone.utc)


def copied_event(
    *, database_name: str, database_id: str | UUID, backup_id: str | UUID, backup_created_at: datetime | None,
    size: int, duration_seconds: float, bucket: str, key: str, endpoint_url: str, sha256: str,
    run_id: str | None = None, occurred_at: datetime | None = None,
) -> NotificationEvent:
    throughput = round(size / 1e6 / duration_seconds, 2) if duration_seconds > 0 else None
    data = EventData(
        database_name=database_name, database_id=str(database_id), backup_id=str(backup_id),
        backup_created_at=backup_created_at, run_id=run_id, size_bytes=size, size_human=human_size(size),
        duration_seconds=round(duration_seconds, 3), throughput_mb_s=throughput,
        location=_location(bucket, key, endpoint_url), sha256=sha256,
    )
    return NotificationEvent(type="backup.copied", id=event_id("backup.copied", str(backup_id)),
                             timestamp=_at(occurred_at), data=data)


def failed_event(
    *, database_name: str, database_id: str | UUID, backup_id: str | UUID, error_code: str, error_message: str,
    tried: str, run_id: str | None = None, backup_created_at: datetime | None = None, size: int | None = None,
    bucket: str | None = None, key: str | None = None, endpoint_url: str | None = None,
    occurred_at: datetime | None = None,
) -> NotificationEvent:
    """``tried`` says what was attempted, e.g. "exported twice, 3 part retries"."""
    failure = Failure(code=error_code, message=clip(redact_text(error_message), MAX_MESSAGE),
                      tried=clip(tried, MAX_MESSAGE), advice=advice_for(error_code))
    where = _location(bucket, key, endpoint_url) if bucket and key and endpoint_url else None
    data = EventData(
        database_name=database_name, database_id=str(database_id), backup_id=str(backup_id),
        backup_created_at=backup_created_at, run_id=run_id, size_bytes=size,
        size_human=None if size is None else human_size(size), location=where, failure=failure,
    )
    return NotificationEvent(type="backup.copy_failed", id=event_id("backup.copy_failed", str(backup_id)),
                             timestamp=_at(occurred_at), data=data)
