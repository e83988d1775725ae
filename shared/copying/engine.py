"""The streaming engine: download link -> multipart upload, one part at a time, never buffered.

For each part: ONE ranged GET on the download link, whose body is pumped into ONE ``PUT`` on a
presigned ``upload_part`` URL with an explicit ``Content-Length``. Bytes flow through one
reused 1 MiB buffer (``readinto`` -> hash -> ``sendall``), feeding the part's MD5 (checked
against the ETag the store returns) and the SHA-256 of the whole stream as they pass. Memory
stays at that buffer whatever the backup size.

Why a presigned PUT rather than ``s3.upload_part``: botocore wants a seekable body (it would
buffer the part) and, over plain HTTP, SHA-256-signs the payload (another hash pass); the
presigned URL streams with ``UNSIGNED-PAYLOAD`` and never adds ``x-amz-trailer``/``aws-chunked``.

Why the standard library's ``http.client`` rather than httpx here: this loop is the whole CPU
bill of a copy. Measured on 1 GiB, httpx's 64 KiB chunks through h11 cost ~1.9 CPU-s against
~1.1 for ``readinto`` into a reused buffer (the SHA-256 alone is ~0.6), so the data path uses
plain keep-alive connections (``Connections``): no credentials, no redirects, no proxies from
the environment, TLS verified with the default context. Control calls stay on httpx/boto3.

A failed part (cut connection, 5xx, short body) is fetched again by its range, with the SHA-256
state restored to the part's start. A 403/404 on the link raises ``DownloadLinkExpired`` with
``Progress`` intact so the caller can export again and carry on from the same part. This module
never completes or aborts an upload: the caller owns the upload's life.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import logging
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from shared.errors import DownloadError, DownloadLinkExpired, IntegrityError, StorageError
from shared.models import PartDone
from shared.observability import log_event
from shared.parts import Part, iter_parts, part_count

logger = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_EXPIRED = (401, 403, 404, 410)
BUFFER = 1 << 20
Connect = Callable[[str, str, int | None, float], Any]


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA store (~40 ms of CPU),
    which every connection (two per copy, two more after each failed part) used to pay again."""
    return ssl.create_default_context()


def _connect(scheme: str, host: str, port: int | None, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_context())
    return http.client.HTTPConnection(host, port, timeout=timeout)


class Connections:
    """Keep-alive HTTP/1.1 connections, one per origin, that carry nothing but what we send."""

    def __init__(self, timeout: float = 60.0, connect: Connect = _connect) -> None:
        self.timeout = timeout
        self._connect = connect
        self._open: dict[tuple[str, str, int | None], Any] = {}

    def get(self, url: str) -> tuple[Any, str]:
        """The connection for ``url``'s origin and the request target (path and query)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DownloadError("only http(s) URLs can be copied")
        origin = (parts.scheme, parts.hostname, parts.port)
        if origin not in self._open:
            self._open[origin] = self._connect(parts.scheme, parts.hostname, parts.port, self.timeout)
        return self._open[origin], (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def discard(self, url: str) -> None:
        """Drop the origin's connection (after an error it may be mid-request)."""
        parts = urlsplit(url)
        conn = self._open.pop((parts.scheme, parts.hostname or "", parts.port), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for conn in self._open.values():
            conn.close()
        self._open.clear()


@dataclass
class Progress:
    """What has been copied so far; survives a ``DownloadLinkExpired`` and becomes a continuation.

    ``sha256`` covers the bytes of ``parts`` when this process saw all of them, and is None
    when earlier parts were copied by another invocation (a hash state cannot be serialised).
    """

    size: int
    part_size: int
    parts: list[PartDone] = field(default_factory=list)
    sha256: Any = None
    seconds: float = 0.0  # time spent moving bytes in this process
    bytes_moved: int = 0  # bytes moved by this process

    @property
    def next_part(self) -> int:
        return len(self.parts) + 1

    @property
    def finished(self) -> bool:
        return len(self.parts) == part_count(self.size, self.part_size)

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_moved / self.seconds if self.seconds > 0 else 0.0


def transfer_clients(timeout: float = 60.0) -> tuple[Connections, Connections]:
    """Connections for the download link and for the presigned part PUTs, kept apart."""
    return Connections(timeout), Connections(timeout)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, (DownloadError, StorageError)) and not isinstance(exc, DownloadLinkExpired)


