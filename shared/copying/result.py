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

Outcome = Literal["copied", "already_copied", "continued", "not_ready", "failed"]


@dataclass(frozen=True)
class CopyError:
    code: str
    message: str
    retryable: bool

    @classmethod
    def of(cls, exc: BackupExportError) -> CopyError:
        return cls(exc.code, exc.message, exc.retryable)


@dataclass(frozen=True)
class Published:
    """A verified object at the key, stamped with its SHA-256 by this invocation."""

    size: int
    sha256: str
    parts: int
    seconds: float
    throughput_mb_s: float


@dataclass(frozen=True)
class HandedOver:
    """The copy stopped before the function timeout and handed itself a continuation."""

    size: int
    parts: int


@dataclass(frozen=True)
class FoundCopied:
    """Another delivery of the same job published and stamped the object first."""


Step = Published | HandedOver | FoundCopied


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
    seconds: float | None = None
    throughput_mb_s: float | None = None
    error: CopyError | None = None
    pruned: tuple[str, ...] = ()
    prune_errors: tuple[str, ...] = ()
    notifications: tuple[dict[str, Any], ...] = ()
    heartbeat: dict[str, Any] | None = None  # the per-database ping (HEARTBEAT_URL_TEMPLATE), host only
    ledger_error: str | None = None  # the copy's freshness entry could not be written (shared.ledger)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, (), [])}


def copy_status(outcome: Outcome, error: CopyError | None, deadline: datetime, now: datetime) -> int:
    """200 done (or failed for good: a redelivery cannot help), 202 continued, 503 "deliver again"."""
    if outcome in ("copied", "already_copied"):
        return 200
    if outcome == "continued":
        return 202
    if outcome == "not_ready":
        return 503
    retry_helps = error is not None and error.retryable and as_utc(now) < as_utc(deadline)
    return 503 if retry_helps else 200
