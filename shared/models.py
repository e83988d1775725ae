"""Data shapes shared by both functions: API objects and the hand-off message.

API models ignore unknown fields (the API adds some every year) and accept nulls where
the API allows them. The hand-off message is strict and versioned: it crosses a trust
boundary (a queue or an HTTP call) and must fail loudly when it is not what we wrote.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_serializer

def as_utc(moment: datetime) -> datetime:
    """A timestamp without a zone is read as UTC (the API and S3 speak UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# What the API client puts in a URL path as the region; a job naming anything else is refused.
REGION_IN_PATH = r"^[a-z0-9]+(-[a-z0-9]+)*$"

# Statuses are kept as plain strings: a status the API adds tomorrow must not break parsing.
BACKUP_READY = "ready"
BACKUP_ERROR = "error"


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DatabaseVersion(ApiModel):
    name: str | None = None
    end_of_life_at: datetime | None = None


class Database(ApiModel):
    id: UUID
    name: str
    status: str
    organization_id: UUID | None = None
    project_id: UUID | None = None
    region: str | None = None
    endpoint: str | None = None
    cpu_min: int | None = None
    cpu_max: int | None = None
    cpu_current: int | None = None
    started: bool | None = None
    engine_major_version: int | None = None
    created_at: datetime | None = None
    version: DatabaseVersion | None = None


class DatabaseBackup(ApiModel):
    id: UUID
    status: str
    organization_id: UUID | None = None
    project_id: UUID | None = None
    database_id: UUID
    created_at: datetime | None = None
    expires_at: datetime | None = None
    size: int | None = None
    db_size: int | None = None
    download_url: str | None = None
    download_url_expires_at: datetime | None = None
    region: str | None = None

    def __repr__(self) -> str:  # never print the presigned link
        return f"DatabaseBackup(id={self.id}, status={self.status!r}, database_id={self.database_id})"

    __str__ = __repr__


class PartDone(BaseModel):
    """One uploaded part of an unfinished multipart upload."""

    model_config = ConfigDict(extra="forbid")

    part_number: int = Field(ge=1, le=1000)
    etag: str = Field(max_length=80)
    size: int = Field(gt=0)


class Continuation(BaseModel):
    """Where a copy stopped, so the next invocation resumes with Range requests."""

    model_config = ConfigDict(extra="forbid")

    upload_id: str = Field(min_length=1, max_length=1024)
    part_size: int = Field(gt=0)
    parts: list[PartDone] = Field(default_factory=list, max_length=1000)
    # The SHA-256 of the parts' bytes, written down (shared.copying.sha256state): the next
    # invocation hashes on instead of reading every stored byte back. None: read them back.
    sha256_state: str | None = Field(default=None, pattern=r"^[0-9a-f]{224}$")

    @property
    def bytes_done(self) -> int:
        return sum(p.size for p in self.parts)


HANDOFF_VERSION = 1


class CopyJob(BaseModel):
    """The message dispatch hands to copy: one backup to copy to one object key.

    It never carries a download URL: copy always asks the API for a fresh one.
    """

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = HANDOFF_VERSION
    run_id: str = Field(min_length=1, max_length=64)
    backup_id: UUID
    database_id: UUID
    database_name: str = Field(min_length=1, max_length=255)
    project_id: UUID
    region: str = Field(max_length=32, pattern=REGION_IN_PATH)
    backup_created_at: datetime
    size: int | None = Field(default=None, ge=0)
    db_size: int | None = Field(default=None, ge=0)
    object_key: str = Field(min_length=1, max_length=1024)
    attempt: int = Field(default=1, ge=1, le=1000)
    deadline: datetime
    requested_by: str = Field(default="cron", max_length=200)
    reply_to: str | None = Field(default=None, max_length=2048)
    force: bool = False
    continuation: Continuation | None = None

    @field_serializer("backup_id", "database_id", "project_id")
    def _uuid_str(self, value: UUID) -> str:
        return str(value)
