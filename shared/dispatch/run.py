"""The dispatch use case: plan which backups to copy, request their exports, hand off jobs.

Lists once (databases, latest ready backups), then per database on a small thread pool:
head the candidate key -> decide with the pure ``shared.dispatch.plan`` -> export. Exported jobs
are handed off ten at a time while the pool is still exporting, so the bucket heads and the
hand-off hide under the API's rate limit. One database failing (bucket unreadable, export
refused, hand-off lost) is reported for that database and never stops the others.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from uuid import UUID

from shared.dispatch.plan import (
    KeyLayout,
    PlanEntry,
    Selection,
    candidate_key,
    mark_in_flight,
    missing_entries,
    plan_database,
    select_databases,
)
from shared.dispatch.ports import BackupCatalog, CopyIndex
from shared.dispatch.report import DatabaseOutcome, DispatchResult
from shared.dispatch.request import DispatchRequest
from shared.errors import BackupExportError, ConfigurationError, ScalewayNotFound
from shared.handoff import Handoff, HandoffResult, handoff_from_settings
from shared.models import CopyJob, Database, DatabaseBackup
from shared.observability import log_event
from shared.settings import Settings

logger = logging.getLogger(__name__)

WORKERS = 16  # keeps the rate limit busy while bucket checks and queue sends wait on I/O; the limiter paces them
FEW = 20  # up to this many named databases: per-database calls beat project-wide listings
HANDOFF_CHUNK = 10  # one SendMessageBatch
REPLY_POSTS = 5  # a Slack response_url takes at most five posts: one per job's final notice


def run_dispatch(
    request: DispatchRequest,
    *,
    settings: Settings,
    requested_by: str,
    inline_runner: Callable[[CopyJob], Any] | None = None,
    reply_to: str | None = None,
) -> DispatchResult:
    """Build the API client, store and hand-off from settings, dispatch, close them.

    ``reply_to`` (a Slack ``response_url``) goes into the first ``REPLY_POSTS`` jobs: each
    copy posts its outcome there as well as to ``NOTIFY_TARGETS``."""
    from shared.scaleway.client import ScalewayClient
    from shared.storage import ObjectStore

    with ExitStack() as stack:  # closes whatever was built, also when building the next one fails
        api = stack.enter_context(ScalewayClient.from_settings(settings))
        store = ObjectStore.from_settings(settings)
        stack.callback(store.close)
        handoff = handoff_from_settings(settings, inline_runner=inline_runner or _copy_here(settings))
        stack.callback(handoff.close)
        return dispatch(request, settings=settings, api=api, store=store, handoff=handoff,
                        now=datetime.now(timezone.utc), requested_by=requested_by, reply_to=reply_to)


def _copy_here(settings: Settings) -> Callable[[CopyJob], Any]:
    """HANDOFF_MODE=inline: each job is copied in this process, one after another."""
    def run(job: CopyJob) -> Any:
        from shared.copying.run import run_job  # lazy: only the inline mode copies here

        return run_job(job, settings)

    return run


def dispatch(
    request: DispatchRequest,
    *,
    settings: Settings,
    api: BackupCatalog,
    store: CopyIndex,
    handoff: Handoff,
    now: datetime,
    requested_by: str,
    reply_to: str | None = None,
) -> DispatchResult:
    project_id = str(request.project_id or settings.scw_default_project_id or "").lower()
    if not project_id:
        raise ConfigurationError("SCALEWAY_PROJECT_ID (or SCW_DEFAULT_PROJECT_ID) is not set and the request names no project_id")
    region = request.region or settings.region
    run_id = uuid.uuid4().hex[:16]
    log_event(logger, "dispatch started", run_id=run_id, project_id=project_id, region=region,
              dry_run=request.dry_run, force=request.force, requested_by=requested_by)

    selection = _select(request, api, project_id=project_id, region=region)
    run = _Run(request, api, store, KeyLayout(settings.backup_key_template, settings.backup_prefix, project_id, region),
               _latest_backups(request, selection, api, project_id=project_id, region=region),
               region, now, request.effective_max_age(settings))
    deadline = now + timedelta(hours=settings.job_deadline_hours)
    by_id = {db.id: db for db in selection.databases}
    replies = itertools.count()  # next() is atomic: jobs may be built on several threads
    outcomes = _prepare_and_hand_off(
        run, selection.databases, handoff,
        lambda e: _job(e, by_id[e.database_id], run_id, requested_by, request, project_id, region, deadline,
                       reply_to if reply_to and next(replies) < REPLY_POSTS else None),
    )
    outcomes += [DatabaseOutcome(entry, entry.action) for entry in missing_entries(selection)]
    result = DispatchResult(run_id, request.dry_run, requested_by, tuple(outcomes))
    for outcome in result.databases:
        _log_outcome(outcome)
    log_event(logger, "dispatch finished", run_id=run_id, summary=result.summary, status=result.status)
    return result


@dataclass(frozen=True)
class _Run:
    request: DispatchRequest
    api: BackupCatalog
    store: CopyIndex
    layout: KeyLayout
    backups: dict[UUID, DatabaseBackup]
    region: str
    now: datetime
    max_age_hours: float

    def prepare(self, db: Database) -> DatabaseOutcome:
        """Head, decide, export, for one database: the heads hide under the API's rate limit."""
        backup = self.backups.get(db.id)
        meta, head_error = _stored_metadata(self.store, candidate_key(db, backup, self.layout) if backup else None)
        entry = plan_database(db, backup, meta, layout=self.layout, max_age_hours=self.max_age_hours,
                              force=self.request.force, now=self.now)
        if entry.action == "copy" and head_error is not None:  # a copy may be there: don't guess
            return DatabaseOutcome.failed(entry, head_error)
        if entry.action == "copy" and not self.request.force:  # a repeat must not start a second copy
            entry = mark_in_flight(entry, _uploads_written(self.store, entry.object_key), now=self.now)
        if entry.action != "copy":
            return DatabaseOutcome(entry, entry.action)
        if self.request.dry_run:
            return DatabaseOutcome(entry, "would_copy")
        try:
            self.api.export_backup(entry.backup_id, region=self.region)
        except BackupExportError as exc:
            return DatabaseOutcome.failed(entry, exc)
        return DatabaseOutcome(entry, "exported")


