"""The official ``scaleway`` SDK, pointed at the sandbox, cannot tell it from the real API.

Every field the SDK parses is compared with the raw JSON the sandbox sent, so a field the
sandbox misspells, mistypes or drops fails here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from datetime import datetime
from typing import Any, Callable

import httpx
import pytest
import requests
from scaleway import Client
from scaleway.serverless_sqldb.v1alpha1 import ServerlessSqldbV1Alpha1API
from scaleway.serverless_sqldb.v1alpha1.types import ListDatabasesRequestOrderBy
from scaleway_core.api import ScalewayException

from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.state import SandboxConfig

ACCESS_KEY = "SCWXXXXXXXXXXXXXXXXX"
SDK_DEFAULTS = {"size": 0, "db_size": 0}  # what the SDK puts where the API sent null


def sdk(server: SandboxServer, token: str | None = None) -> ServerlessSqldbV1Alpha1API:
    client = Client(
        access_key=ACCESS_KEY,
        secret_key=token or server.token,
        api_url=server.base_url,
        default_project_id=server.project_id,
        default_region=server.region,
    )
    return ServerlessSqldbV1Alpha1API(client)


def raw(server: SandboxServer, path: str, **params: Any) -> Any:
    response = httpx.get(f"{server.api_url}{path}", params=params, headers={"X-Auth-Token": server.token})
    response.raise_for_status()
    return response.json()


def assert_round_trip(parsed: Any, sent: dict[str, Any]) -> None:
    """Every field of the SDK object was sent, and parses back to what was sent."""
    names = {field.name for field in dataclasses.fields(parsed)}
    assert names <= set(sent), f"fields the sandbox does not send: {names - set(sent)}"
    for name in names:
        value = sent[name]
        if value is None:
            value = SDK_DEFAULTS.get(name)
        elif name.endswith("_at"):
            value = datetime.fromisoformat(value)
        assert getattr(parsed, name) == value, name


def test_list_databases_all_round_trips_every_field(sandbox: SandboxServer) -> None:
    databases = sdk(sandbox).list_databases_all()
    sent = raw(sandbox, "/databases")["databases"]
    assert [d.name for d in databases] == ["shop", "blog", "analytics", "billing", "crm", "staging"]
    for parsed, body in zip(databases, sent):
        assert_round_trip(parsed, body)


def test_list_all_pages_through_many_databases(sandbox_factory: Callable[..., SandboxServer]) -> None:
    server = sandbox_factory(SandboxConfig.generated(45, backups_per_db=0))
    api = sdk(server)
    default_pages = api.list_databases_all()
    small_pages = api.list_databases_all(page_size=7, order_by=ListDatabasesRequestOrderBy.NAME_DESC)
    assert [d.name for d in default_pages] == [f"db-{i:04d}" for i in range(45)]
    assert [d.name for d in small_pages] == [f"db-{i:04d}" for i in reversed(range(45))]


def test_list_database_backups_all_round_trips_every_field(sandbox: SandboxServer) -> None:
    api = sdk(sandbox)
    for name in ("blog", "billing", "crm"):
        database = sandbox.state.database_named(name)
        backups = api.list_database_backups_all(database_id=database.id)
        sent = raw(sandbox, "/backups", database_id=database.id)["backups"]
        assert len(backups) == 7
        assert [b.created_at for b in backups] == sorted((b.created_at for b in backups), reverse=True)
        for parsed, body in zip(backups, sent):
            assert_round_trip(parsed, body)


def test_get_database_round_trips(sandbox: SandboxServer) -> None:
    database = sandbox.state.database_named("analytics")
    assert_round_trip(sdk(sandbox).get_database(database_id=database.id), raw(sandbox, f"/databases/{database.id}"))


def test_export_then_poll_then_download_gives_the_backup_bytes(sandbox: SandboxServer) -> None:
    api = sdk(sandbox)
    database = sandbox.state.database_named("blog")
    latest = api.list_database_backups_all(database_id=database.id)[0]
    exported = api.export_database_backup(backup_id=latest.id)
    assert exported.id == latest.id and exported.status == "ready" and exported.download_url is None
    for _ in range(200):
        backup = api.get_database_backup(backup_id=latest.id)
        if backup.download_url:
            break
        time.sleep(0.02)
    assert backup.download_url and backup.download_url_expires_at is not None
    assert_round_trip(backup, raw(sandbox, f"/backups/{latest.id}"))
    hasher = hashlib.sha256()
    with httpx.stream("GET", backup.download_url) as response:
        for piece in response.iter_bytes():
            hasher.update(piece)
    assert response.status_code == 200
    assert hasher.hexdigest() == blobs.sha256_hex(latest.id, latest.size)


def test_wrong_token_raises_scaleway_exception_401(sandbox: SandboxServer) -> None:
    with pytest.raises(ScalewayException) as caught:
        sdk(sandbox, token=str(uuid.uuid4())).list_databases_all()
    assert caught.value.status_code == 401
    assert caught.value.response.json()["type"] == "denied_authentication"


def test_unknown_backup_raises_scaleway_exception_403(sandbox: SandboxServer) -> None:
    with pytest.raises(ScalewayException) as caught:
        sdk(sandbox).get_database_backup(backup_id=str(uuid.uuid4()))
    assert caught.value.status_code == 403
    assert caught.value.response.json()["type"] == "permissions_denied"


def test_the_sdk_chokes_on_a_bare_429_like_on_the_real_api(sandbox: SandboxServer) -> None:
    # The SDK parses every error body as JSON; the real gateway's 429 has none.
    sandbox.faults.add_429_burst(1)
    with pytest.raises(requests.exceptions.JSONDecodeError):
        sdk(sandbox).list_databases()
    assert sandbox.stats.rate_limited == 1
