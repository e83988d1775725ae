"""Planning is pure: every outcome from plain data, no servers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from shared.keys import copy_metadata
from shared.models import Database, DatabaseBackup
from shared.dispatch.plan import KeyLayout, mark_in_flight, missing_entries, plan_database, select_databases
from shared.settings import DEFAULT_KEY_TEMPLATE

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)
PROJECT = UUID("11111111-1111-4111-8111-111111111111")
LAYOUT = KeyLayout(DEFAULT_KEY_TEMPLATE, "sdb", str(PROJECT), "fr-par")


def db(name: str) -> Database:
    return Database(id=uuid4(), name=name, status="ready", project_id=PROJECT, region="fr-par")


def backup(database: Database, hours_old: float | None, size: int | None = 1000) -> DatabaseBackup:
    created = NOW - timedelta(hours=hours_old) if hours_old is not None else None
    return DatabaseBackup(id=uuid4(), status="ready", database_id=database.id, created_at=created, size=size)


def verified(b: DatabaseBackup, *, size: int | None = None, sha: str | None = "ab" * 32) -> dict[str, str]:
    return copy_metadata(backup_id=b.id, database_id=b.database_id, database_name="x", created_at=b.created_at,
                         size=b.size if size is None else size, db_size=None, sha256=sha)


def key_of(database: Database, b: DatabaseBackup) -> str:
    return f"sdb/{database.name}/{b.created_at:%Y/%m/%d}/{b.id}.dump"


def plan(d: Database, b: DatabaseBackup | None, stored: dict[str, str] | None = None, *, force: bool = False):
    """What production calls for each database: its latest backup and the metadata at its key."""
    return plan_database(d, b, stored, layout=LAYOUT, max_age_hours=36, force=force, now=NOW)


# (case, hours_old, stored metadata builder, force, expected action, words in the reason)
CASES = [
    ("fresh, nothing stored", 5, None, False, "copy", "no copy"),
    ("fresh, verified copy stored", 5, lambda b: verified(b), False, "already_copied", "verified copy"),
    ("verified copy but forced", 5, lambda b: verified(b), True, "copy", "forced"),
    ("copy without checksum (unverified)", 5, lambda b: verified(b, sha=None), False, "copy", "not a verified"),
    ("copy of another size", 5, lambda b: verified(b, size=999), False, "copy", "not a verified"),
    ("foreign object at the key", 5, lambda b: {"owner": "someone"}, False, "copy", "not a verified"),
    ("too old", 40, None, False, "too_old", "40.0 h old"),
    ("too old but already copied", 40, lambda b: verified(b), False, "already_copied", "verified copy"),
    ("too old and forced", 40, lambda b: verified(b), True, "too_old", "limit 36 h"),
    ("exactly at the limit", 36, None, False, "copy", "no copy"),
]


@pytest.mark.parametrize("case,hours,meta,force,action,words", CASES, ids=[c[0] for c in CASES])
def test_plan_outcome_for_one_database(case, hours, meta, force, action, words):
    # GIVEN one database with a ready backup and what the bucket holds at its key
    d = db("orders")
    b = backup(d, hours)
    stored = meta(b) if meta else None

    # WHEN planning
    entry = plan(d, b, stored, force=force)

    # THEN the action and reason say what happens, and the entry names the backup and key
    assert entry.action == action
    assert words in entry.reason
    assert (entry.database_id, entry.database_name, entry.backup_id) == (d.id, "orders", b.id)
    assert entry.object_key == key_of(d, b)
    assert entry.created_at == b.created_at and entry.size == 1000


def test_no_ready_backup_and_backup_without_date():
    d1, d2 = db("empty"), db("undated")
    entries = [plan(d1, None), plan(d2, backup(d2, None))]
    assert [(e.database_name, e.action) for e in entries] == [("empty", "no_ready_backup"),
                                                             ("undated", "no_ready_backup")]
    assert entries[0].backup_id is None and entries[0].object_key is None
    assert "no creation date" in entries[1].reason


def test_requested_ids_and_names_that_do_not_exist_are_not_found():
    a, b = db("alpha"), db("beta")
    ghost = uuid4()
    selection = select_databases([a, b], ids=[b.id, ghost, ghost], names=["alpha", "nope"])
    entries = [plan(d, None) for d in selection.databases] + missing_entries(selection)
    assert [(e.database_name, e.database_id, e.action) for e in entries] == [
        ("alpha", a.id, "no_ready_backup"),
        ("beta", b.id, "no_ready_backup"),
        (None, ghost, "not_found"),
        ("nope", None, "not_found"),
    ]
    assert "id" in entries[2].reason and "name" in entries[3].reason


def test_empty_request_selects_every_database_in_order():
    dbs = [db(f"db{i}") for i in range(5)]
    selection = select_databases(dbs)
    assert [d.name for d in selection.databases] == [f"db{i}" for i in range(5)]
    assert selection.missing_ids == [] and selection.missing_names == []


def test_unsafe_database_name_becomes_one_key_segment():
    d = db("../etc/passwd")
    b = backup(d, 1)
    entry = plan(d, b)
    assert entry.action == "copy"
    assert entry.object_key.startswith("sdb/etc-passwd/") and ".." not in entry.object_key


def planned_copy(hours_old: float = 5):
    d = db("shop")
    b = backup(d, hours_old)
    entry = plan(d, b)
    assert entry.action == "copy"
    return entry


@pytest.mark.parametrize("written, action, words", [
    ([], "copy", "no copy"),
    ([NOW - timedelta(minutes=42)], "copy_in_progress", "under way (its upload was written 42 min ago)"),
    ([NOW - timedelta(hours=30), NOW - timedelta(minutes=3)], "copy_in_progress", "written 3 min ago"),
    ([NOW - timedelta(minutes=60, seconds=1)], "copy", "no copy"),  # silent an hour: abandoned
    ([None], "copy", "no copy"),  # unknown age: not trusted to be alive
    ([(NOW - timedelta(minutes=5)).replace(tzinfo=None)], "copy_in_progress", "5 min"),  # zoneless = UTC
])
def test_a_copy_under_way_is_not_started_twice(written, action, words):
    entry = mark_in_flight(planned_copy(), written, now=NOW)

    assert entry.action == action and words in entry.reason
    assert entry.object_key is not None and entry.backup is not None


def test_only_planned_copies_can_be_in_flight():
    d = db("blog")
    b = backup(d, 5)
    done = plan(d, b, verified(b))

    assert mark_in_flight(done, [NOW], now=NOW) == done
