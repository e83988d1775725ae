"""Retention is a pure decision: which keys of a listing get deleted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.errors import ConfigurationError
from shared.copying.retention import StoredCopy, newest_first, select_for_pruning

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def copy_aged(days: float, name: str | None = None) -> StoredCopy:
    key = name or f"db/{days:g}d.dump"
    return StoredCopy(key=key, backup_id=f"b-{key}", created_at=NOW - timedelta(days=days), size=100)


def keys(copies: list[StoredCopy]) -> list[str]:
    return [c.key for c in copies]


def daily(n: int) -> list[StoredCopy]:
    """n copies, one per day, 0..n-1 days old, listed oldest first (as a listing might be)."""
    return [copy_aged(d) for d in reversed(range(n))]


def test_no_rule_never_prunes() -> None:
    assert select_for_pruning(daily(30), keep_last=None, keep_days=None, now=NOW) == []


def test_empty_listing() -> None:
    assert select_for_pruning([], keep_last=3, keep_days=7, now=NOW) == []


def test_keep_last_prunes_everything_beyond_the_newest_n() -> None:
    pruned = select_for_pruning(daily(5), keep_last=2, keep_days=None, now=NOW)
    assert keys(pruned) == ["db/2d.dump", "db/3d.dump", "db/4d.dump"]  # newest first


def test_keep_last_with_fewer_copies_keeps_all() -> None:
    assert select_for_pruning(daily(3), keep_last=3, keep_days=None, now=NOW) == []
    assert select_for_pruning(daily(2), keep_last=5, keep_days=None, now=NOW) == []


def test_keep_days_prunes_only_older_than_the_cutoff() -> None:
    copies = [copy_aged(6.9), copy_aged(7), copy_aged(7.1), copy_aged(30)]
    pruned = select_for_pruning(copies, keep_last=None, keep_days=7, now=NOW)
    assert keys(pruned) == ["db/7.1d.dump", "db/30d.dump"]  # exactly 7 days old is kept


def test_both_rules_keep_a_copy_that_either_rule_keeps() -> None:
    copies = daily(10)
    # keep_last=3 alone prunes 3..9 days; keep_days=5 alone prunes 6..9 days
    pruned = select_for_pruning(copies, keep_last=3, keep_days=5, now=NOW)
    assert keys(pruned) == ["db/6d.dump", "db/7d.dump", "db/8d.dump", "db/9d.dump"]
    # keep_days alone would prune all old copies; keep_last still saves the newest two
    old = [copy_aged(d) for d in (40, 41, 42)]
    assert keys(select_for_pruning(old, keep_last=2, keep_days=5, now=NOW)) == ["db/42d.dump"]


def test_protected_keys_are_never_pruned() -> None:
    copies = daily(5)
    pruned = select_for_pruning(copies, keep_last=1, keep_days=None, now=NOW, protect={"db/3d.dump"})
    assert keys(pruned) == ["db/1d.dump", "db/2d.dump", "db/4d.dump"]


def test_equal_timestamps_at_the_boundary_are_all_kept() -> None:
    twins = [copy_aged(1, "db/a.dump"), copy_aged(1, "db/b.dump"), copy_aged(2, "db/c.dump")]
    pruned = select_for_pruning(twins, keep_last=1, keep_days=None, now=NOW)
    assert keys(pruned) == ["db/c.dump"]


def test_equal_timestamps_order_is_stable() -> None:
    twins = [copy_aged(1, "db/a.dump"), copy_aged(1, "db/c.dump"), copy_aged(1, "db/b.dump")]
    assert keys(newest_first(twins)) == ["db/c.dump", "db/b.dump", "db/a.dump"]
    assert keys(newest_first(list(reversed(twins)))) == ["db/c.dump", "db/b.dump", "db/a.dump"]


def test_duplicate_keys_in_a_listing_are_returned_once() -> None:
    copies = daily(3) + daily(3)
    assert keys(select_for_pruning(copies, keep_last=1, keep_days=None, now=NOW)) == ["db/1d.dump", "db/2d.dump"]


def test_naive_timestamps_are_read_as_utc() -> None:
    naive = StoredCopy(key="db/naive.dump", backup_id="b", created_at=datetime(2026, 11, 1, 12, 0), size=1)
    pruned = select_for_pruning([naive, copy_aged(0)], keep_last=None, keep_days=7, now=NOW)
    assert keys(pruned) == ["db/naive.dump"]


def test_copies_from_the_future_are_kept() -> None:
    future = copy_aged(-1, "db/future.dump")
    assert select_for_pruning([future], keep_last=None, keep_days=1, now=NOW) == []


@pytest.mark.parametrize(("keep_last", "keep_days"), [(0, None), (-1, None), (None, 0), (None, -2.5)])
def test_rules_that_would_delete_everything_are_refused(keep_last: int | None, keep_days: float | None) -> None:
    with pytest.raises(ConfigurationError):
        select_for_pruning(daily(3), keep_last=keep_last, keep_days=keep_days, now=NOW)