def _check_status(status: int, what: str) -> None:
    if status in _EXPIRED:
        raise DownloadLinkExpired(f"the download link answered {status} to {what}: export again")
    if status >= 300:
        raise DownloadError(f"the download link answered {status} to {what}")


def _check_part_headers(resp: Any, part: Part, size: int) -> None:
    """A part's answer must be exactly its range of an object of ``size`` bytes."""
    _check_status(resp.status, f"part {part.number}")
    length = resp.getheader("Content-Length")
    if resp.status == 200:  # the server ignored Range: only fine for a one-part object
        if part.start != 0 or part.length != size:
            raise DownloadError("the download link ignored the Range header")
    else:
        match = _CONTENT_RANGE.fullmatch((resp.getheader("Content-Range") or "").strip())
        if not match or (int(match[1]), int(match[2])) != (part.start, part.end):
            raise IntegrityError(f"part {part.number}: the download answered another range")
        if match[3] != "*" and int(match[3]) != size:
            raise IntegrityError(f"the download is {match[3]} bytes, the backup {size}")
    if length is None or not length.isdigit() or int(length) != part.length:
        raise IntegrityError(f"part {part.number}: Content-Length {length}, expected {part.length}")


def _probed_size(resp: Any) -> int | None:
    """The object's size from the answer to ``Range: bytes=0-0``."""
    if resp.status == 416:
        match = re.fullmatch(r"bytes \*/(\d+)", (resp.getheader("Content-Range") or "").strip())
        if match:
            return int(match[1])
    _check_status(resp.status, "the first byte")
    length = resp.getheader("Content-Length")
    if resp.status == 200:
        return int(length) if length is not None and length.isdigit() else None
    match = _CONTENT_RANGE.fullmatch((resp.getheader("Content-Range") or "").strip())
    if not match or (match[1], match[2]) != ("0", "0") or length != "1":
        raise IntegrityError("the download link answered the first byte with another range or length")
    return None if match[3] == "*" else int(match[3])


