"""Dispatch's work per database, on a small thread pool: head the candidate key -> the freshness
of its copies and the plan (both pure) -> export -> hand off, ten jobs at a time while the pool is
still exporting, so the bucket heads and the hand-off hide under the API's rate limit.

One database failing (bucket unreadable, export refused, hand-off lost, even an unexpected
error) is reported for that database and never stops the others.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable
from uuid import UUID

from shared.dispatch.freshness import Watch
from shared.dispatch.plan import KeyLayout, PlanEntry, candidate_key, mark_in_flight, plan_database
from shared.dispatch.ports import BackupCatalog, CopyIndex
from shared.dispatch.report import DatabaseOutcome
from shared.dispatch.request import DispatchRequest
from shared.errors import BackupExportError
from shared.handoff import Handoff, HandoffResult
from shared.models import CopyJob, Database, DatabaseBackup
from shared.observability import log_event

logger = logging.getLogger(__name__)

WORKERS = 16  # keeps the rate limit busy while bucket checks and queue sends wait on I/O; the limiter paces them
HANDOFF_CHUNK = 10  # one SendMessageBatch


@dataclass(frozen=True)
class Preparation:
    request: DispatchRequest
    api: BackupCatalog
    store: CopyIndex
    layout: KeyLayout
    backups: dict[UUID, DatabaseBackup]
    region: str
    now: datetime
    max_age_hours: float
    watch: Watch | None = None  # None: the ledger could not be read, freshness is not assessed

    def prepare(self, db: Database) -> DatabaseOutcome:
        """Head, assess, decide, export, for one database: the heads hide under the API's rate limit."""
        backup = self.backups.get(db.id)
        meta, head_error = _stored_metadata(self.store, candidate_key(db, backup, self.layout) if backup else None)
        outcome = self._decide(db, backup, meta, head_error)
        if self.watch is None:
            return outcome
        return replace(outcome, freshness=self.watch.assess(db, latest=backup, stored_meta=meta, now=self.now))

    def _decide(self, db: Database, backup: DatabaseBackup | None, meta: dict[str, str] | None,
                head_error: BackupExportError | None) -> DatabaseOutcome:
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


def _prepare_one(run: Preparation, db: Database) -> DatabaseOutcome:
    """``run.prepare``, where even an unexpected error stays this database's failure: the
    others go on, and those already exported are still handed off."""
    try:
        return run.prepare(db)
    except Exception:  # noqa: BLE001 - logged with its traceback, reported as internal_error
        logger.exception("preparing a database failed unexpectedly")
        entry = PlanEntry("copy", "unexpected error while preparing", db.id, db.name)
        return DatabaseOutcome(entry, "failed", "internal_error", "unexpected error; see the logs")


def prepare_and_hand_off(
    run: Preparation, databases: list[Database], handoff: Handoff, make_job: Callable[[PlanEntry], CopyJob]
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
