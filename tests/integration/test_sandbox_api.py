"""The sandbox backup API over a real socket: shapes, paging, errors, limits, exports, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
import pytest

from sandbox.api import SandboxServer
from sandbox.state import SandboxConfig

DATABASE_KEYS = {
    "cpu_current", "cpu_max", "cpu_min", "created_at", "endpoint", "engine_major_version", "id",
    "name", "organization_id", "project_id", "region", "srn", "started", "status", "version",
}
BACKUP_KEYS = {
    "id", "status", "organization_id", "project_id", "database_id", "created_at", "expires_at",
    "size", "db_size", "download_url", "download_url_expires_at", "region",
}


def client(server: SandboxServer, token: str | None = None) -> httpx.Client:
    headers = {"X-Auth-Token": server.token if token is None else token}
    return httpx.Client(base_url=server.api_url, headers=headers, timeout=5)


def db_id(server: SandboxServer, name: str) -> str:
    database = server.state.database_named(name)
    assert database is not None
    return database.id


def wait_for_link(api: httpx.Client, backup_id: str) -> dict[str, Any]:
    for _ in range(200):
        backup = api.get(f"/backups/{backup_id}").json()
        if backup["download_url"]:
            return backup
        time.sleep(0.02)
    raise AssertionError("no download link appeared")


# --- shapes and headers ---------------------------------------------------------------------


def test_list_databases_envelope_fields_and_gateway_headers(sandbox: SandboxServer) -> None:
    with client(sandbox) as api:
        response = api.get("/databases")
    assert response.status_code == 200
    body = response.json()
    assert body["total_count"] == 6 and len(body["databases"]) == 6
    first = body["databases"][0]
    assert set(first) == DATABASE_KEYS
    assert first["name"] == "shop" and first["project_id"] == sandbox.project_id
    assert first["organization_id"] == sandbox.project_id  # a default project
    assert first["endpoint"] == f"postgres://{first['id']}.pg.sdb.fr-par.scw.cloud:5432/shop?sslmode=require"
    assert first["version"] == {"end_of_life_at": None, "name": "16", "region": "fr-par", "srn": ""}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["server"] == "Scaleway API Gateway (fr-par-1;edge01)"
    assert uuid.UUID(response.headers["x-request-id"])
    assert response.headers["x-ratelimit-limit"] == "50, 50;w=1"
    assert int(response.headers["x-ratelimit-remaining"]) == 49
    assert response.headers["x-ratelimit-reset"] == "1"


def test_backups_are_daily_at_three_over_the_last_week(sandbox: SandboxServer) -> None:
    with client(sandbox) as api:
        body = api.get("/backups", params={"database_id": db_id(sandbox, "shop")}).json()
    backups = body["backups"]
    assert body["total_count"] == 7
    assert all(set(b) == BACKUP_KEYS for b in backups)
    created = [datetime.fromisoformat(b["created_at"]) for b in backups]
    assert created == sorted(created, reverse=True)  # newest first by default
    assert all(c.hour == 3 for c in created)
    assert datetime.now(timezone.utc) - created[0] < timedelta(days=1, hours=2)
    assert backups[0]["expires_at"].endswith("Z") and "." not in backups[0]["expires_at"]
    assert datetime.fromisoformat(backups[0]["expires_at"]) - created[0] < timedelta(days=7, seconds=1)
    assert backups[0]["download_url"] is None and backups[0]["status"] == "ready"
    assert 40_000 < backups[0]["size"] < 60_000


def test_default_state_has_error_locked_empty_and_huge_cases(sandbox: SandboxServer) -> None:
    with client(sandbox) as api:
        latest = {
            name: api.get("/backups", params={"database_id": db_id(sandbox, name), "page_size": 1}).json()
            for name in ("billing", "crm", "staging", "analytics")
        }
    assert latest["billing"]["backups"][0]["status"] == "error"
    assert latest["billing"]["backups"][0]["size"] is None
    assert latest["crm"]["backups"][0]["status"] == "locked"
    assert latest["staging"] == {"backups": [], "total_count": 0}
    assert latest["analytics"]["backups"][0]["size"] > 5 * 2**30


# --- paging, ordering, filters ----------------------------------------------------------------


def test_paging_contract(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(SandboxConfig.generated(45, backups_per_db=1))
    with client(server) as api:
        default = api.get("/databases").json()
        pages = [api.get("/databases", params={"page": p, "page_size": 10}).json() for p in range(1, 7)]
    assert len(default["databases"]) == 20 and default["total_count"] == 45
    assert [len(p["databases"]) for p in pages] == [10, 10, 10, 10, 5, 0]
    assert {p["total_count"] for p in pages} == {45}
    names = [d["name"] for p in pages for d in p["databases"]]
    assert names == [f"db-{i:04d}" for i in range(45)]


@pytest.mark.parametrize(
    "order_by,expected",
    [
        (None, ["shop", "blog", "analytics", "billing", "crm", "staging"]),
        ("created_at_desc", ["staging", "crm", "billing", "analytics", "blog", "shop"]),
        ("name_asc", ["analytics", "billing", "blog", "crm", "shop", "staging"]),
        ("name_desc", ["staging", "shop", "crm", "blog", "billing", "analytics"]),
    ],
)
def test_database_ordering(sandbox: SandboxServer, order_by: str | None, expected: list[str]) -> None:
    params = {"order_by": order_by} if order_by else {}
    with client(sandbox) as api:
        names = [d["name"] for d in api.get("/databases", params=params).json()["databases"]]
    assert names == expected


def test_backup_ordering_ascending(sandbox: SandboxServer) -> None:
    params = {"database_id": db_id(sandbox, "blog"), "order_by": "created_at_asc"}
    with client(sandbox) as api:
        backups = api.get("/backups", params=params).json()["backups"]
    assert [b["size"] for b in backups] == [7, 4096, 65536, 1 << 20, (2 << 20) + 17, (3 << 20) - 4099, 3 << 20]


def test_filters_by_name_project_and_organization(sandbox: SandboxServer) -> None:
    other_project = str(uuid.uuid4())
    added = sandbox.state.add_database("shop-eu", project_id=other_project)
    sandbox.state.add_backup(added.id, size=10)
    with client(sandbox) as api:
        by_name = api.get("/databases", params={"name": "sho"}).json()
        by_project = api.get("/databases", params={"project_id": other_project}).json()
        by_org = api.get("/databases", params={"organization_id": sandbox.organization_id}).json()
        backups = api.get("/backups", params={"project_id": other_project}).json()
        all_backups = api.get("/backups", params={"page_size": 1000}).json()
    assert [d["name"] for d in by_name["databases"]] == ["shop", "shop-eu"]
    assert [d["name"] for d in by_project["databases"]] == ["shop-eu"]
    assert by_org["total_count"] == 6
    assert [b["database_id"] for b in backups["backups"]] == [added.id]
    assert all_backups["total_count"] == 5 * 7 + 1


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,params,argument,reason",
    [
        ("/backups/not-a-uuid", {}, "backup_id", "format"),
        ("/databases/1234", {}, "database_id", "format"),
        ("/backups", {"database_id": "nope"}, "database_id", "format"),
        ("/databases", {"project_id": "x"}, "project_id", "format"),
        ("/databases", {"page": "0"}, "page", "constraint"),
        ("/databases", {"page": "two"}, "page", "format"),
        ("/databases", {"page": "-1"}, "page", "constraint"),
        ("/backups", {"page_size": "0"}, "page_size", "constraint"),
        ("/backups", {"page_size": "1001"}, "page_size", "constraint"),
        ("/backups", {"order_by": "name_asc"}, "order_by", "constraint"),
        ("/databases", {"order_by": "size_desc"}, "order_by", "constraint"),
    ],
)
def test_invalid_arguments(
    sandbox: SandboxServer, path: str, params: dict[str, str], argument: str, reason: str
) -> None:
    with client(sandbox) as api:
        response = api.get(path, params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "invalid_arguments" and body["message"] == "invalid argument(s)"
    assert [(d["argument_name"], d["reason"]) for d in body["details"]] == [(argument, reason)]
    assert body["details"][0]["help_message"]


def test_unknown_region_is_an_invalid_argument(sandbox: SandboxServer) -> None:
    url = f"{sandbox.base_url}/serverless-sqldb/v1alpha1/regions/nl-ams/databases"
    response = httpx.get(url, headers={"X-Auth-Token": sandbox.token})
    assert response.status_code == 400
    assert response.json()["details"][0]["argument_name"] == "region"


@pytest.mark.parametrize("token", ["", "00000000-0000-0000-0000-000000000000"])
def test_missing_or_wrong_token_is_denied(sandbox: SandboxServer, token: str) -> None:
    with client(sandbox, token=token) as api:
        response = api.get("/backups")
    assert response.status_code == 401
    assert response.json() == {
        "message": "authentication is denied", "method": "api_key", "reason": "not_found",
        "type": "denied_authentication",
    }


@pytest.mark.parametrize(
    "method,path", [("GET", "/databases/{id}"), ("GET", "/backups/{id}"), ("POST", "/backups/{id}/export")]
)
def test_unknown_ids_answer_permissions_denied(sandbox: SandboxServer, method: str, path: str) -> None:
    with client(sandbox) as api:
        response = api.request(method, path.format(id=uuid.uuid4()))
    assert response.status_code == 403
    assert response.json() == {"details": [], "message": "insufficient permissions", "type": "permissions_denied"}


def test_unknown_route_is_a_json_404(sandbox: SandboxServer) -> None:
    response = httpx.get(f"{sandbox.base_url}/serverless-sqldb/v1alpha1/regions/fr-par/instances")
    assert response.status_code == 404
    assert response.json()["type"] == "not_found"
    assert httpx.delete(f"{sandbox.api_url}/backups/{uuid.uuid4()}").status_code == 404


# --- exports --------------------------------------------------------------------------------


def test_export_answers_at_once_and_the_link_appears_later(sandbox: SandboxServer) -> None:
    backup_id = sandbox.state.latest_backup(db_id(sandbox, "shop")).id
    with client(sandbox) as api:
        posted = api.post(f"/backups/{backup_id}/export", json={})
        right_after = api.get(f"/backups/{backup_id}").json()
        ready = wait_for_link(api, backup_id)
        listed = api.get("/backups", params={"database_id": db_id(sandbox, "shop"), "page_size": 1}).json()
    assert posted.status_code == 200
    assert posted.json()["id"] == backup_id and posted.json()["download_url"] is None
    assert posted.json()["status"] == "ready"
    assert right_after["download_url"] is None
    link = httpx.URL(ready["download_url"])
    assert str(link).startswith(f"{sandbox.base_url}/sandbox-exports/{sandbox.project_id}/{backup_id}.custom?")
    assert link.params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert link.params["X-Amz-Expires"] == "86400"
    assert link.params["X-Amz-SignedHeaders"] == "host"
    assert link.params["X-Amz-Credential"].endswith("/fr-par/s3/aws4_request")
    assert len(link.params["X-Amz-Signature"]) == 64
    expires = datetime.fromisoformat(ready["download_url_expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(timezone.utc) <= timedelta(hours=24)
    assert listed["backups"][0]["download_url"] == ready["download_url"]


def test_export_with_empty_body_and_again_gives_a_fresh_link(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(export_delay_seconds=0)
    backup_id = server.state.latest_backup(db_id(server, "blog")).id
    with client(server) as api:
        assert api.post(f"/backups/{backup_id}/export").status_code == 200
        first = api.get(f"/backups/{backup_id}").json()["download_url"]
        assert api.post(f"/backups/{backup_id}/export", content=b"{}").status_code == 200
        second = api.get(f"/backups/{backup_id}").json()["download_url"]
    assert first and second and first != second
    assert server.stats.exports == 2


def test_exporting_locked_or_failed_backups_is_refused(sandbox: SandboxServer) -> None:
    locked = sandbox.state.latest_backup(db_id(sandbox, "crm"), status=None)
    failed = sandbox.state.latest_backup(db_id(sandbox, "billing"), status=None)
    with client(sandbox) as api:
        conflict = api.post(f"/backups/{locked.id}/export", json={})
        precondition = api.post(f"/backups/{failed.id}/export", json={})
    assert conflict.status_code == 409
    assert conflict.json()["type"] == "transient_state" and conflict.json()["current_state"] == "locked"
    assert precondition.status_code == 412
    assert precondition.json()["type"] == "precondition_failed"


def test_python_changes_to_state_show_in_the_api(sandbox: SandboxServer) -> None:
    database = sandbox.state.add_database("late-comer")
    backup = sandbox.state.add_backup(database.id, size=123)
    sandbox.state.set_backup(backup.id, status="error")
    with client(sandbox) as api:
        fetched = api.get(f"/databases/{database.id}").json()
        refused = api.post(f"/backups/{backup.id}/export", json={})
    assert fetched["name"] == "late-comer"
    assert refused.status_code == 412


# --- rate limit and faults ------------------------------------------------------------------


def test_rate_limit_answers_a_bare_429_per_token(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(rate_limit=5, rate_window_seconds=3600)
    with client(server) as api, client(server, token="") as anonymous:
        answers = [api.get("/databases") for _ in range(7)]
        other = anonymous.get("/databases")
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 2
    assert [r.headers["x-ratelimit-remaining"] for r in answers[:5]] == ["4", "3", "2", "1", "0"]
    limited = answers[5]
    assert limited.content == b"" and "retry-after" not in limited.headers
    assert limited.headers["x-envoy-ratelimited"] == "true"
    assert other.status_code == 401  # another key has its own window
    assert server.stats.rate_limited == 2


def test_a_burst_of_429_then_normal_answers(sandbox: SandboxServer) -> None:
    sandbox.faults.add_429_burst(3)
    with client(sandbox) as api:
        statuses = [api.get("/databases").status_code for _ in range(4)]
    assert statuses == [429, 429, 429, 200]
    assert sandbox.stats.rate_limited == 3
    assert sandbox.stats.requests["list_databases"] == 4


def test_error_rate_is_deterministic_per_seed(sandbox_factory: Callable[..., SandboxServer]) -> None:
    runs = []
    for _ in range(2):
        server = sandbox_factory(rate_limit=None)
        server.faults.set_error_rate("list_databases", 0.5, status=500)
        with client(server) as api:
            runs.append([api.get("/databases").status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


def test_injected_gateway_errors_are_plain_text_and_json_500(sandbox: SandboxServer) -> None:
    sandbox.faults.set_error_rate("get_backup", 1.0, status=503)
    sandbox.faults.set_error_rate("list_backups", 1.0, status=500)
    with client(sandbox) as api:
        unavailable = api.get(f"/backups/{uuid.uuid4()}")
        internal = api.get("/backups")
        untouched = api.get("/databases")
    assert unavailable.status_code == 503 and unavailable.headers["content-type"] == "text/plain"
    assert unavailable.text.startswith("upstream connect error")
    assert internal.status_code == 500 and internal.json()["type"] == "internal_error"
    assert untouched.status_code == 200
    assert sandbox.stats.injected_errors == 2


def test_slow_route_makes_a_short_client_timeout_fire(sandbox: SandboxServer) -> None:
    sandbox.faults.set_delay("get_database", 1.0)
    with client(sandbox) as api:
        with pytest.raises(httpx.ReadTimeout):
            api.get(f"/databases/{db_id(sandbox, 'shop')}", timeout=0.2)
        assert api.get("/databases").status_code == 200


def test_faults_stats_and_reset_over_http(sandbox: SandboxServer) -> None:
    control = httpx.Client(base_url=f"{sandbox.base_url}/_sandbox", headers={"X-Auth-Token": sandbox.token})
    with control, client(sandbox) as api:
        assert httpx.get(f"{sandbox.base_url}/_sandbox/stats").status_code == 401
        bad = control.post("/faults", json={"burst_429": -1})
        faults = {"burst_429": 1, "routes": {"get_database": {"error_rate": 1, "status": 502}}}
        set_faults = control.post("/faults", json=faults)
        limited = api.get("/databases")
        failed = api.get(f"/databases/{db_id(sandbox, 'shop')}")
        stats = control.get("/stats").json()
        sandbox.state.add_database("temporary")
        assert control.post("/reset").json() == {"reset": True}
        after = control.get("/stats").json()
        names = [d["name"] for d in api.get("/databases").json()["databases"]]
    assert bad.status_code == 400 and bad.json()["details"][0]["argument_name"] == "body"
    assert set_faults.json()["faults"]["burst_429"] == 1
    assert limited.status_code == 429 and failed.status_code == 502
    assert stats["rate_limited"] == 1 and stats["injected_errors"] == 1
    assert stats["requests"]["list_databases"] == 1 and stats["requests"]["get_database"] == 1
    assert after["requests"]["list_databases"] == 0 and after["rate_limited"] == 0
    assert "temporary" not in names and len(names) == 6


def test_command_line_prints_its_address_and_stops_on_sigterm() -> None:
    token = str(uuid.uuid4())
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--token", token, "--config", "demo",
         "--export-delay", "0", "--rate-limit", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        address = json.loads(process.stdout.readline())
        api = f"{address['base_url']}/serverless-sqldb/v1alpha1/regions/{address['region']}"
        response = httpx.get(f"{api}/databases", headers={"X-Auth-Token": token})
    finally:
        process.terminate()
        code = process.wait(timeout=10)
        process.stdout.close()
    assert address["token"] == token and address["organization_id"] == address["project_id"]
    assert address["base_url"].startswith("http://127.0.0.1:")
    assert response.json()["total_count"] == 4
    assert code == 0
