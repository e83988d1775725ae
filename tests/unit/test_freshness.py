"""Freshness, what to announce, and the ledger's keys: pure decisions, no servers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

from shared import ledger
from shared.dispatch.freshness import announcements_due, assess, recovered, reminder_period
from shared.keys import copy_metadata
from shared.ledger import Announcement, RestorePoint
from shared.models import Database, DatabaseBackup
from shared.targets import heartbeat_template_problem, ping_url, render_heartbeat

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
LONG_AGO = NOW - timedelta(days=90)
DB = Database(id=uuid4(), name="shop", status="ready", created_at=LONG_AGO)


def backup(hours_old: float, size: int = 100) -> DatabaseBackup:
    return DatabaseBackup(id=uuid4(), status="ready", database_id=DB.id, created_at=NOW - timedelta(hours=hours_old),
                          size=size)


def verified_meta(b: DatabaseBackup) -> dict[str, str]:
    return copy_metadata(backup_id=b.id, database_id=DB.id, database_name="shop", created_at=b.created_at,
                         size=b.size, db_size=None, sha256="ab" * 32)


def point(hours_old: float) -> RestorePoint:
    return RestorePoint(str(uuid4()), NOW - timedelta(hours=hours_old))


def fresh(**kw):
    values = dict(latest=None, stored_meta=None, recorded=None, started_at=LONG_AGO, now=NOW, stale_after_hours=30)
    values.update(kw)
    return assess(DB, **values)


def test_age_is_the_restore_point_of_the_newest_verified_copy():
    latest = backup(2)
    assert fresh(latest=latest, recorded=point(26)).age_hours == 26  # today's backup is not copied yet
    both = fresh(latest=latest, stored_meta=verified_meta(latest), recorded=point(26))
    assert (both.age_hours, both.last_copy.backup_id, both.stale) == (2, str(latest.id), False)


def test_an_object_that_is_not_a_verified_copy_does_not_count():
    latest = backup(2)
    unverified = {k: v for k, v in verified_meta(latest).items() if k != "sdb-sha256"}
    assert fresh(latest=latest, stored_meta=unverified, recorded=point(50)).age_hours == 50


def test_stale_beyond_the_limit_not_at_it():
    assert fresh(recorded=point(30.5)).stale and not fresh(recorded=point(29.5)).stale


def test_without_any_copy_the_watch_starts_when_the_ledger_began_or_the_database_was_created():
    first_run = fresh(started_at=NOW)
    assert (first_run.stale, first_run.last_copy, first_run.watching_since) == (False, None, NOW)
    assert fresh(started_at=NOW - timedelta(hours=31)).stale
    young = Database(id=DB.id, name="shop", status="ready", created_at=NOW - timedelta(hours=5))
    assert not assess(young, latest=None, stored_meta=None, recorded=None, started_at=LONG_AGO, now=NOW,
                      stale_after_hours=30).stale


def test_a_stale_database_is_announced_once_per_period_and_again_when_it_is_about_another_copy():
    stale = fresh(recorded=point(50))
    about = stale.about
    due = lambda announced, at=NOW: announcements_due([stale], announced, now=at, stale_after_hours=30)  # noqa: E731
    assert due({}) == [stale]
    assert due({DB.id: Announcement(NOW - timedelta(hours=29), about)}) == []
    assert due({DB.id: Announcement(NOW - timedelta(hours=30), about)}) == [stale]  # the reminder
    assert due({DB.id: Announcement(NOW - timedelta(hours=1), "another-backup")}) == [stale]
    assert announcements_due([fresh(recorded=point(3))], {}, now=NOW, stale_after_hours=30) == []


def test_a_database_fresh_again_is_forgotten():
    announced = {DB.id: Announcement(NOW - timedelta(hours=1), "x")}
    assert recovered([fresh(recorded=point(3))], announced) == [DB.id]
    assert recovered([fresh(recorded=point(40))], announced) == []


def test_the_reminder_period_changes_once_per_stale_after_hours():
    periods = {reminder_period(NOW + timedelta(hours=h), 30) for h in range(0, 30)}
    assert len(periods) <= 2 and reminder_period(NOW + timedelta(hours=30), 30) == reminder_period(NOW, 30) + 1


def test_the_ledger_reads_back_what_its_keys_say_and_ignores_the_rest():
    db, other = uuid4(), uuid4()
    old, new = point(50), point(20)
    keys = [ledger.verified_key("pre", db, old), ledger.verified_key("pre", db, new),
            ledger.stale_key("pre", db, NOW - timedelta(hours=2), old.backup_id),
            ledger.stale_key("pre", db, NOW - timedelta(hours=40), "none"),
            ledger.started_key("pre", NOW - timedelta(days=3)), ledger.started_key("pre", NOW - timedelta(days=1)),
            "pre/.sdb-backup-export/verified/not-a-uuid/20261126T000000.000000Z_x",
            f"pre/.sdb-backup-export/verified/{other}/garbage", "pre/shop/2026/11/26/x.dump",
            ledger.verified_key("", other, new)]  # another prefix
    read = ledger.read_ledger(keys, "pre/")
    assert read.verified == {db: new}
    assert read.announced == {db: Announcement(NOW - timedelta(hours=2), old.backup_id)}
    assert read.started_at == NOW - timedelta(days=3)  # the earliest
    assert read.verified_keys[db] == (keys[0], keys[1]) and len(read.stale_keys[db]) == 2
    assert all(isinstance(k, UUID) for k in read.verified)


def test_heartbeat_urls_follow_the_push_convention():
    assert ping_url("https://hc-ping.com/abc", "start") == "https://hc-ping.com/abc/start"
    assert ping_url("https://hc-ping.com/abc/", "fail") == "https://hc-ping.com/abc/fail"
    assert ping_url("https://hc-ping.com/abc", "success") == "https://hc-ping.com/abc"
    assert ping_url("https://kuma.example/api/push/T0K?status=up", "fail") == "https://kuma.example/api/push/T0K/fail?status=up"
    assert render_heartbeat("https://hc-ping.com/k/{database_name}", database_name="a b/c", database_id="1") == \
        "https://hc-ping.com/k/a%20b%2Fc"
    assert heartbeat_template_problem("https://hc-ping.com/{database_id}") is None
    assert heartbeat_template_problem("https://hc-ping.com/{backup_id}") is not None
    assert heartbeat_template_problem("https://hc-ping.com/static") is not None
    assert heartbeat_template_problem("not a url/{database_name}") is not None
