"""The backup API client against the sandbox API over a real socket on 127.0.0.1."""

from __future__ import annotations

import math
import threading
import time
import uuid
from typing import Iterator

import httpx
import pytest

from shared.errors import ExportFailed, ScalewayAuthError, ScalewayConflict, ScalewayNotFound, ScalewayPermissionDenied
from shared.scaleway.client import ScalewayClient
from shared.settings import Settings


def make_client(sandbox, *, token: str | None = None, **options: object) -> ScalewayClient:
    http = httpx.Client(base_url=sandbox.base_url, timeout=httpx.Timeout(10, connect=5),
                        headers={"X-Auth-Token": token or sandbox.token})
    return ScalewayClient(http, region=sandbox.region, project_id=sandbox.project_id, **options)


@pytest.fixture
def client(sandbox) -> Iterator[ScalewayClient]:
    with make_client(sandbox) as api:
        yield api


@pytest.fixture(autouse=True)
def no_faults_left(sandbox) -> Iterator[None]:
    yield
    sandbox.faults.reset()


def soon(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


def test_lists_every_page(sandbox):
    before = sandbox.stats.snapshot()["requests"]["list_backups"]
    with make_client(sandbox, page_size=4) as api:
        backups = api.list_backups()
        databases = api.list_databases()
    expected = sandbox.state.backups()
    assert {str(b.id) for b in backups} == {b.id for b in expected}
    assert len(backups) == len(expected) >= 30
    created = [b.created_at for b in backups]
    assert created == sorted(created, reverse=True)
    assert {d.name for d in databases} == {d.name for d in sandbox.state.databases()}
    pages = sandbox.stats.snapshot()["requests"]["list_backups"] - before
    assert pages in (math.ceil(len(expected) / 4), math.ceil(len(expected) / 4) + 1)


def test_latest_ready_backup_per_database(sandbox, client):
    expected = {
        d.id: sandbox.state.latest_backup(d.id).id
        for d in sandbox.state.databases() if sandbox.state.latest_backup(d.id)
    }
    assert len(expected) >= 4  # a database without backups has no entry
    project_wide = client.latest_ready_backups()
    assert {str(k): str(v.id) for k, v in project_wide.items()} == expected
    ids = [d.id for d in sandbox.state.databases()]
    per_database = client.latest_ready_backups(database_ids=ids)
    assert {str(k): str(v.id) for k, v in per_database.items()} == expected


def test_export_then_wait_for_the_link(sandbox, client):
    shop = sandbox.state.database_named("shop")
    latest = sandbox.state.latest_backup(shop.id)
    exports = sandbox.stats.snapshot()["exports"]
    ready = client.wait_for_download_url(latest.id, deadline=soon(), initial_interval=0.05)
    assert str(ready.id) == latest.id and ready.status == "ready"
    assert httpx.URL(ready.download_url).host == "127.0.0.1"
    assert ready.download_url_expires_at is not None
    assert sandbox.stats.snapshot()["exports"] == exports + 1


def test_expired_link_is_exported_again(sandbox, client):
    blog = sandbox.state.database_named("blog")
    latest = sandbox.state.latest_backup(blog.id)
    first = client.wait_for_download_url(latest.id, deadline=soon(), initial_interval=0.05)
    exports = sandbox.stats.snapshot()["exports"]
    sandbox.expire_links()
    second = client.wait_for_download_url(latest.id, deadline=soon(), initial_interval=0.05)
    assert second.download_url != first.download_url
    assert second.download_url_expires_at >= first.download_url_expires_at
    assert sandbox.stats.snapshot()["exports"] == exports + 1


def test_backup_in_error_fails_the_export(sandbox, client):
    billing = sandbox.state.database_named("billing")
    broken = sandbox.state.latest_backup(billing.id, status="error")
    with pytest.raises(ExportFailed):
        client.wait_for_download_url(broken.id, deadline=soon())


def test_locked_backup_export_is_a_conflict(sandbox, client):
    crm = sandbox.state.database_named("crm")
    locked = sandbox.state.latest_backup(crm.id, status="locked")
    with pytest.raises(ScalewayConflict) as caught:
        client.export_backup(locked.id)
    assert caught.value.api_status == 409 and caught.value.request_id


def test_unknown_ids_are_not_found(client):
    unknown = uuid.uuid4()
    for call in (client.get_backup, client.export_backup, client.get_database):
        with pytest.raises(ScalewayNotFound) as caught:
            call(unknown)
        assert (caught.value.api_status, caught.value.api_type) == (403, "permissions_denied")
        assert caught.value.request_id


def test_a_403_on_export_of_a_readable_backup_names_the_permission_it_needs(sandbox, client):
    # The API answers an unknown id and a key that may not export alike: a read tells them apart
    sandbox.faults.set_error_rate("export_backup", 1.0, status=403)
    backup = sandbox.state.latest_backup(sandbox.state.database_named("shop").id)
    with pytest.raises(ScalewayPermissionDenied) as caught:
        client.export_backup(backup.id)
    assert caught.value.api_status == 403 and "ServerlessSQLDatabaseReadWrite" in caught.value.message


def test_wrong_token_is_an_auth_error(sandbox):
    with make_client(sandbox, token=str(uuid.uuid4())) as api:
        with pytest.raises(ScalewayAuthError) as caught:
            api.list_databases()
    assert (caught.value.api_status, caught.value.api_type) == (401, "denied_authentication")
    assert str(caught.value.request_id)


def test_recovers_from_a_429_burst(sandbox, client):
    sandbox.faults.add_429_burst(2)
    databases = client.list_databases()
    assert len(databases) == len(sandbox.state.databases())
    assert (client.stats.rate_limited, client.stats.retries) == (2, 2)


def test_recovers_from_a_5xx_error_rate(sandbox):
    before = sandbox.stats.snapshot()["injected_errors"]
    sandbox.faults.set_error_rate("list_backups", 0.3, status=502)
    with make_client(sandbox, page_size=10) as api:
        backups = api.list_backups()
        retries = api.stats.retries
    assert len(backups) == len(sandbox.state.backups())
    assert retries == sandbox.stats.snapshot()["injected_errors"] - before


def test_threads_sharing_a_client_stay_under_the_gateway_limit(sandbox, client):
    sandbox.limiter.reset()  # earlier tests' calls must not count in this second's window
    before = sandbox.stats.snapshot()["rate_limited"]
    backup_id = sandbox.state.backups()[0].id
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(8):
            found = client.get_backup(backup_id)
            with lock:
                results.append(str(found.id))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [backup_id] * 64
    assert client.stats.rate_limited == 0
    assert sandbox.stats.snapshot()["rate_limited"] == before


def test_client_from_settings_reaches_the_sandbox(sandbox, monkeypatch, tmp_path):
    monkeypatch.setenv("SCW_CONFIG_PATH", str(tmp_path / "absent.yaml"))
    settings = Settings(scw_api_url=sandbox.base_url, scw_secret_key=sandbox.token,
                        scw_default_project_id=sandbox.project_id,
                        scw_default_region=sandbox.region)
    with ScalewayClient.from_settings(settings) as api:
        assert {d.name for d in api.list_databases()} == {d.name for d in sandbox.state.databases()}
