"""Which stored copies to delete, and which rule keeps each of the others: a pure decision over a
listing, no storage calls. ``plan_retention`` is the preview; pruning deletes what it says.

Rules (all optional; with none of the rules that let copies go, nothing is ever pruned):

- ``keep_last=N`` keeps the N newest copies (by the backup's ``created_at``). A copy exactly as
  new as the N-th newest is kept too: equal timestamps never decide by accident which copy dies.
- ``keep_days=D`` keeps every copy created at or after ``now - D days``.
- ``keep_daily``, ``keep_weekly``, ``keep_monthly``, ``keep_yearly`` (grandfather-father-son):
  the newest copy of each of the last N days / ISO weeks / months / years that have a copy
  (UTC). Periods without a copy are skipped, not counted: when copies stop, the last ones stay.
- ``keep_min=K`` (default 1): the K newest copies are always kept, whatever the other rules say.

A copy is kept when ANY rule keeps it: deleting a backup is the one step that cannot be undone,
so the reading that deletes less wins. More reasons keep a copy whatever the rules: its key is
in ``protect`` (the copy just written), or it is under Object Lock, a retention (``locked_until``
later than ``now``) or a legal hold, which the store would refuse to delete anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Hashable, Iterable

from shared.errors import ConfigurationError
from shared.models import as_utc


@dataclass(frozen=True)
class StoredCopy:
    key: str
    backup_id: str
    created_at: datetime
    size: int
    locked_until: datetime | None = None
    legal_hold: bool = False


@dataclass(frozen=True)
class RetentionRules:
    keep_last: int | None = None
    keep_days: float | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    keep_yearly: int | None = None
    keep_min: int = 1

    def __post_init__(self) -> None:
        counts = {"KEEP_LAST": self.keep_last, "KEEP_DAILY": self.keep_daily, "KEEP_WEEKLY": self.keep_weekly,
                  "KEEP_MONTHLY": self.keep_monthly, "KEEP_YEARLY": self.keep_yearly, "KEEP_MIN": self.keep_min}
        for name, value in counts.items():
            if value is not None and value < 1:
                raise ConfigurationError(f"{name} must be at least 1")
        if self.keep_days is not None and not self.keep_days > 0:
            raise ConfigurationError("KEEP_DAYS must be greater than 0")

    @classmethod
    def from_settings(cls, settings: Any) -> RetentionRules:
        return cls(settings.keep_last, settings.keep_days, settings.keep_daily, settings.keep_weekly,
                   settings.keep_monthly, settings.keep_yearly, settings.keep_min)

    @property
    def prunes(self) -> bool:
        """Only these rules let copies go; ``keep_min`` alone protects but never turns pruning on."""
        return any(r is not None for r in (self.keep_last, self.keep_days, self.keep_daily, self.keep_weekly,
                                           self.keep_monthly, self.keep_yearly))


@dataclass(frozen=True)
class Kept:
    copy: StoredCopy
    reasons: tuple[str, ...]  # protected, object_lock, legal_hold, keep_min, keep_last, keep_days, daily, ...


@dataclass(frozen=True)
class RetentionPlan:
    """The preview: what pruning would delete (newest first), and why each other copy stays."""

    delete: tuple[StoredCopy, ...] = ()
    keep: tuple[Kept, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "delete": [_entry(c) for c in self.delete],
            "keep": [{**_entry(k.copy), "reasons": list(k.reasons)} for k in self.keep],
        }


def _entry(copy: StoredCopy) -> dict[str, Any]:
    created = as_utc(copy.created_at).astimezone(timezone.utc)
    return {"key": copy.key, "backup_id": copy.backup_id, "created_at": created.isoformat(), "size": copy.size}


def newest_first(copies: Iterable[StoredCopy]) -> list[StoredCopy]:
    """Newest first; equal timestamps ordered by key so the result is stable."""
    by_key = {copy.key: copy for copy in copies}  # one entry per object, whatever the listing
    return sorted(by_key.values(), key=lambda c: (as_utc(c.created_at), c.key), reverse=True)


_PERIODS: dict[str, Callable[[datetime], Hashable]] = {
    "daily": lambda t: t.date(),
    "weekly": lambda t: t.isocalendar()[:2],  # (ISO year, ISO week)
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: t.year,
}


def plan_retention(copies: Iterable[StoredCopy], rules: RetentionRules, *, now: datetime,
                   protect: set[str] | frozenset[str] = frozenset()) -> RetentionPlan:
    """Every copy either kept, with the rules that keep it, or to be deleted."""
    ordered = newest_first(copies)
    reasons: dict[str, list[str]] = {c.key: [] for c in ordered}
    if not rules.prunes:
        return RetentionPlan(keep=tuple(Kept(c, ("no_pruning_rule",)) for c in ordered))
    for name, keys in _rule_keeps(ordered, rules, now, protect).items():
        for key in keys:
            reasons[key].append(name)
    keep = tuple(Kept(c, tuple(reasons[c.key])) for c in ordered if reasons[c.key])
    return RetentionPlan(delete=tuple(c for c in ordered if not reasons[c.key]), keep=keep)


def _rule_keeps(ordered: list[StoredCopy], rules: RetentionRules, now: datetime,
                protect: set[str] | frozenset[str]) -> dict[str, set[str]]:
    """Rule name -> the keys it keeps (in the order reasons are listed)."""
    now = as_utc(now)
    kept: dict[str, set[str]] = {
        "protected": {c.key for c in ordered if c.key in protect},
        "object_lock": {c.key for c in ordered if c.locked_until is not None and as_utc(c.locked_until) > now},
        "legal_hold": {c.key for c in ordered if c.legal_hold},
        "keep_min": _newest(ordered, rules.keep_min),
    }
    if rules.keep_last is not None:
        kept["keep_last"] = _newest(ordered, rules.keep_last)
    if rules.keep_days is not None:
        floor = now - timedelta(days=rules.keep_days)
        kept["keep_days"] = {c.key for c in ordered if as_utc(c.created_at) >= floor}
    for name, count in (("daily", rules.keep_daily), ("weekly", rules.keep_weekly),
                        ("monthly", rules.keep_monthly), ("yearly", rules.keep_yearly)):
        if count is not None:
            kept[name] = _newest_per_period(ordered, _PERIODS[name], count)
    return kept


def _newest(ordered: list[StoredCopy], count: int) -> set[str]:
    """The ``count`` newest, and any copy exactly as new as the last of them."""
    if len(ordered) <= count:
        return {c.key for c in ordered}
    floor = as_utc(ordered[count - 1].created_at)
    return {c.key for c in ordered if as_utc(c.created_at) >= floor}


def _newest_per_period(ordered: list[StoredCopy], period: Callable[[datetime], Hashable], count: int) -> set[str]:
    """The newest copy of each of the ``count`` most recent periods that have a copy."""
    seen: dict[Hashable, str] = {}
    for copy in ordered:  # newest first: the first copy met in a period is its newest
        bucket = period(as_utc(copy.created_at).astimezone(timezone.utc))
        if bucket not in seen:
            if len(seen) == count:
                break
            seen[bucket] = copy.key
    return set(seen.values())


def select_for_pruning(
    copies: Iterable[StoredCopy],
    *,
    keep_last: int | None,
    keep_days: float | None,
    now: datetime,
    protect: set[str] | frozenset[str] = frozenset(),
    keep_min: int = 1,
) -> list[StoredCopy]:
    """The copies to delete under ``KEEP_LAST`` / ``KEEP_DAYS`` (and ``KEEP_MIN``), newest first."""
    rules = RetentionRules(keep_last=keep_last, keep_days=keep_days, keep_min=keep_min)
    return list(plan_retention(copies, rules, now=now, protect=protect).delete)

