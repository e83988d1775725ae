"""The sandbox's download links over a real socket: bytes, HEAD, ranges, signatures, expiry, faults."""

from __future__ import annotations

import hashlib
from typing import Callable

import httpx
import pytest

from sandbox import blobs
from sandbox.api import SandboxServer

SIZE = 3 * blobs.BLOCK - 4099  # the "blog" database's second newest backup


@pytest.fixture
def server(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_factory(export_delay_seconds=0, rate_limit=None)


def export(server: SandboxServer, size: int = SIZE) -> tuple[str, str]:
    """Export a backup of ``size`` bytes of "blog"; return its id and download link."""
    database = server.state.database_named("blog")
    assert database is not None
    backup = next(b for b in server.state.backups(database.id) if b.size == size)
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": server.token})
    with api:
        assert api.post(f"/backups/{backup.id}/export", json={}).status_code == 200
        url = api.get(f"/backups/{backup.id}").json()["download_url"]
    assert url
    return backup.id, url


def test_full_get_streams_the_exact_bytes_without_any_token(server: SandboxServer) -> None:
    backup_id, url = export(server)
    hasher, total = hashlib.sha256(), 0
    with httpx.stream("GET", url) as response:
        for piece in response.iter_bytes():
            hasher.update(piece)
            total += len(piece)
    assert response.status_code == 200
    assert total == SIZE and hasher.hexdigest() == blobs.sha256_hex(backup_id, SIZE)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == blobs.etag(backup_id, SIZE)
    assert server.stats.download_bytes == SIZE and server.stats.requests["download"] == 1


def test_head_answers_headers_only(server: SandboxServer) -> None:
    backup_id, url = export(server)
    response = httpx.head(url)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["etag"] == blobs.etag(backup_id, SIZE)


@pytest.mark.parametrize(
    "header,start,end",
    [("bytes=0-4", 0, 4), ("bytes=1048570-1048600", 1048570, 1048600), (f"bytes={SIZE - 10}-", SIZE - 10, SIZE - 1),
     ("bytes=-100", SIZE - 100, SIZE - 1), (f"bytes=5-{SIZE + 1000}", 5, SIZE - 1)],
)
def test_ranges_answer_206_with_the_slice(server: SandboxServer, header: str, start: int, end: int) -> None:
    backup_id, url = export(server)
    response = httpx.get(url, headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.content == blobs.read(backup_id, SIZE, start, end + 1)
    assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 10}", "bytes=10-5"])
def test_unsatisfiable_ranges_answer_416(server: SandboxServer, header: str) -> None:
    _, url = export(server)
    response = httpx.get(url, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"
    assert b"<Code>InvalidRange</Code>" in response.content


def test_a_range_on_a_tiny_backup(server: SandboxServer) -> None:
    backup_id, url = export(server, size=7)
    assert httpx.get(url).content == blobs.read(backup_id, 7) and blobs.read(backup_id, 7).startswith(b"PGDMP")
    assert httpx.get(url, headers={"Range": "bytes=0-100"}).content == blobs.read(backup_id, 7)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("X-Amz-Signature=", "X-Amz-Signature=0"),
        lambda url: url.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401"),
        lambda url: url.split("?")[0],
        lambda url: url.replace(".custom?", "x.custom?"),
    ],
)
def test_a_tampered_link_is_refused_with_s3_xml(server: SandboxServer, tamper: Callable[[str], str]) -> None:
    _, url = export(server)
    response = httpx.get(tamper(url))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/xml"
    assert b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message>" in response.content


def test_a_link_past_its_expiry_is_refused(server: SandboxServer) -> None:
    _, url = export(server)
    server.state.advance(86400 + 1)
    response = httpx.get(url)
    assert response.status_code == 403
    assert b"<Message>Request has expired</Message>" in response.content


def test_expire_links_kills_current_links_and_a_new_export_works(server: SandboxServer) -> None:
    backup_id, url = export(server)
    server.expire_links()
    refused = httpx.get(url)
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": server.token}) as api:
        shown = api.get(f"/backups/{backup_id}").json()
    _, fresh = export(server)
    assert refused.status_code == 403 and b"Request has expired" in refused.content
    assert shown["download_url"] == url  # still shown, with an expiry in the past
    assert httpx.get(fresh, headers={"Range": "bytes=0-4"}).content == b"PGDMP"


