"""Retention applied after a copy: list this database's verified copies, let ``shared.copying.retention``
(the pure choice) decide, delete. Pruning never fails the copy: problems are logged and reported.

``preview_pruning`` is the same listing and decision without deleting anything, for a dry run:
what would be deleted, and which rule keeps each other copy; ``preview_from_settings`` builds
the bucket's client itself (for the CLI).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from uuid import UUID

from shared import keys
from shared.copying.ports import CopyStore
from shared.copying.result import Pruned
from shared.copying.retention import RetentionPlan, RetentionRules, StoredCopy, plan_retention
from shared.errors import BackupExportError, StorageError
from shared.models import CopyJob
from shared.observability import log_event
from shared.settings import Settings
from shared.storage import StoredObject

logger = logging.getLogger(__name__)


def preview_pruning(store: CopyStore, settings: Settings, *, database_name: str, database_id: UUID | str,
                    now: datetime, protect: frozenset[str] = frozenset()) -> RetentionPlan:
    """What pruning would do to this database's verified copies now. Raises ``StorageError`` when
    the bucket cannot be listed; deletes nothing."""
    prefix = keys.database_prefix(settings.backup_key_template, settings.backup_prefix,
                                  database_name=database_name, database_id=database_id)
    mine = [_stored_copy(o) for o in store.list_copies(prefix)
            if o.metadata.get(keys.META_DATABASE_ID) == str(database_id) and o.metadata.get(keys.META_SHA256)]
    return plan_retention(mine, RetentionRules.from_settings(settings), now=now, protect=protect)


def preview_from_settings(settings: Settings, *, database_name: str, database_id: UUID | str,
                          now: datetime | None = None) -> RetentionPlan:
    """``preview_pruning`` with a store built from ``settings`` (and closed), at ``now`` or the current time."""
    from shared.storage import ObjectStore

    store = ObjectStore.from_settings(settings)
    try:
        return preview_pruning(store, settings, database_name=database_name, database_id=database_id,
                               now=now or datetime.now(timezone.utc))
    finally:
        store.close()


def prune_copies(store: CopyStore, settings: Settings, job: CopyJob, now: datetime) -> Pruned:
    """Delete the copies retention no longer keeps (never the job's own); never raises."""
    if not settings.prunes:
        return Pruned()
    try:
        plan = preview_pruning(store, settings, database_name=job.database_name, database_id=job.database_id,
                               now=now, protect=frozenset({job.object_key}))
    except BackupExportError as exc:
        log_event(logger, "pruning skipped", logging.ERROR, code=exc.code)
        return Pruned(errors=(exc.code,))
    deleted, errors = [], []
    for copy in plan.delete:
        try:
            store.delete(copy.key)
            deleted.append(copy.key)
        except StorageError as exc:
            errors.append(f"{copy.key}: {exc.code}")
    locked = sum(1 for kept in plan.keep if "object_lock" in kept.reasons)
    log_event(logger, "pruned", deleted=len(deleted), kept=len(plan.keep), locked=locked, errors=len(errors))
    return Pruned(tuple(deleted), tuple(errors))


def _stored_copy(obj: StoredObject) -> StoredCopy:
    raw = obj.metadata.get(keys.META_CREATED_AT, "")
    try:
        created = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        created = None
    created = created or obj.last_modified or datetime.fromtimestamp(0, timezone.utc)
    return StoredCopy(key=obj.key, backup_id=obj.metadata.get(keys.META_BACKUP_ID, ""), created_at=created,
                      size=obj.size, locked_until=obj.lock_until if obj.lock_mode else None,
                      legal_hold=obj.legal_hold)
