"""The streaming engine against in-process fakes of its HTTP connections: bytes, hashes, retries."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from tenacity import wait_none

from shared.errors import DownloadError, DownloadLinkExpired, DownloadRedirected, IntegrityError, StorageError
from shared.copying.engine import Connections, Progress, Transfer

PART = 64 * 1024
DATA = hashlib.shake_128(b"backup").digest(5 * PART + 1234)
SIZE = len(DATA)


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str] | None = None, chunks: list[bytes] | None = None,
                 error: bool = False) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.chunks, self.error = list(chunks or []), error

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def read(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        if self.error:
            raise ConnectionResetError("connection reset by peer")
        return data

    def readinto(self, buffer: memoryview) -> int:
        if not self.chunks:
            if self.error:
                raise ConnectionResetError("connection reset by peer")
            return 0
        chunk = self.chunks.pop(0)
        taken, rest = chunk[: len(buffer)], chunk[len(buffer):]
        if rest:
            self.chunks.insert(0, rest)
        buffer[: len(taken)] = taken
        return len(taken)


Handler = Callable[[str, str, dict[str, str], bytes], FakeResponse]


class FakeConnection:
    """Stands in for ``http.client.HTTPConnection``: the calls the engine makes, nothing more."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.closed = False

    def request(self, method: str, target: str, headers: dict[str, str] | None = None) -> None:
        self.method, self.target, self.headers, self.body = method, target, dict(headers or {}), bytearray()

    def putrequest(self, method: str, target: str, skip_accept_encoding: bool = False) -> None:
        self.request(method, target)

    def putheader(self, name: str, value: str) -> None:
        self.headers[name] = value

    def endheaders(self) -> None:
        pass

    def send(self, data: memoryview) -> None:
        self.body += data

    def getresponse(self) -> FakeResponse:
        return self.handler(self.method, self.target, self.headers, bytes(self.body))

    def close(self) -> None:
        self.closed = True


def connections(handler: Handler) -> Connections:
    return Connections(connect=lambda scheme, host, port, timeout: FakeConnection(handler))