class Transfer:
    """Copies parts from a download link to presigned part URLs, verifying as it goes."""

    def __init__(self, download: Connections, upload: Connections, *, verify_md5: bool = True,
                 attempts: int = 4, wait: Any = None, buffer_size: int = BUFFER) -> None:
        self.download = download
        self.upload = upload
        self.verify_md5 = verify_md5
        self.attempts = attempts
        self.wait = wait or wait_exponential(multiplier=0.5, max=8)
        self._buffer = memoryview(bytearray(buffer_size))  # the only place bytes ever sit

    def probe(self, url: str) -> int | None:
        """One byte of the link: it must be alive; returns the object's size when it says it.

        A ranged GET, not a HEAD: a presigned URL signs its method, so S3 answers a HEAD on a
        presigned GET link with 403. ``Content-Range`` carries the total (``bytes 0-0/N``, or
        ``bytes */0`` with 416 for an empty object).
        """
        try:
            conn, target = self.download.get(url)
            conn.request("GET", target, headers={"Range": "bytes=0-0"})
            resp = conn.getresponse()
            total = _probed_size(resp)
            if resp.status == 200:  # Range ignored: the whole object follows, don't read it
                self.download.discard(url)
            else:
                resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.download.discard(url)
            raise DownloadError(f"the download link could not be reached: {type(exc).__name__}") from exc
        except BaseException:
            self.download.discard(url)
            raise
        return total

    def run(self, url: str, progress: Progress, part_url: Callable[[int], str],
            should_stop: Callable[[float], bool] = lambda _: False) -> bool:
        """Copy the remaining parts. Returns True when all are done, False when told to stop.

        ``should_stop(seconds_per_part)`` is asked after each part with the measured time a
        part takes, so the caller can stop while there is still time to hand over.
        """
        for part in iter_parts(progress.size, progress.part_size, first=progress.next_part):
            started = time.monotonic()
            etag, sha = self._part_with_retries(url, part, progress, part_url)
            progress.parts.append(PartDone(part_number=part.number, etag=etag, size=part.length))
            progress.sha256 = sha
            progress.seconds += time.monotonic() - started
            progress.bytes_moved += part.length
            if not progress.finished and should_stop(progress.seconds / (len(progress.parts) or 1)):
                return False
        return True

    def _part_with_retries(self, url: str, part: Part, progress: Progress,
                           part_url: Callable[[int], str]) -> tuple[str, Any]:
        retrying = Retrying(stop=stop_after_attempt(self.attempts), wait=self.wait,
                            retry=retry_if_exception(_retryable), reraise=True, before_sleep=_log_retry(part))
        for attempt in retrying:
            with attempt:
                start_sha = progress.sha256.copy() if progress.sha256 is not None else None
                return self._copy_part(url, part, progress.size, part_url(part.number), start_sha)
        raise AssertionError("unreachable")  # Retrying(reraise=True) returns or raises

    def _copy_part(self, url: str, part: Part, size: int, put_url: str, sha: Any) -> tuple[str, Any]:
        md5 = hashlib.md5() if self.verify_md5 else None
        try:
            resp = self._open_range(url, part, size)
            put = self._put(put_url, part, lambda conn: self._pump(resp, conn, part, md5, sha))
        except BaseException:
            self.download.discard(url)  # either side may be mid-message: start both afresh
            self.upload.discard(put_url)
            raise
        etag = (put.getheader("ETag") or "").strip('"')
        if md5 is not None and etag != md5.hexdigest():
            raise IntegrityError(f"part {part.number}: the store's ETag does not match the bytes sent")
        return etag, sha

    def _open_range(self, url: str, part: Part, size: int) -> Any:
        try:
            conn, target = self.download.get(url)
            conn.request("GET", target, headers={"Range": part.range_header})
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise DownloadError(f"part {part.number}: the download failed: {type(exc).__name__}") from exc
        _check_part_headers(resp, part, size)
        return resp

    def _put(self, put_url: str, part: Part, send_body: Callable[[Any], None]) -> Any:
        """One PUT with a known length; the body is sent by ``send_body(conn)`` as it arrives."""
        conn, target = self.upload.get(put_url)
        try:
            conn.putrequest("PUT", target, skip_accept_encoding=True)
            conn.putheader("Content-Length", str(part.length))
            conn.putheader("Content-Type", "application/octet-stream")
            conn.endheaders()
        except (OSError, http.client.HTTPException) as exc:
            raise StorageError(f"part {part.number}: the upload failed: {type(exc).__name__}") from exc
        send_body(conn)
        try:
            answer = conn.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException) as exc:
            raise StorageError(f"part {part.number}: the upload failed: {type(exc).__name__}") from exc
        if answer.status != 200:
            raise StorageError(f"part {part.number}: the store answered {answer.status}")
        return answer

    def _pump(self, resp: Any, conn: Any, part: Part, md5: Any, sha: Any) -> None:
        """Download -> hashes -> upload through the one buffer; a short body is a download error."""
        buffer, got = self._buffer, 0
        while got < part.length:
            try:
                n = resp.readinto(buffer[: min(len(buffer), part.length - got)])
            except (OSError, http.client.HTTPException) as exc:
                raise DownloadError(f"part {part.number}: the download broke: {type(exc).__name__}") from exc
            if not n:
                raise DownloadError(f"part {part.number}: the download ended after {got} of {part.length} bytes")
            view = buffer[:n]
            if md5 is not None:
                md5.update(view)
            if sha is not None:
                sha.update(view)
            try:
                conn.send(view)
            except OSError as exc:
                raise StorageError(f"part {part.number}: the upload broke: {type(exc).__name__}") from exc
            got += n


def _log_retry(part: Part) -> Callable[[Any], None]:
    def log(state: Any) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log_event(logger, "part retry", logging.WARNING, part=part.number, attempt=state.attempt_number,
                  error=getattr(exc, "code", type(exc).__name__))
    return log
