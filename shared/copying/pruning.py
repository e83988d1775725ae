"""Retention applied after a copy: list this database's verified copies, let ``shared.copying.retention``
choose, delete. Kept apart from ``shared.copying.steps`` (the copy steps) and from ``shared.copying.retention``
(the pure choice, no storage calls). Pruning never fails the copy: problems are logged and reported.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from shared import keys
from shared.errors import BackupExportError, StorageError
from shared.models import CopyJob
from shared.observability import log_event
from shared.copying.retention import StoredCopy, select_for_pruning
from shared.settings import Settings
from shared.storage import ObjectStore, StoredObject

if TYPE_CHECKING:
    from shared.copying.run import CopyReport

logger = logging.getLogger("shared.copying.run")  # the copy use case's logger: log lines keep the name they had


def prune_copies(store: ObjectStore, settings: Settings, job: CopyJob, report: CopyReport) -> None:
    """Delete the copies retention no longer keeps (never the job's own), adding to ``report``."""
    if settings.keep_last is None and settings.keep_days is None:
        return
    try:
        doomed = _doomed(store, settings, job)
    except BackupExportError as exc:
        report.prune_errors.append(exc.code)
        log_event(logger, "pruning skipped", logging.ERROR, code=exc.code)
        return
    for copy in doomed:
        try:
            store.delete(copy.key)
            report.pruned.append(copy.key)
        except StorageError as exc:
            report.prune_errors.append(f"{copy.key}: {exc.code}")
    log_event(logger, "pruned", deleted=len(report.pruned), errors=len(report.prune_errors))


def _doomed(store: ObjectStore, settings: Settings, job: CopyJob) -> list[StoredCopy]:
    prefix = keys.database_prefix(settings.backup_key_template, settings.backup_prefix,
                                  database_name=job.database_name, database_id=job.database_id)
    mine = [_stored_copy(o) for o in store.list_copies(prefix)
            if o.metadata.get(keys.META_DATABASE_ID) == str(job.database_id) and o.metadata.get(keys.META_SHA256)]
    return select_for_pruning(mine, keep_last=settings.keep_last, keep_days=settings.keep_days,
                              now=datetime.now(timezone.utc), protect={job.object_key})


def _stored_copy(obj: StoredObject) -> StoredCopy:
    raw = obj.metadata.get(keys.META_CREATED_AT, "")
    try:
        created = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        created = None
    created = created or obj.last_modified or datetime.fromtimestamp(0, timezone.utc)
    return StoredCopy(key=obj.key, backup_id=obj.metadata.get(keys.META_BACKUP_ID, ""), created_at=created,
                      size=obj.size)
