"""The sandbox's objects and their JSON, shaped exactly like the real API's bodies.

Records are frozen: the state swaps whole records under its lock, so a request thread
never sees half an update. Keys are rendered sorted and compact, as the real gateway does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


def rfc3339(moment: datetime | None, *, micro: bool = True) -> str | None:
    """``2025-01-24T14:46:29.021910Z``, or whole seconds: the API uses both."""
    if moment is None:
        return None
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass(frozen=True)
class DatabaseRecord:
    id: str
    name: str
    project_id: str
    organization_id: str
    region: str
    created_at: datetime
    status: str = "ready"
    engine_major_version: int = 16
    cpu_min: int = 0
    cpu_max: int = 15
    cpu_current: int = 0
    started: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu_current": self.cpu_current,
            "cpu_max": self.cpu_max,
            "cpu_min": self.cpu_min,
            "created_at": rfc3339(self.created_at),
            "endpoint": f"postgres://{self.id}.pg.sdb.{self.region}.scw.cloud:5432/"
            f"{self.name}?sslmode=require",
            "engine_major_version": self.engine_major_version,
            "id": self.id,
            "name": self.name,
            "organization_id": self.organization_id,
            "project_id": self.project_id,
            "region": self.region,
            "srn": "",
            "started": self.started,
            "status": self.status,
            "version": {
                "end_of_life_at": None,
                "name": str(self.engine_major_version),
                "region": self.region,
                "srn": "",
            },
        }


@dataclass(frozen=True)
class BackupRecord:
    id: str
    database_id: str
    project_id: str
    organization_id: str
    region: str
    created_at: datetime
    expires_at: datetime
    status: str = "ready"
    size: int | None = None
    db_size: int | None = None
    source_path: str | None = None  # a real archive served as this backup's bytes (else generated)

    def to_json(
        self, download_url: str | None = None, url_expires_at: datetime | None = None
    ) -> dict[str, Any]:
        return {
            "created_at": rfc3339(self.created_at),
            "database_id": self.database_id,
            "db_size": self.db_size,
            "download_url": download_url,
            "download_url_expires_at": rfc3339(url_expires_at) if download_url else None,
            "expires_at": rfc3339(self.expires_at, micro=False),
            "id": self.id,
            "organization_id": self.organization_id,
            "project_id": self.project_id,
            "region": self.region,
            "size": self.size,
            "status": self.status,
        }


@dataclass(frozen=True)
class ExportRecord:
    """One export request: its link is visible from ``ready_at`` and dies at ``expires_at``.

    ``serial`` goes into the link, so a new export gives a new link and ``expire_links``
    can kill every link issued before it.
    """

    backup_id: str
    serial: int
    ready_at: float
    expires_at: float
    ttl: int = 86400  # the link's lifetime, as its X-Amz-Expires says