def _select(request: DispatchRequest, api: BackupCatalog, *, project_id: str, region: str) -> Selection:
    if request.database_names or request.selects_all or len(request.database_ids) > FEW:
        databases = api.list_databases(project_id=project_id, region=region)
        return select_databases(databases, ids=request.database_ids, names=request.database_names)
    found, missing = [], []
    for database_id in dict.fromkeys(request.database_ids):
        try:
            db = api.get_database(database_id, region=region)
        except ScalewayNotFound:  # unknown, deleted or not ours: the API answers alike
            db = None
        if db is None or (db.project_id and str(db.project_id) != project_id):
            missing.append(database_id)
        else:
            found.append(db)
    return Selection(found, missing_ids=missing)


def _latest_backups(
    request: DispatchRequest, selection: Selection, api: BackupCatalog, *, project_id: str, region: str
) -> dict[UUID, DatabaseBackup]:
    wanted = {db.id for db in selection.databases}
    if not wanted:
        return {}
    if request.selects_all or len(wanted) > FEW:  # one paged listing for the whole project
        latest = api.latest_ready_backups(project_id=project_id, region=region)
    else:
        latest = api.latest_ready_backups(database_ids=sorted(wanted, key=str), region=region)
    return {db_id: backup for db_id, backup in latest.items() if db_id in wanted}


