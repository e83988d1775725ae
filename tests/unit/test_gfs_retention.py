"""Retention that protects: GFS periods, KEEP_MIN, Object Lock, and the preview's reasons (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.copying.retention import RetentionRules, StoredCopy, plan_retention
from shared.errors import ConfigurationError

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def copy_at(stamp: str, locked_until: datetime | None = None, legal_hold: bool = False) -> StoredCopy:
    """A copy of the backup made at ``stamp`` ("2026-11-26 03:00"), keyed by that date."""
    created = datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc)
    return StoredCopy(key=f"db/{stamp}", backup_id=f"b-{stamp}", created_at=created, size=1, locked_until=locked_until,
                      legal_hold=legal_hold)


def kept(copies: list[StoredCopy], rules: RetentionRules, **kw) -> set[str]:
    return {k.copy.key.removeprefix("db/") for k in plan_retention(copies, rules, now=NOW, **kw).keep}


# A year of nightly copies with gaps, two copies on some days, across ISO week, month and year turns.
TABLE = [copy_at(s) for s in (
    "2026-11-26 03:00", "2026-11-25 03:00", "2026-11-25 15:00",  # two on the 25th: 15:00 is that day's newest
    "2026-11-23 03:00",  # Monday of ISO week 48 (the 24th is missing)
    "2026-11-22 03:00", "2026-11-16 03:00",  # the Sunday and the Monday of ISO week 47
    "2026-11-01 03:00", "2026-10-31 03:00", "2026-10-15 03:00", "2026-09-30 03:00",
    "2026-01-01 03:00", "2025-12-31 03:00", "2025-06-01 03:00", "2024-12-31 03:00",
)]


def test_daily_keeps_the_newest_copy_of_each_of_the_last_days_that_have_one():
    # the 24th has no copy: it is skipped, not counted, so three days reach back to the 23rd
    assert kept(TABLE, RetentionRules(keep_daily=3)) == {"2026-11-26 03:00", "2026-11-25 15:00", "2026-11-23 03:00"}


def test_weekly_monthly_yearly_each_keep_the_newest_copy_of_their_periods():
    # ISO weeks with a copy: 48 (Nov 23-29), 47 (Nov 16-22), then 44 (Oct 26 - Nov 1): 45 and 46 have none
    assert kept(TABLE, RetentionRules(keep_weekly=3)) == {"2026-11-26 03:00", "2026-11-22 03:00", "2026-11-01 03:00"}
    assert kept(TABLE, RetentionRules(keep_monthly=4)) == {"2026-11-26 03:00", "2026-10-31 03:00",
                                                          "2026-09-30 03:00", "2026-01-01 03:00"}
    assert kept(TABLE, RetentionRules(keep_yearly=3)) == {"2026-11-26 03:00", "2025-12-31 03:00", "2024-12-31 03:00"}


def test_gfs_rules_combine_with_keep_last_and_keep_days_a_copy_any_rule_keeps_is_kept():
    rules = RetentionRules(keep_last=2, keep_days=4, keep_daily=2, keep_weekly=2, keep_monthly=2, keep_yearly=2)
    plan = plan_retention(TABLE, rules, now=NOW)
    assert {k.copy.key.removeprefix("db/") for k in plan.keep} == {
        "2026-11-26 03:00", "2026-11-25 15:00",  # last 2, daily 2, keep_days
        "2026-11-25 03:00", "2026-11-23 03:00",  # keep_days (within 4 days of NOW)
        "2026-11-22 03:00",  # weekly: week 47
        "2026-10-31 03:00",  # monthly: October
        "2025-12-31 03:00",  # yearly: 2025
    }
    reasons = {k.copy.key: k.reasons for k in plan.keep}
    assert reasons["db/2026-11-26 03:00"] == ("keep_min", "keep_last", "keep_days", "daily", "weekly", "monthly",
                                             "yearly")
    assert reasons["db/2026-11-22 03:00"] == ("weekly",)
    assert [c.key for c in plan.delete] == ["db/2026-11-16 03:00", "db/2026-11-01 03:00", "db/2026-10-15 03:00",
                                            "db/2026-09-30 03:00", "db/2026-01-01 03:00", "db/2025-06-01 03:00",
                                            "db/2024-12-31 03:00"]  # newest first


def test_keep_min_keeps_the_newest_copies_when_every_other_rule_would_delete_them():
    # exports failed for ten days: every copy is older than KEEP_DAYS
    stale = [copy_at(f"2026-11-{day:02d} 03:00") for day in (16, 15, 14, 13)]
    assert kept(stale, RetentionRules(keep_days=7)) == {"2026-11-16 03:00"}  # KEEP_MIN defaults to 1
    plan = plan_retention(stale, RetentionRules(keep_days=7, keep_min=3), now=NOW)
    assert {k.copy.key: k.reasons for k in plan.keep} == {
        "db/2026-11-16 03:00": ("keep_min",), "db/2026-11-15 03:00": ("keep_min",),
        "db/2026-11-14 03:00": ("keep_min",)}
    assert [c.key for c in plan.delete] == ["db/2026-11-13 03:00"]


def test_a_locked_copy_is_kept_until_its_retention_ends_and_protected_keys_always():
    copies = [copy_at("2026-11-26 03:00"), copy_at("2026-11-10 03:00", locked_until=NOW + timedelta(days=1)),
              copy_at("2026-11-09 03:00", locked_until=NOW - timedelta(seconds=1)), copy_at("2026-11-08 03:00"),
              copy_at("2026-11-07 03:00", legal_hold=True)]
    plan = plan_retention(copies, RetentionRules(keep_last=1), now=NOW, protect=frozenset({"db/2026-11-08 03:00"}))
    assert {k.copy.key: k.reasons for k in plan.keep} == {
        "db/2026-11-26 03:00": ("keep_min", "keep_last"), "db/2026-11-10 03:00": ("object_lock",),
        "db/2026-11-08 03:00": ("protected",), "db/2026-11-07 03:00": ("legal_hold",)}
    assert [c.key for c in plan.delete] == ["db/2026-11-09 03:00"]  # its retention has ended


def test_without_a_rule_that_lets_copies_go_nothing_is_deleted_and_the_preview_says_why():
    plan = plan_retention(TABLE, RetentionRules(keep_min=2), now=NOW)
    assert plan.delete == () and {k.reasons for k in plan.keep} == {("no_pruning_rule",)}
    assert plan.to_dict()["delete"] == [] and len(plan.to_dict()["keep"]) == len(TABLE)


@pytest.mark.parametrize("rules", [dict(keep_daily=0), dict(keep_min=0), dict(keep_days=0), dict(keep_yearly=-1)])
def test_rules_below_their_minimum_are_a_configuration_error(rules):
    with pytest.raises(ConfigurationError):
        RetentionRules(**rules)
