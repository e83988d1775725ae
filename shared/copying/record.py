"""What a verified copy leaves behind for those who watch: its ledger entry and its heartbeat.

The ledger entry (``shared.ledger``) lets the next dispatch run read every database's newest
restore point from one listing; the database's older entries are then removed. The heartbeat
(``HEARTBEAT_URL_TEMPLATE``) tells an outside monitor that this database's copies still arrive.
Neither ever fails the copy: a problem is logged and reported in the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from shared import ledger
from shared.errors import StorageError
from shared.models import CopyJob
from shared.observability import log_event
from shared.settings import Settings
from shared.targets import render_heartbeat

logger = logging.getLogger(__name__)


class LedgerStore(Protocol):
    def put_marker(self, key: str) -> None: ...

    def list_keys(self, prefix: str) -> list[str]: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class Recorded:
    ledger_error: str | None = None  # the storage error code, when the entry could not be written
    heartbeat: dict[str, Any] | None = None  # a PingResult as a dict, when a template is set


def record_verified(store: LedgerStore, settings: Settings, job: CopyJob) -> Recorded:
    """Write the job's ledger entry and ping its heartbeat; never raises."""
    return Recorded(ledger_error=_write_entry(store, settings.backup_prefix, job), heartbeat=_ping(settings, job))


def _write_entry(store: LedgerStore, prefix: str, job: CopyJob) -> str | None:
    point = ledger.RestorePoint(str(job.backup_id), job.backup_created_at)
    key = ledger.verified_key(prefix, job.database_id, point)
    try:
        store.put_marker(key)
        older = [k for k in store.list_keys(ledger.verified_prefix(prefix, job.database_id)) if k < key]
        for stale_entry in older:  # keys sort by restore point: those before ours are older
            store.delete(stale_entry)
    except StorageError as exc:
        log_event(logger, "ledger entry not written", logging.WARNING, database_id=str(job.database_id), code=exc.code)
        return exc.code
    return None


def _ping(settings: Settings, job: CopyJob) -> dict[str, Any] | None:
    if settings.heartbeat_url_template is None:
        return None
    from shared.notify.heartbeats import Heartbeat  # lazy: httpx client only when a template is set

    url = render_heartbeat(settings.heartbeat_url_template.get_secret_value(),
                           database_name=job.database_name, database_id=str(job.database_id))
    with Heartbeat(url) as heartbeat:
        return heartbeat.ping("success", what=f"copy of {job.database_name}").to_dict()
