"""What a notice says: the event model (the generic format's JSON body), the advice per error
code, and the events built from what a copy knows (``backup.copied``, ``backup.copy_failed``).

Error messages are redacted and clipped here, before any target sees them; the renderers for
each receiver are in ``shared.notify.formats``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.targets import EventType
from shared.units import human_size
from shared.urls import redact_text

MAX_MESSAGE = 2000

ADVICE: dict[str, str] = {
    "export_failed": "The backup or its export is in error on Scaleway; waiting will not help. Check the "
    "backup in the console; the next run exports the next backup. Contact support if it repeats.",
    "export_not_ready": "The download link did not appear in time. The job is retried; if it keeps "
    "happening, check the export's status and the Scaleway status page.",
    "deadline_exceeded": "The copy ran past its deadline. Raise JOB_DEADLINE_HOURS or "
    "FUNCTION_TIMEOUT_SECONDS, or check the download and upload throughput.",
    "download_host_not_allowed": "The download link points to a host outside DOWNLOAD_HOST_ALLOWLIST. "
    "Add it only if it is a Scaleway storage host you trust.",
    "download_failed": "The download broke off. The next attempt resumes from the last uploaded part.",
    "download_link_expired": "The download link expired. The next attempt requests a new export.",
    "integrity_check_failed": "Sizes or checksums disagreed and nothing was published. Run again with "
    "force; if it repeats, the backup itself may be damaged.",
    "storage_error": "Object storage refused the write. Check that the bucket exists, that the S3 keys "
    "may write to it, and the bucket's quota.",
    "handoff_failed": "The job could not be handed to the copy function. Check QUEUE_URL or "
    "COPY_FUNCTION_URL and their credentials.",
    "configuration_error": "A setting is missing or invalid; the message says which one.",
    "scaleway_authentication_denied": "The API key was refused. Check SCW_ACCESS_KEY and SCW_SECRET_KEY.",
    "scaleway_permissions_denied": "The API key lacks permissions. Give its IAM policy read and export "
    "rights on Serverless SQL Databases in this project.",
    "not_found_or_not_allowed": "The database or backup is gone, or belongs to a project the key cannot "
    "see. Check SCW_DEFAULT_PROJECT_ID.",
    "scaleway_quotas_exceeded": "A Scaleway quota was reached. Check the project's quotas.",
    "scaleway_rate_limited": "The Scaleway API rate-limited us. It is retried; lower API_RATE_LIMIT if it repeats.",
    "scaleway_unavailable": "The Scaleway API was unavailable. It is retried automatically.",
}
DEFAULT_ADVICE = "Look up the run id in the function logs for the details."


class CopyLocation(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    uri: str  # s3://bucket/key
    url: str  # the object's URL on the storage endpoint (path style)


class Failure(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    tried: str
    advice: str


class EventData(BaseModel):
    model_config = ConfigDict(frozen=True)

    database_name: str
    database_id: str
    backup_id: str
    backup_created_at: datetime | None = None
    run_id: str | None = None
    size_bytes: int | None = None
    size_human: str | None = None
    duration_seconds: float | None = None
    throughput_mb_s: float | None = None
    location: CopyLocation | None = None
    sha256: str | None = None
    failure: Failure | None = None


class NotificationEvent(BaseModel):
    """The generic format's JSON body: ``{"type", "id", "timestamp", "data"}``."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    id: str
    timestamp: datetime
    data: EventData


def event_id(event_type: str, backup_id: str) -> str:
    """Same event about the same backup -> same id, so receivers can dedupe a repeat."""
    return "msg_" + hashlib.sha256(f"{event_type}:{backup_id}".encode()).hexdigest()[:32]


def advice_for(code: str) -> str:
    return ADVICE.get(code, DEFAULT_ADVICE)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"



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