def test_expire_links_spares_exports_still_pending(server: SandboxServer) -> None:
    server.state.export_delay_seconds = 100
    database = server.state.database_named("shop")
    backup = server.state.latest_backup(database.id)
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": server.token}) as api:
        api.post(f"/backups/{backup.id}/export", json={})
        server.expire_links()
        assert api.get(f"/backups/{backup.id}").json()["download_url"] is None
        server.state.advance(101)
        url = api.get(f"/backups/{backup.id}").json()["download_url"]
    assert httpx.get(url, headers={"Range": "bytes=0-4"}).content == b"PGDMP"


def test_connection_cut_after_k_bytes_then_next_download_is_whole(server: SandboxServer) -> None:
    backup_id, url = export(server)
    server.faults.cut_downloads(after_bytes=100_000, count=1)
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("GET", url) as response:
            for piece in response.iter_bytes():
                received += piece
    assert bytes(received) == blobs.read(backup_id, SIZE, 0, 100_000)
    assert len(httpx.get(url).content) == SIZE


def test_wrong_content_length_declares_more_than_it_sends(server: SandboxServer) -> None:
    _, url = export(server)
    server.faults.wrong_length_downloads(count=1, extra_bytes=10)
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("GET", url, headers={"Range": "bytes=0-999"}) as response:
            declared = response.headers["content-length"]
            response.read()
    assert declared == "1010"
    assert httpx.get(url, headers={"Range": "bytes=0-999"}).status_code == 206


def test_forced_403_then_normal(server: SandboxServer) -> None:
    _, url = export(server)
    server.faults.forbid_downloads(count=2)
    statuses = [httpx.get(url, headers={"Range": "bytes=0-0"}).status_code for _ in range(3)]
    assert statuses == [403, 403, 206]


def test_download_error_rate_answers_s3_errors(server: SandboxServer) -> None:
    _, url = export(server)
    server.faults.set_error_rate("download", 1.0, status=503)
    response = httpx.get(url)
    assert response.status_code == 503 and b"<Code>SlowDown</Code>" in response.content


def test_download_faults_over_http(server: SandboxServer) -> None:
    backup_id, url = export(server)
    body = {"forbid_downloads": 1, "cut_downloads": {"after_bytes": 10, "count": 1}}
    answer = httpx.post(f"{server.base_url}/_sandbox/faults", json=body, headers={"X-Auth-Token": server.token})
    assert [f["kind"] for f in answer.json()["faults"]["pending_download_faults"]] == ["cut", "forbid"]
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    assert httpx.get(url).status_code == 403
    expire = {"expire_links": True}
    httpx.post(f"{server.base_url}/_sandbox/faults", json=expire, headers={"X-Auth-Token": server.token})
    assert b"Request has expired" in httpx.get(url).content


def test_a_backup_backed_by_a_file_serves_that_file_with_ranges(server: SandboxServer, tmp_path) -> None:
    import os

    content = os.urandom(2 * blobs.BLOCK + 777)
    path = tmp_path / "real.dump"
    path.write_bytes(content)
    database = server.state.add_database("from-file")
    backup = server.state.add_backup(database.id, source_path=str(path))
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": server.token})
    with api:
        assert api.post(f"/backups/{backup.id}/export", json={}).status_code == 200
        answer = api.get(f"/backups/{backup.id}").json()

    whole = httpx.get(answer["download_url"])
    tail = httpx.get(answer["download_url"], headers={"Range": f"bytes={blobs.BLOCK + 5}-"})

    assert answer["size"] == len(content) and whole.content == content
    assert tail.status_code == 206 and tail.content == content[blobs.BLOCK + 5:]
    assert tail.headers["content-range"] == f"bytes {blobs.BLOCK + 5}-{len(content) - 1}/{len(content)}"
    assert blobs.sha256_hex(backup.id, len(content), str(path)) == hashlib.sha256(content).hexdigest()
