"""The sandbox's options for what the real API leaves undocumented (``sandbox.readings``), seen
over a real socket exactly as a client sees them, set in code or over ``POST /_sandbox/faults``."""

from __future__ import annotations

import socket
from typing import Any, Callable

import httpx
import pytest

from sandbox import blobs
from sandbox.api import SandboxServer
from sandbox.readings import Readings, virtual_host
from sandbox.state import SandboxConfig

Start = Callable[..., SandboxServer]


def start(sandbox_factory: Start, **readings: Any) -> SandboxServer:
    return sandbox_factory(SandboxConfig.default(export_delay_seconds=30, readings=Readings(**readings)))


def api(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": server.token}, timeout=5)


def shop_backup(server: SandboxServer) -> str:
    return server.state.latest_backup(server.state.database_named("shop").id).id


@pytest.mark.parametrize(("locked", "repeat"), [(True, 409), (False, 412), (True, 200)])
def test_a_backup_being_exported_shows_its_reading(sandbox_factory: Start, locked: bool, repeat: int) -> None:
    server = start(sandbox_factory, locked_during_export=locked, repeat_export=repeat)
    backup_id = shop_backup(server)
    with api(server) as client:
        first = client.post(f"/backups/{backup_id}/export", json={})
        shown = client.get(f"/backups/{backup_id}").json()
        again = client.post(f"/backups/{backup_id}/export", json={})
    assert first.status_code == 200
    assert (shown["status"], shown["download_url"]) == ("locked" if locked else "ready", None)
    assert again.status_code == repeat
    if repeat == 409:
        assert again.json()["type"] == "transient_state"
    elif repeat == 412:
        assert again.json()["type"] == "precondition_failed"


@pytest.mark.parametrize("page_length", [False, True])
def test_pages_are_capped_and_total_count_is_what_the_reading_says(sandbox_factory: Start, page_length: bool) -> None:
    server = start(sandbox_factory, page_size_cap=2, total_count_is_page_length=page_length)
    with api(server) as client:
        pages = [client.get("/databases", params={"page": n, "page_size": 1000}).json() for n in (1, 2, 3, 4)]
    assert [len(p["databases"]) for p in pages] == [2, 2, 2, 0]
    assert [p["total_count"] for p in pages] == ([2, 2, 2, 0] if page_length else [6] * 4)


def test_links_on_the_virtual_hosted_bucket_name_are_served(sandbox_factory: Start) -> None:
    server = start(sandbox_factory, virtual_hosted_links=True)
    server.state.export_delay_seconds = 0
    backup = server.state.backup(shop_backup(server))
    with api(server) as client:
        client.post(f"/backups/{backup.id}/export", json={})
        url = httpx.URL(client.get(f"/backups/{backup.id}").json()["download_url"])
    assert (url.host, url.port, url.path) == (virtual_host("fr-par"), server.port, f"/{backup.project_id}/{backup.id}.custom")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:  # what DNS would give for the name
        target = url.raw_path.decode()
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nRange: bytes=0-4\r\n"
                     "Connection: close\r\n\r\n".encode())
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.1 206") and answer.endswith(b"PGDMP")


def test_the_first_request_of_each_file_is_cut_and_ranges_can_be_ignored(sandbox_factory: Start) -> None:
    server = start(sandbox_factory, cut_first_request_after=0)
    server.state.export_delay_seconds = 0
    backup = server.state.backup(shop_backup(server))
    with api(server) as client:
        client.post(f"/backups/{backup.id}/export", json={})
        url = client.get(f"/backups/{backup.id}").json()["download_url"]
    with pytest.raises(httpx.RemoteProtocolError):  # headers, then nothing: the probe's byte never comes
        httpx.get(url, headers={"Range": "bytes=0-0"}).read()
    assert httpx.get(url, headers={"Range": "bytes=0-0"}).content == b"P"  # the second request passes
    control = httpx.post(server.base_url + "/_sandbox/faults", headers={"X-Auth-Token": server.token},
                         json={"readings": {"ignore_range": True}, "link_ttl_seconds": 7})
    assert control.status_code == 200 and server.state.readings.ignore_range and server.state.link_ttl_seconds == 7
    whole = httpx.get(url, headers={"Range": "bytes=0-0"})
    assert (whole.status_code, whole.content) == (200, blobs.read(backup.id, backup.size))


def test_unknown_or_bad_readings_are_refused_over_http(sandbox_factory: Start) -> None:
    server = start(sandbox_factory)
    for readings in ({"no_such_reading": True}, {"repeat_export": 418}):
        answer = httpx.post(server.base_url + "/_sandbox/faults", headers={"X-Auth-Token": server.token},
                            json={"readings": readings})
        assert answer.status_code == 400 and answer.json()["type"] == "invalid_arguments"
    assert server.state.readings == Readings()


def test_the_flags_of_python_m_sandbox_set_the_readings() -> None:
    from sandbox.__main__ import build_config, parse_args

    config = build_config(parse_args(["--locked-during-export", "--repeat-export", "412", "--cut-first-request", "0",
                                      "--page-size-cap", "2", "--total-count-page-length", "--virtual-hosted-links",
                                      "--ignore-range", "--link-ttl", "5"]))
    assert config.readings == Readings(locked_during_export=True, repeat_export=412, cut_first_request_after=0,
                                       page_size_cap=2, total_count_is_page_length=True, virtual_hosted_links=True,
                                       ignore_range=True)
    assert config.link_ttl_seconds == 5 and build_config(parse_args([])).readings == Readings()