class FakeLink:
    """A presigned GET answering Range; ``faults`` is a list of what to do to the next GETs."""

    def __init__(self, faults: list[str] | None = None, total: int = SIZE, ignore_range: bool = False) -> None:
        self.faults = list(faults or [])
        self.total = total
        self.ignore_range = ignore_range
        self.headers_seen: list[dict[str, str]] = []
        self.targets: list[str] = []

    def __call__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> FakeResponse:
        self.headers_seen.append(headers)
        self.targets.append(target)
        if method == "HEAD":  # as S3 does: a presigned GET URL's signature does not cover HEAD
            return FakeResponse(403)
        start, end = map(int, re.fullmatch(r"bytes=(\d+)-(\d+)", headers["Range"]).groups())
        fault = self.faults.pop(0) if self.faults else None
        head = {"Content-Range": f"bytes {start}-{end}/{self.total}", "Content-Length": str(end - start + 1)}
        data = DATA[start:end + 1]
        if self.ignore_range:  # the whole object, 200, whatever was asked
            return FakeResponse(200, {"Content-Length": str(SIZE)}, [DATA[i:i + 8192] for i in range(0, SIZE, 8192)])
        if fault == "403":
            return FakeResponse(403)
        if fault == "302":
            return FakeResponse(302, {"Location": "http://elsewhere.test/x"})
        if fault == "cut-at-0":
            return FakeResponse(206, head, [], error=True)
        if fault == "503":
            return FakeResponse(503)
        if fault == "short":
            return FakeResponse(206, head, [data[: len(data) // 2]])
        if fault == "broken":
            return FakeResponse(206, head, [data[:1000]], error=True)
        if fault == "garbled-length":
            return FakeResponse(206, {**head, "Content-Length": "12abc"}, [data])
        if fault == "long-declared":
            return FakeResponse(206, {**head, "Content-Length": str(len(data) + 1024)}, [data])
        return FakeResponse(206, head, [data[i:i + 8192] for i in range(0, len(data), 8192)])


class FakeStore:
    """Presigned part PUTs: keeps each part's bytes, answers the MD5 as ETag (or a fault)."""

    def __init__(self, faults: list[str] | None = None) -> None:
        self.parts: dict[int, bytes] = {}
        self.faults = list(faults or [])
        self.requests: list[dict[str, str]] = []

    def url(self, number: int) -> str:
        return f"http://store.test/bucket/key?partNumber={number}&uploadId=u&X-Amz-Signature=x"

    def __call__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> FakeResponse:
        self.requests.append(headers)
        fault = self.faults.pop(0) if self.faults else None
        if fault == "503":
            return FakeResponse(503)
        assert int(headers["Content-Length"]) == len(body)
        self.parts[int(parse_qs(urlsplit(target).query)["partNumber"][0])] = body
        etag = "0" * 32 if fault == "bad-etag" else hashlib.md5(body).hexdigest()
        return FakeResponse(200, {"ETag": f'"{etag}"'})

    def joined(self) -> bytes:
        return b"".join(self.parts[n] for n in sorted(self.parts))


def make(link: FakeLink, store: FakeStore, **kw: Any) -> Transfer:
    return Transfer(connections(link), connections(store), wait=wait_none(), buffer_size=16 * 1024, **kw)


def fresh() -> Progress:
    return Progress(SIZE, PART, sha256=hashlib.sha256())


def test_copies_every_byte_and_hashes_the_stream() -> None:
    link, store = FakeLink(), FakeStore()
    progress = fresh()
    assert make(link, store).run("http://link.test/x.custom?sig=1", progress, store.url) is True
    assert store.joined() == DATA
    assert progress.sha256.hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert [p.etag for p in progress.parts] == [hashlib.md5(store.parts[n]).hexdigest() for n in range(1, 7)]
    assert [p.size for p in progress.parts] == [PART] * 5 + [1234]
    # no credentials travel to either host, and every PUT declared its exact length
    assert [sorted(h) for h in link.headers_seen] == [["Range"]] * 6  # nothing else, no credentials
    assert [int(h["Content-Length"]) for h in store.requests] == [PART] * 5 + [1234]


@pytest.mark.parametrize("fault", ["short", "broken", "503"])
def test_a_failed_part_is_fetched_again_and_the_hash_stays_right(fault: str) -> None:
    link, store = FakeLink(["ok", "ok", fault]), FakeStore()
    progress = fresh()
    make(link, store).run("http://link.test/x", progress, store.url)
    assert store.joined() == DATA
    assert progress.sha256.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_store_5xx_is_retried() -> None:
    link, store = FakeLink(), FakeStore(["503"])
    progress = fresh()
    make(link, store).run("http://link.test/x", progress, store.url)
    assert store.joined() == DATA


def test_a_refused_link_keeps_the_progress_for_a_new_link() -> None:
    link, store = FakeLink(["ok", "ok", "403"]), FakeStore()
    progress = fresh()
    transfer = make(link, store)
    with pytest.raises(DownloadLinkExpired):
        transfer.run("http://link.test/old", progress, store.url)
    assert len(progress.parts) == 2
    assert transfer.run("http://link.test/new", progress, store.url) is True
    assert store.joined() == DATA
    assert progress.sha256.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_part_whose_etag_is_wrong_once_is_sent_again() -> None:
    store = FakeStore(["bad-etag"])
    progress = fresh()
    assert make(FakeLink(), store).run("http://link.test/x", progress, store.url) is True
    assert store.joined() == DATA and len(store.requests) == len(progress.parts) + 1
    assert all(p.etag == hashlib.md5(store.parts[p.part_number]).hexdigest() for p in progress.parts)


def test_a_part_whose_etag_stays_wrong_is_an_integrity_error_naming_both_digests() -> None:
    store = FakeStore(["bad-etag"] * 4)
    with pytest.raises(IntegrityError, match=r"part 1: the store's ETag '0{32}' is not the MD5 of the bytes sent "
                                             r"\([0-9a-f]{32}\)") as raised:
        make(FakeLink(), store).run("http://link.test/x", fresh(), store.url)
    assert raised.value.code == "integrity_check_failed" and len(store.requests) == 4


def test_without_md5_check_a_foreign_etag_is_accepted() -> None:
    store = FakeStore(["bad-etag"])
    progress = fresh()
    make(FakeLink(), store, verify_md5=False).run("http://link.test/x", progress, store.url)
    assert store.joined() == DATA and progress.parts[0].etag == "0" * 32


def test_a_source_of_another_size_is_refused() -> None:
    with pytest.raises(IntegrityError):
        make(FakeLink(total=SIZE + 1), FakeStore()).run("http://link.test/x", fresh(), FakeStore().url)


def test_persistent_store_failure_raises_storage_error() -> None:
    with pytest.raises(StorageError):
        make(FakeLink(), FakeStore(["503"] * 10)).run("http://link.test/x", fresh(), FakeStore().url)


def test_stop_after_a_part_then_resume_without_a_hash_state() -> None:
    link, store = FakeLink(), FakeStore()
    transfer = make(link, store)
    progress = fresh()
    assert transfer.run("http://link.test/x", progress, store.url, should_stop=lambda per_part: True) is False
    assert len(progress.parts) == 1
    resumed = Progress(SIZE, PART, parts=list(progress.parts), sha256=None)
    assert transfer.run("http://link.test/x", resumed, store.url) is True
    assert store.joined() == DATA and resumed.sha256 is None


def test_probe_reports_the_length_and_a_refusal() -> None:
    assert make(FakeLink(), FakeStore()).probe("http://link.test/x") == SIZE
    refused = Transfer(connections(lambda *a: FakeResponse(403)), connections(FakeStore()), wait=wait_none())
    with pytest.raises(DownloadLinkExpired):
        refused.probe("http://link.test/x")


@pytest.mark.parametrize("fault", ["long-declared", "garbled-length"])
def test_a_wrong_content_length_is_fetched_again(fault: str) -> None:
    link, store = FakeLink(["ok", fault]), FakeStore()
    progress = fresh()
    assert make(link, store).run("http://link.test/x", progress, store.url) is True
    assert store.joined() == DATA and progress.sha256.hexdigest() == hashlib.sha256(DATA).hexdigest()


def test_a_content_length_wrong_every_time_is_a_retryable_download_error() -> None:
    with pytest.raises(DownloadError) as caught:
        make(FakeLink(["long-declared"] * 10), FakeStore()).run("http://link.test/x", fresh(), FakeStore().url)
    assert caught.value.retryable and caught.value.code == "download_failed"


def test_a_redirect_is_never_followed_nor_retried() -> None:
    link = FakeLink(["ok", "302"])
    with pytest.raises(DownloadRedirected) as caught:
        make(link, FakeStore()).run("http://link.test/x", fresh(), FakeStore().url)
    assert not caught.value.retryable and caught.value.code == "download_redirected"
    assert len(link.targets) == 2 and all(t.startswith("/x") for t in link.targets)


@pytest.mark.parametrize("fault", ["cut-at-0", "broken", "503", "short"])
def test_the_probe_is_retried_like_a_part(fault: str) -> None:
    link = FakeLink([fault])
    assert make(link, FakeStore()).probe("http://link.test/x") == SIZE
    assert [h["Range"] for h in link.headers_seen] == ["bytes=0-0", "bytes=0-0"]


def test_a_server_ignoring_range_is_read_in_order_with_one_request() -> None:
    link, store = FakeLink(ignore_range=True), FakeStore()
    progress = fresh()
    assert make(link, store).run("http://link.test/x", progress, store.url) is True
    assert store.joined() == DATA and progress.sha256.hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert len(link.targets) == 1  # the one whole-object answer fed every part


def test_a_server_ignoring_range_serves_a_resumed_copy_from_its_part() -> None:
    link, store = FakeLink(ignore_range=True), FakeStore()
    transfer = make(link, store)
    first = fresh()
    transfer.run("http://link.test/x", first, store.url, should_stop=lambda per_part: len(first.parts) == 2)
    resumed = Progress(SIZE, PART, parts=list(first.parts), sha256=None)
    assert transfer.run("http://link.test/x", resumed, store.url) is True
    assert store.joined() == DATA and len(link.targets) == 2


def test_each_part_takes_the_link_the_caller_gives_it() -> None:
    link, store = FakeLink(), FakeStore()
    asked: list[float] = []

    def next_link(seconds_per_part: float) -> str:
        asked.append(seconds_per_part)
        return f"http://link.test/x?n={len(asked)}"

    assert make(link, store).run(next_link, fresh(), store.url) is True
    assert store.joined() == DATA
    assert [t.split("?")[1] for t in link.targets] == [f"n={n}" for n in range(1, 7)]
    assert asked[0] == 0.0 and all(seconds >= 0 for seconds in asked)


def test_connections_are_reused_and_dropped_after_a_failure() -> None:
    link, store = FakeLink(["ok", "broken"]), FakeStore()
    transfer = make(link, store)
    transfer.run("http://link.test/x", fresh(), store.url)
    opened = transfer.download._open  # one per origin
    assert len(opened) == 1 and not next(iter(opened.values())).closed


def test_the_probe_reads_the_size_from_one_ranged_byte_never_a_head() -> None:
    link = FakeLink()
    assert make(link, FakeStore()).probe("http://link.test/x") == SIZE
    assert [h.get("Range") for h in link.headers_seen] == ["bytes=0-0"]


@pytest.mark.parametrize(
    ("answer", "size"),
    [
        (FakeResponse(416, {"Content-Range": "bytes */0"}), 0),  # an empty backup
        (FakeResponse(200, {"Content-Length": "77"}, [b"x" * 77]), 77),  # a server that ignores Range
    ],
)
def test_the_probe_copes_with_empty_objects_and_servers_ignoring_range(answer: FakeResponse, size: int) -> None:
    transfer = Transfer(connections(lambda *a: answer), connections(FakeStore()), wait=wait_none())
    assert transfer.probe("http://link.test/x") == size


def test_a_probe_answered_with_another_range_every_time_is_a_download_error() -> None:
    wrong = FakeResponse(206, {"Content-Range": "bytes 0-9/100", "Content-Length": "10"}, [b"x" * 10])
    transfer = Transfer(connections(lambda *a: wrong), connections(FakeStore()), wait=wait_none())
    with pytest.raises(DownloadError):
        transfer.probe("http://link.test/x")
