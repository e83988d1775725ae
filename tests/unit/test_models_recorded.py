"""API models and the error parser against real recorded bodies and the project's own fixtures."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.scaleway.errors import error_from_answer, parse_error_body
from shared.errors import (
    ScalewayAuthError,
    ScalewayConflict,
    ScalewayInvalidArguments,
    ScalewayNotFound,
    ScalewayRateLimited,
    ScalewayUnavailable,
)
from shared.models import Database, DatabaseBackup, DatabaseVersion

RECORDED = Path(__file__).parents[3] / "shared" / "reference" / "recorded"
EVENTS = Path(__file__).parents[1] / "events" / "api"


def _recorded(pattern: str) -> list[Path]:
    return sorted(RECORDED.glob(pattern)) if RECORDED.is_dir() else []


def _status(body_path: Path) -> int:
    meta = Path(f"{body_path}.meta.txt").read_text()
    return int(re.search(r"^RESPONSE: (\d{3})", meta, re.M).group(1))


def _needs_recorded() -> None:
    if not RECORDED.is_dir():
        pytest.skip(f"recorded bodies not found at {RECORDED} (team reference folder absent)")


SDB_BODIES = [p for p in _recorded("tf_sdb-*.json")]
DATABASE_BODIES = [p for p in SDB_BODIES if _status(p) == 200 and "versions" not in p.name]
ERROR_BODIES = [p for p in _recorded("*.json") if _status(p) >= 400]


def test_recorded_folder_holds_what_these_tests_expect():
    _needs_recorded()
    assert len(DATABASE_BODIES) >= 8
    assert len(ERROR_BODIES) >= 8


@pytest.mark.parametrize("path", DATABASE_BODIES, ids=lambda p: p.name)
def test_every_recorded_database_body_parses(path: Path):
    raw = json.loads(path.read_text())
    database = Database.model_validate(raw)
    assert str(database.id) == raw["id"]
    assert database.name == raw["name"] and database.status == raw["status"]
    assert database.created_at is not None and database.created_at.tzinfo is not None
    if raw.get("version"):
        assert database.version.name == raw["version"]["name"]


def test_recorded_versions_listing_parses():
    _needs_recorded()
    (path,) = _recorded("tf_sdb-database-version_*_list_versions.json")
    versions = [DatabaseVersion.model_validate(v) for v in json.loads(path.read_text())["versions"]]
    assert [v.name for v in versions] == ["16", "17", "18"]


EXPECTED_ERRORS = {
    "denied_authentication": ScalewayAuthError,
    "invalid_arguments": ScalewayInvalidArguments,
    "precondition_failed": ScalewayConflict,
    "transient_state": ScalewayConflict,
    "not_found": ScalewayNotFound,
    "permissions_denied": ScalewayNotFound,  # answered for a get of an id
}


@pytest.mark.parametrize("path", ERROR_BODIES, ids=lambda p: p.name)
def test_every_recorded_error_body_becomes_a_typed_error(path: Path):
    content = path.read_bytes()
    status = _status(path)
    error = error_from_answer(status, {"X-Request-Id": "r-1"}, content, method="GET",
                              path="/serverless-sqldb/v1alpha1/regions/fr-par/databases/x",
                              on_id=True)
    body = json.loads(content)
    assert type(error) is EXPECTED_ERRORS[body["type"]]
    assert (error.api_status, error.api_type, error.request_id) == (status, body["type"], "r-1")
    assert body["message"] in error.message
    for key in ("resource_id", "current_state", "help_message", "reason"):
        if key in body:
            assert error.details[key] == body[key]


@pytest.mark.parametrize("content", [b"", b"upstream connect error", b"[1, 2]", b"\xff\xfe", b"null"])
def test_bare_and_odd_bodies_still_give_typed_errors(content: bytes):
    assert parse_error_body(content) == {}
    limited = error_from_answer(429, {"x-envoy-ratelimited": "true"}, content, method="GET",
                                path="/p?page=1")
    assert type(limited) is ScalewayRateLimited and limited.api_type is None
    assert "page=1" not in limited.message and "too many requests" in limited.message
    down = error_from_answer(502, {}, content, method="GET", path="/p")
    assert type(down) is ScalewayUnavailable


# --- The project's own fixtures --------------------------------------------------------------


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_backup_with_link_parses_fractional_timestamps():
    backup = DatabaseBackup.model_validate(_event("backup_ready_with_link.json"))
    assert backup.download_url.startswith("https://s3.fr-par.scw.cloud/")
    assert backup.download_url_expires_at == datetime(2026, 10, 8, 8, 15, 2, 104221, tzinfo=timezone.utc)
    assert "X-Amz" not in repr(backup) and "X-Amz" not in str(backup)


def test_backup_without_link_parses_whole_second_timestamps():
    backup = DatabaseBackup.model_validate(_event("backup_ready_no_link.json"))
    assert backup.download_url is None and backup.download_url_expires_at is None
    assert backup.created_at == datetime(2026, 10, 7, 2, 0, 11, tzinfo=timezone.utc)


def test_unknown_fields_are_ignored_and_nulls_accepted():
    backup = DatabaseBackup.model_validate(_event("backup_unknown_fields_and_nulls.json"))
    assert backup.status == "unknown_status"
    assert (backup.created_at, backup.size, backup.db_size) == (None, None, None)
    assert not hasattr(backup, "retention")


def test_backup_list_page_parses():
    page = _event("backups_page.json")
    backups = [DatabaseBackup.model_validate(b) for b in page["backups"]]
    assert len(backups) == page["total_count"] == 4
    assert [b.status for b in backups] == ["ready", "error", "ready", "locked"]
    assert backups[1].size is None


def test_database_list_page_parses():
    page = _event("databases_page.json")
    databases = [Database.model_validate(d) for d in page["databases"]]
    assert [d.name for d in databases] == ["orders", "billing"]
    assert databases[1].version.name == "16"
