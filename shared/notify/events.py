"""What a notice says: the event model (the generic format's JSON body), the advice per error
code, and the events built from what a copy knows (``backup.copied``, ``backup.copy_failed``) and
from what a dispatch run found (``backup.stale``, ``backup.run_summary``).

Error messages are redacted and clipped here, before any target sees them; the renderers for
each receiver are in ``shared.notify.formats``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

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
    "object_lock_not_enabled": "OBJECT_LOCK_MODE is set but the bucket has no Object Lock, which S3 only "
    "turns on when a bucket is created. Create a bucket with Object Lock and point BACKUP_BUCKET at it, or "
    "unset OBJECT_LOCK_MODE and OBJECT_LOCK_DAYS.",
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


class RestorePointData(BaseModel):
    """A backup a verified copy (or the API) offers to restore."""

    model_config = ConfigDict(frozen=True)

    backup_id: str
    created_at: datetime
    age_hours: float | None = None
    size_bytes: int | None = None


class StaleData(BaseModel):
    """``backup.stale``: no verified copy newer than ``stale_after_hours`` for this database."""

    model_config = ConfigDict(frozen=True)

    database_name: str
    database_id: str
    stale_after_hours: float
    last_copy: RestorePointData | None = None  # the newest verified copy's backup, if any
    watching_since: datetime | None = None  # with no copy at all: since when it is watched
    latest_backup: RestorePointData | None = None  # the newest ready backup the API offers
    this_run: str  # what this run did for the database: handed_off, failed, too_old, ...
    error_code: str | None = None
    advice: str
    run_id: str


class SummaryLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    database_name: str | None = None
    database_id: str | None = None
    status: str
    stale: bool = False
    age_hours: float | None = None  # of the newest verified copy's restore point
    error_code: str | None = None


class RunSummaryData(BaseModel):
    """``backup.run_summary``: one line per database of a dispatch run."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    requested_by: str
    counts: dict[str, int]  # per status, plus "stale"
    stale: list[str] = Field(default_factory=list)  # names needing attention, for chat formats
    failed: list[str] = Field(default_factory=list)
    too_old: list[str] = Field(default_factory=list)
    databases: list[SummaryLine] = Field(default_factory=list)


class NotificationEvent(BaseModel):
    """The generic format's JSON body: ``{"type", "id", "timestamp", "data"}``."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    id: str
    timestamp: datetime
    data: EventData | StaleData | RunSummaryData


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


STALE_ADVICE: dict[str, str] = {
    "handed_off": "A copy was handed off in this run. If none arrives, check the queue trigger, the copy "
    "function's logs and the dead-letter queue.",
    "too_old": "Scaleway offers no recent backup of this database: check its backups in the console.",
    "no_ready_backup": "Scaleway offers no ready backup of this database: check its backups in the console.",
    "failed": "This run could not hand off a copy: see the error code and the dispatch logs.",
    "copy_in_progress": "A copy is under way; if this notice repeats, that copy is stuck: check the copy "
    "function's logs.",
}
STALE_DEFAULT_ADVICE = ("Check that the nightly dispatch runs (HEARTBEAT_URL), the copy function's logs, the "
                        "dead-letter queue and the API and bucket credentials.")


def stale_advice(this_run: str) -> str:
    return STALE_ADVICE.get(this_run, STALE_DEFAULT_ADVICE)


def stale_event(data: StaleData, *, period: int, occurred_at: datetime | None = None) -> NotificationEvent:
    """``period`` numbers the reminder (one per ``STALE_AFTER_HOURS``): a reminder is a new notice,
    while two runs announcing the same staleness at once send the same id."""
    about = data.last_copy.backup_id if data.last_copy else "none"
    return NotificationEvent(type="backup.stale", id=event_id("backup.stale", f"{data.database_id}:{about}:{period}"),
                             timestamp=_at(occurred_at), data=data)


def run_summary_event(data: RunSummaryData, *, occurred_at: datetime | None = None) -> NotificationEvent:
    return NotificationEvent(type="backup.run_summary", id=event_id("backup.run_summary", data.run_id),
                             timestamp=_at(occurred_at), data=data)
