"""What a dispatch run did for each database, and the one status that says it.

Values, not shared state: each database's ``DatabaseOutcome`` is frozen, and a hand-off that
changes it makes a new one. ``dispatch_status`` maps a run to the function's HTTP status.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Sequence

from shared.dispatch.freshness import Freshness
from shared.dispatch.plan import PlanEntry
from shared.errors import BackupExportError


@dataclass(frozen=True)
class DatabaseOutcome:
    entry: PlanEntry
    status: str  # the plan's action, or would_copy | exported -> handed_off | failed
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False
    freshness: Freshness | None = None  # None when it could not be read (or for a database not found)

    @classmethod
    def failed(cls, entry: PlanEntry, exc: BackupExportError) -> DatabaseOutcome:
        return cls(entry, "failed", exc.code, exc.message, exc.retryable)

    def handed_off(self, ok: bool, code: str | None = None, message: str | None = None) -> DatabaseOutcome:
        if ok:
            return replace(self, status="handed_off")
        return replace(self, status="failed", error_code=code, error_message=message, retryable=True)

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        out: dict[str, Any] = {
            "database_id": str(e.database_id) if e.database_id else None,
            "database_name": e.database_name,
            "status": self.status,
            "reason": e.reason,
            "backup_id": str(e.backup_id) if e.backup_id else None,
            "created_at": e.created_at.isoformat() if e.created_at else None,
            "size": e.size,
            "object_key": e.object_key,
        }
        if self.status == "failed":
            out["error"] = {"code": self.error_code, "message": self.error_message}
        if self.freshness is not None:
            out["freshness"] = self.freshness.to_dict()
        return out


def dispatch_status(outcomes: Sequence[DatabaseOutcome]) -> int:
    """200 every database handled, 207 some failed, 503 all failed but a retry may help, else 502."""
    failed = [o for o in outcomes if o.status == "failed"]
    if not failed:
        return 200
    if len(failed) < len(outcomes):
        return 207
    return 503 if all(o.retryable for o in failed) else 502


@dataclass(frozen=True)
class DispatchResult:
    run_id: str
    dry_run: bool
    requested_by: str
    databases: tuple[DatabaseOutcome, ...] = ()
    announced: tuple[str, ...] = ()  # databases a backup.stale notice was sent for in this run
    notifications: tuple[dict[str, Any], ...] = ()  # delivery results of the run's own notices
    heartbeats: tuple[dict[str, Any], ...] = ()  # HEARTBEAT_URL pings (host only, never the URL)

    @property
    def summary(self) -> dict[str, int]:
        return dict(Counter(o.status for o in self.databases))

    @property
    def freshness(self) -> tuple[Freshness, ...]:
        """Each database's freshness, where it could be read."""
        return tuple(o.freshness for o in self.databases if o.freshness is not None)

    @property
    def stale(self) -> tuple[str, ...]:
        return tuple(f.database_name for f in self.freshness if f.stale)

    @property
    def status(self) -> int:
        return dispatch_status(self.databases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "requested_by": self.requested_by,
            "summary": self.summary,
            "stale": list(self.stale),
            "announced": list(self.announced),
            "databases": [o.to_dict() for o in self.databases],
            "notifications": list(self.notifications),
            "heartbeats": list(self.heartbeats),
        }
