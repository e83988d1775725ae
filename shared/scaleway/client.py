"""The Serverless SQL Database backup API client.

Sync, over an ``httpx.Client`` it receives, bound to the API base URL and carrying
``X-Auth-Token``. Rate limiting, retries and error typing live in ``shared.scaleway.session``;
this module knows the endpoints, paging parameters and the wait for an export's link.
The client never fetches a download link: it only asks the API for one.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable
from uuid import UUID

import httpx

from shared.errors import ConfigurationError, InvalidRequest, ScalewayPermissionDenied
from shared.models import BACKUP_READY, REGION_IN_PATH, Database, DatabaseBackup, as_utc
from shared.scaleway.exports import LINK_MARGIN, LinkWait, request_export
from shared.scaleway.ratelimit import RateLimiter
from shared.scaleway.session import ApiSession, ClientStats, parse

if TYPE_CHECKING:
    from shared.settings import Settings

__all__ = ["ClientStats", "ScalewayClient", "newest_ready_by_database"]

_PREFIX = "/serverless-sqldb/v1alpha1/regions/{region}"
_REGION = re.compile(REGION_IN_PATH)
_OLDEST = datetime.min.replace(tzinfo=timezone.utc)
# What a key needs to export (a write); ServerlessSQLDatabaseReadOnly can list but not export.
EXPORT_PERMISSION = "the ServerlessSQLDatabaseReadWrite (or FullAccess) permission set on the backup's project to export it"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _uuid(value: UUID | str, name: str) -> str:
    # Ids go into the URL path: only a real UUID may, so no id can reshape the path.
    try:
        return str(UUID(str(value)))
    except ValueError:
        raise InvalidRequest(f"{name} must be a UUID") from None


def _region(value: str) -> str:
    if not _REGION.match(value or ""):
        raise ConfigurationError("region must look like 'fr-par'")
    return value


class ScalewayClient:
    def __init__(
        self,
        http: httpx.Client,
        *,
        region: str = "fr-par",
        project_id: str | None = None,
        organization_id: str | None = None,
        rate_limit: float = 48.0,
        max_retry_seconds: float = 60.0,
        max_attempts: int = 8,
        page_size: int = 1000,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.region = _region(region)
        self.project_id = project_id
        self.organization_id = organization_id
        self.page_size = page_size
        self._session = ApiSession(
            http, limiter=limiter or RateLimiter(rate_limit, clock=clock, sleep=sleep),
            max_retry_seconds=max_retry_seconds, max_attempts=max_attempts,
            sleep=sleep, clock=clock,
        )
        self._sleep = sleep
        self._clock = clock
        self._now = now

    @classmethod
    def from_settings(cls, settings: "Settings", **policy: Any) -> "ScalewayClient":
        """``policy`` overrides the retry policy (``max_retry_seconds``, ``max_attempts``)."""
        secret = settings.secret_key
        if not secret:
            raise ConfigurationError("SCALEWAY_SECRET_KEY (or SCW_SECRET_KEY) is not set", details={"settings": ["SCALEWAY_SECRET_KEY"]})
        http = httpx.Client(
            base_url=settings.scw_api_url,
            headers={"X-Auth-Token": secret},
            timeout=httpx.Timeout(settings.api_timeout_seconds, connect=10),
            follow_redirects=False,
        )
        try:
            return cls(
                http,
                region=settings.scw_default_region,
                project_id=settings.scw_default_project_id,
                organization_id=settings.scw_default_organization_id,
                rate_limit=settings.api_rate_limit,
                **policy,
            )
        except BaseException:  # a bad region or API URL: don't leak the pool
            http.close()
            raise

    @property
    def stats(self) -> ClientStats:
        return self._session.stats

    def close(self) -> None:
        self._session.http.close()

    def __enter__(self) -> "ScalewayClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- Databases -------------------------------------------------------------------------

    def list_databases(
        self, *, project_id: str | None = None, organization_id: str | None = None,
        name: str | None = None, order_by: str = "created_at_asc", region: str | None = None,
    ) -> list[Database]:
        params = {**self._scope(project_id, organization_id), "name": name, "order_by": order_by}
        return self._session.paged(self._path(region, "databases"), "databases", params,
                                   Database, self.page_size)

    def get_database(self, database_id: UUID | str, *, region: str | None = None) -> Database:
        path = self._path(region, "databases", _uuid(database_id, "database_id"))
        return parse(Database, self._session.call("GET", path, on_id=True))

    # --- Backups ---------------------------------------------------------------------------

    def list_backups(
        self, *, database_id: UUID | str | None = None, project_id: str | None = None,
        organization_id: str | None = None, order_by: str = "created_at_desc",
        region: str | None = None,
    ) -> list[DatabaseBackup]:
        # order_by is always sent: the server default changed once and the docs disagree.
        params: dict[str, Any] = {"order_by": order_by}
        if database_id is not None:
            params.update(database_id=_uuid(database_id, "database_id"),
                          project_id=project_id, organization_id=organization_id)
        else:
            params.update(self._scope(project_id, organization_id))
        return self._session.paged(self._path(region, "backups"), "backups", params,
                                   DatabaseBackup, self.page_size)

    def get_backup(self, backup_id: UUID | str, *, region: str | None = None) -> DatabaseBackup:
        path = self._path(region, "backups", _uuid(backup_id, "backup_id"))
        return parse(DatabaseBackup, self._session.call("GET", path, on_id=True))

    def export_backup(self, backup_id: UUID | str, *, region: str | None = None) -> DatabaseBackup:
        """Request an export. Retrying the POST is safe: a repeat is accepted (at worst restarting
        the export) or answered 409/412 while one is under way (``request_export`` reads that as
        "wait"). A 403 is told apart: an id the key cannot read is ``ScalewayNotFound``; a
        backup it can read but not export names the permission it lacks (exporting is a write)."""
        path = self._path(region, "backups", _uuid(backup_id, "backup_id"), "export")
        try:
            return parse(DatabaseBackup, self._session.call("POST", path, body={}, on_id=True,
                                                            permission=EXPORT_PERMISSION))
        except ScalewayPermissionDenied:
            self.get_backup(backup_id, region=region)  # unknown or unreadable: ScalewayNotFound
            raise

    def latest_ready_backups(
        self, *, project_id: str | None = None, database_ids: Iterable[UUID | str] | None = None,
        region: str | None = None,
    ) -> dict[UUID, DatabaseBackup]:
        """Newest ``ready`` backup per database; databases without one are absent.

        Without ids: one project-wide listing (1000 a page). With ids: one listing each.
        """
        if database_ids is None:
            backups = self.list_backups(project_id=project_id, region=region)
        else:
            backups = [b for db in database_ids
                       for b in self.list_backups(database_id=db, region=region)]
        return newest_ready_by_database(backups)

    def request_export(self, backup_id: UUID | str, *, region: str | None = None) -> DatabaseBackup | None:
        """Ask for an export; None when the API answers that one is already under way."""
        return request_export(self, backup_id, region=region)

    def wait_for_download_url(
        self, backup_id: UUID | str, *, deadline: float, region: str | None = None,
        min_link_validity: float = LINK_MARGIN, refused: Collection[str] = (), requested: bool = False,
        initial_interval: float = 0.5, max_interval: float = 4.0,
    ) -> DatabaseBackup:
        """Poll until the backup shows a link that lives ``min_link_validity`` seconds more and is
        not one of ``refused``, requesting an export only when nothing else can bring one
        (``shared.scaleway.exports``). ``requested``: the caller already asked for this one.

        ``deadline`` is a value of the client's clock (``time.monotonic``). ``error`` raises
        ExportFailed; the deadline raises ExportNotReady.
        """
        wait = LinkWait(self, backup_id, region=region, min_validity=min_link_validity, dead=refused,
                        requested=requested, initial_interval=initial_interval, max_interval=max_interval,
                        sleep=self._sleep, clock=self._clock, now=self._now)
        return wait.run(deadline)

    # --- Helpers ---------------------------------------------------------------------------

    def _path(self, region: str | None, *parts: str) -> str:
        return "/".join([_PREFIX.format(region=_region(region or self.region)), *parts])

    def _scope(self, project_id: str | None, organization_id: str | None) -> dict[str, Any]:
        """Explicit filters win; else the client's project, else its organization."""
        if project_id or organization_id:
            return {"project_id": project_id, "organization_id": organization_id}
        if self.project_id:
            return {"project_id": self.project_id}
        return {"organization_id": self.organization_id}


def newest_ready_by_database(backups: Iterable[DatabaseBackup]) -> dict[UUID, DatabaseBackup]:
    """Pure: the newest ``ready`` backup of each database, whatever order the API used."""
    latest: dict[UUID, DatabaseBackup] = {}
    for backup in backups:
        if backup.status != BACKUP_READY:
            continue
        current = latest.get(backup.database_id)
        if current is None or _created(backup) > _created(current):
            latest[backup.database_id] = backup
    return latest


def _created(backup: DatabaseBackup) -> datetime:
    return as_utc(backup.created_at) if backup.created_at else _OLDEST
