"""What one copy invocation produced, and the HTTP status that tells the platform what to do next.

``CopyResult`` is a frozen value: each step of the copy returns its part and the use case puts
them together. ``copy_status`` is the one place where an outcome becomes a status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from shared.errors import BackupExportError
from shared.models import as_utc

Outcome = Literal["copied", "already_copied", "continued", "in_progress", "not_ready", "failed"]


@dataclass(frozen=True)
class CopyError:
    code: str
    message: str
    retryable: bool
    status: int = 500  # the error's own HTTP status: 422 says the job itself is wrong

    @classmethod
    def of(cls, exc: BackupExportError) -> CopyError:
        return cls(exc.code, exc.message, exc.retryable, exc.status)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


@dataclass(frozen=True)
class Verified:
    """The complete object at the key, verified (size, multipart ETag, SHA-256), not stamped yet."""

    size: int
    sha256: str
    parts: int
    seconds: float
    throughput_mb_s: float
    etag: str  # the object's ETag when verified: the stamp applies only to that object
    resumed_parts: int = 0  # parts an earlier invocation had stored


@dataclass(frozen=True)
class HandedOver:
    """The copy stopped before the function timeout and handed itself a continuation."""

    size: int
    parts: int


@dataclass(frozen=True)
class FoundCopied:
    """Another delivery of the same job published and stamped the object first."""


Step = Verified | HandedOver | FoundCopied


@dataclass(frozen=True)
class Pruned:
    deleted: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class CopyResult:
    outcome: Outcome
    backup_id: str
    key: str
    size: int | None = None
    sha256: str | None = None
    parts: int | None = None
    resumed_parts: int | None = None
    seconds: float | None = None
    throughput_mb_s: float | None = None
    error: CopyError | None = None
    pruned: tuple[str, ...] = ()
    prune_errors: tuple[str, ...] = ()
    notifications: tuple[dict[str, Any], ...] = ()
    heartbeat: dict[str, Any] | None = None  # the per-database ping (HEARTBEAT_URL_TEMPLATE), host only
    ledger_error: str | None = None  # the copy's freshness entry could not be written (shared.ledger)

    def to_dict(self) -> dict[str, Any]:
        body = {k: v for k, v in asdict(self).items() if v not in (None, (), [])}
        if self.error is not None:
            body["error"] = self.error.to_dict()
        return body


def copy_status(outcome: Outcome, error: CopyError | None, deadline: datetime, now: datetime) -> int:
    """200 done (or failed for good: a redelivery cannot help), 202 continued, 422 the job itself
    is wrong (its backup is not where it says), 503 "deliver again" (not ready, another
    invocation is writing the copy right now, or a failure a retry can help)."""
    if outcome in ("copied", "already_copied"):
        return 200
    if outcome == "continued":
        return 202
    if outcome in ("not_ready", "in_progress"):
        return 503
    if error is not None and error.status == 422:
        return 422
    retry_helps = error is not None and error.retryable and as_utc(now) < as_utc(deadline)
    return 503 if retry_helps else 200
