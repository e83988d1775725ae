"""Which stored copies to delete: a pure decision over a listing, no storage calls.

Rules (both optional; with neither set nothing is ever pruned):

- ``keep_last=N`` keeps the N newest copies (by the backup's ``created_at``). A copy exactly as
  new as the N-th newest is kept too: equal timestamps never decide by accident which copy dies.
- ``keep_days=D`` keeps every copy created at or after ``now - D days``.

With both rules set a copy is kept when EITHER rule keeps it (it is pruned only when both would
prune it): deleting a backup is the one step that cannot be undone, so the reading that deletes
less wins. Keys in ``protect`` (e.g. the copy just written) are never pruned, whatever the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable

from shared.errors import ConfigurationError
from shared.models import as_utc


@dataclass(frozen=True)
class StoredCopy:
    key: str
    backup_id: str
    created_at: datetime
    size: int


def _check_rules(keep_last: int | None, keep_days: float | None) -> None:
    if keep_last is not None and keep_last < 1:
        raise ConfigurationError("KEEP_LAST must be at least 1")
    if keep_days is not None and not keep_days > 0:
        raise ConfigurationError("KEEP_DAYS must be greater than 0")


def newest_first(copies: Iterable[StoredCopy]) -> list[StoredCopy]:
    """Newest first; equal timestamps ordered by key so the result is stable."""
    by_key = {copy.key: copy for copy in copies}  # one entry per object, whatever the listing
    return sorted(by_key.values(), key=lambda c: (as_utc(c.created_at), c.key), reverse=True)


def select_for_pruning(
    copies: Iterable[StoredCopy],
    *,
    keep_last: int | None,
    keep_days: float | None,
    now: datetime,
    protect: set[str] | frozenset[str] = frozenset(),
) -> list[StoredCopy]:
    """The copies to delete, newest first. See the module docstring for the rules."""
    _check_rules(keep_last, keep_days)
    if keep_last is None and keep_days is None:
        return []
    ordered = newest_first(copies)
    count_floor = _count_floor(ordered, keep_last)
    age_floor = as_utc(now) - timedelta(days=keep_days) if keep_days is not None else None
    return [
        copy
        for copy in ordered
        if copy.key not in protect
        and (count_floor is None or as_utc(copy.created_at) < count_floor)
        and (age_floor is None or as_utc(copy.created_at) < age_floor)
    ]


def _count_floor(ordered: list[StoredCopy], keep_last: int | None) -> datetime | None:
    """Copies older than this are beyond the newest ``keep_last``; None when no count rule."""
    if keep_last is None:
        return None
    if len(ordered) <= keep_last:
        return datetime.min.replace(tzinfo=timezone.utc)  # fewer copies than N: keep all
    return as_utc(ordered[keep_last - 1].created_at)