def _uploads_written(store: CopyIndex, key: str | None) -> list[datetime | None]:
    """When each open multipart upload at ``key`` was last written. If the store can't say,
    none: a second copy of a backup is wasted work, never a wrong result."""
    if key is None:
        return []
    try:
        return [store.last_written(upload) for upload in store.list_open_uploads(prefix=key) if upload.key == key]
    except BackupExportError as exc:
        log_event(logger, "open uploads unknown", logging.WARNING, key=key, error=exc.code)
        return []


def _stored_metadata(store: CopyIndex, key: str | None) -> tuple[dict[str, str] | None, BackupExportError | None]:
    """The metadata at ``key`` (None when nothing is there), or the error that hid it."""
    if key is None:
        return None, None
    try:
        found = store.head(key)
    except BackupExportError as exc:
        return None, exc
    return (dict(found.metadata) if found is not None else None), None


def _job(entry: PlanEntry, db: Database, run_id: str, requested_by: str, request: DispatchRequest,
         project_id: str, region: str, deadline: datetime, reply_to: str | None = None) -> CopyJob:
    backup = entry.backup
    assert backup is not None and backup.created_at is not None and entry.object_key  # planned "copy"
    return CopyJob(
        run_id=run_id,
        backup_id=backup.id,
        database_id=db.id,
        database_name=db.name,
        project_id=db.project_id or UUID(project_id),
        region=db.region or region,
        backup_created_at=backup.created_at,
        size=backup.size,
        db_size=backup.db_size,
        object_key=entry.object_key,
        attempt=1,
        deadline=deadline,
        requested_by=requested_by,
        reply_to=reply_to,
        force=request.force,
    )


def _prepare_one(run: _Run, db: Database) -> DatabaseOutcome:
    """``run.prepare``, where even an unexpected error stays this database's failure: the
    others go on, and those already exported are still handed off."""
    try:
        return run.prepare(db)
    except Exception:  # noqa: BLE001 - logged with its traceback, reported as internal_error
        logger.exception("preparing a database failed unexpectedly")
        entry = PlanEntry("copy", "unexpected error while preparing", db.id, db.name)
        return DatabaseOutcome(entry, "failed", "internal_error", "unexpected error; see the logs")


def _prepare_and_hand_off(
    run: _Run, databases: list[Database], handoff: Handoff, make_job: Callable[[PlanEntry], CopyJob]
) -> list[DatabaseOutcome]:
    """Prepare every database on a few threads and hand off exported ones ten at a time while
    the others are still exporting, so the hand-off hides under the API's rate limit too."""
    if not databases:
        return []
    outcomes: dict[int, DatabaseOutcome] = {}
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(databases))) as pool:
        futures = {pool.submit(_prepare_one, run, db): index for index, db in enumerate(databases)}
        exported: list[int] = []
        for future in as_completed(futures):
            index = futures[future]
            outcomes[index] = future.result()
            if outcomes[index].status == "exported":
                exported.append(index)
            if len(exported) >= HANDOFF_CHUNK:
                outcomes.update(_hand_off(outcomes, exported, handoff, make_job))
                exported = []
        outcomes.update(_hand_off(outcomes, exported, handoff, make_job))
    return [outcomes[index] for index in range(len(databases))]


def _hand_off(outcomes: dict[int, DatabaseOutcome], indexes: list[int], handoff: Handoff,
              make_job: Callable[[PlanEntry], CopyJob]) -> dict[int, DatabaseOutcome]:
    """The outcomes of ``indexes`` once their jobs are handed off (one result per job, in order)."""
    if not indexes:
        return {}
    results: list[HandoffResult] = handoff.send([make_job(outcomes[i].entry) for i in indexes])
    return {i: outcomes[i].handed_off(r.ok, r.code, r.message) for i, r in zip(indexes, results)}


def _log_outcome(outcome: DatabaseOutcome) -> None:
    level = logging.WARNING if outcome.status == "failed" else logging.INFO
    log_event(logger, "database dispatched", level, **outcome.to_dict())
