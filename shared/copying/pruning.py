"""Retention applied after a copy: list this database's verified copies, let ``shared.copying.retention``
(the pure choice) decide, delete. Pruning never fails the copy: problems are logged and reported.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from shared import keys
from shared.errors import BackupExportError, StorageError
from shared.models import CopyJob
from shared.observability import log_event
from shared.copying.ports import CopyStore
from shared.copying.result import Pruned
from shared.copying.retention import StoredCopy, select_for_pruning
from shared.settings import Settings
from shared.storage import StoredObject

logger = logging.getLogger(__name__)


def prune_copies(store: CopyStore, settings: Settings, job: CopyJob, now: datetime) -> Pruned:
    """Delete the copies retention no longer keeps (never the job's own); never raises."""
    if settings.keep_last is None and settings.keep_days is None:
        return Pruned()
    try:
        doomed = _doomed(store, settings, job, now)
    except BackupExportError as exc:
        log_event(logger, "pruning skipped", logging.ERROR, code=exc.code)
        return Pruned(errors=(exc.code,))
    deleted, errors = [], []
    for copy in doomed:
        try:
            store.delete(copy.key)
            deleted.append(copy.key)
        except StorageError as exc:
            errors.append(f"{copy.key}: {exc.code}")
    log_event(logger, "pruned", deleted=len(deleted), errors=len(errors))
    return Pruned(tuple(deleted), tuple(errors))


def _doomed(store: CopyStore, settings: Settings, job: CopyJob, now: datetime) -> list[StoredCopy]:
    prefix = keys.database_prefix(settings.backup_key_template, settings.backup_prefix,
                                  database_name=job.database_name, database_id=job.database_id)
    mine = [_stored_copy(o) for o in store.list_copies(prefix)
            if o.metadata.get(keys.META_DATABASE_ID) == str(job.database_id) and o.metadata.get(keys.META_SHA256)]
    return select_for_pruning(mine, keep_last=settings.keep_last, keep_days=settings.keep_days,
                              now=now, protect={job.object_key})


def _stored_copy(obj: StoredObject) -> StoredCopy:
    raw = obj.metadata.get(keys.META_CREATED_AT, "")
    try:
        created = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        created = None
    created = created or obj.last_modified or datetime.fromtimestamp(0, timezone.utc)
    return StoredCopy(key=obj.key, backup_id=obj.metadata.get(keys.META_BACKUP_ID, ""), created_at=created,
                      size=obj.size)
