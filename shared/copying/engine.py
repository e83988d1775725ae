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
plain keep-alive connections (``shared.copying.connections``). Control calls stay on httpx/boto3.

The probe and every part are retried alike (cut or reset connection, 5xx, short body, a wrong
``Content-Length``; ``shared.copying.answers`` says what each answer means), the SHA-256 state
restored to the part's start. A server that ignores ``Range`` (200 with the whole object) is read
in order: the one answer feeds the following parts. A dead link raises ``DownloadLinkExpired``
with ``Progress`` intact so the caller can export again and carry on from the same part. Which
link each part uses is the caller's choice (``run``'s ``link``). This module never completes or
aborts an upload: the caller owns the upload's life.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from shared.copying.answers import check_part, probed_size
from shared.copying.connections import Connections, transfer_clients
from shared.errors import DownloadError, DownloadLinkExpired, PartDigestMismatch, StorageError
from shared.models import PartDone
from shared.observability import log_event
from shared.parts import Part, iter_parts, part_count

__all__ = ["Connections", "OnBytes", "Progress", "Transfer", "transfer_clients"]

logger = logging.getLogger(__name__)

BUFFER = 1 << 20
_NETWORK = (OSError, http.client.HTTPException)
T = TypeVar("T")
OnBytes = Callable[[int], None]  # bytes of the object copied so far, parts resumed included


def _unheard(done: int) -> None:
    """No one listens to this copy's progress."""


@dataclass
class Progress:
    """What has been copied so far; survives a ``DownloadLinkExpired`` and becomes a continuation.

    ``sha256`` covers the bytes of ``parts``: this process saw all of them, or a continuation
    carried the hash's state (``sha256state``); None when neither (the stored bytes are read back).
    """

    size: int
    part_size: int
    parts: list[PartDone] = field(default_factory=list)
    sha256: Any = None
    seconds: float = 0.0  # time spent moving bytes in this process
    bytes_moved: int = 0  # bytes moved by this process
    parts_moved: int = 0  # parts moved by this process

    @property
    def next_part(self) -> int:
        return len(self.parts) + 1

    @property
    def finished(self) -> bool:
        return len(self.parts) == part_count(self.size, self.part_size)

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_moved / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_per_part(self) -> float:
        """Measured in this process; 0 before its first part."""
        return self.seconds / self.parts_moved if self.parts_moved else 0.0


@dataclass
class _Body:
    """An answer that ignored ``Range`` (the whole object), read in order across parts."""

    url: str
    resp: Any
    position: int


def _retryable(exc: BaseException) -> bool:
    retried = (DownloadError, StorageError, PartDigestMismatch)
    return isinstance(exc, retried) and not isinstance(exc, DownloadLinkExpired)


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
        self._body: _Body | None = None
        self._on_bytes: OnBytes = _unheard

    def probe(self, url: str) -> int | None:
        """One byte of the link: it must be alive; returns the object's size when it says it.

        A ranged GET, not a HEAD: a presigned URL signs its method, so S3 answers a HEAD on a
        presigned GET link with 403. ``Content-Range`` carries the total (``bytes 0-0/N``, or
        ``bytes */0`` with 416 for an empty object).
        """
        return self._retried(lambda: self._probe_once(url), "probe")

    def run(self, link: str | Callable[[float], str], progress: Progress, part_url: Callable[[int], str],
            should_stop: Callable[[float], bool] = lambda _: False, on_bytes: OnBytes | None = None) -> bool:
        """Copy the remaining parts. Returns True when all are done, False when told to stop.

        ``link(seconds_per_part)`` gives the download URL for the next part (the caller keeps it
        alive); ``should_stop(seconds_per_part)`` is asked after each part, so the caller can stop
        while there is still time to hand over. ``on_bytes(done)`` hears each buffer sent (a
        retried part starts again from its first byte, so ``done`` may step back).
        """
        next_link = (lambda _: link) if isinstance(link, str) else link
        self._on_bytes = on_bytes or _unheard
        try:
            for part in iter_parts(progress.size, progress.part_size, first=progress.next_part):
                url = next_link(progress.seconds_per_part)
                started = time.monotonic()
                etag, sha = self._retried(lambda: self._copy_part(url, part, progress, part_url), f"part {part.number}")
                progress.parts.append(PartDone(part_number=part.number, etag=etag, size=part.length))
                progress.sha256 = sha
                progress.seconds += time.monotonic() - started
                progress.bytes_moved += part.length
                progress.parts_moved += 1
                if not progress.finished and should_stop(progress.seconds_per_part):
                    return False
            return True
        finally:
            self._on_bytes = _unheard
            self._drop_body()

    # --- one request ----------------------------------------------------------------------

    def _retried(self, attempt: Callable[[], T], what: str) -> T:
        retrying = Retrying(stop=stop_after_attempt(self.attempts), wait=self.wait,
                            retry=retry_if_exception(_retryable), reraise=True, before_sleep=_log_retry(what))
        return retrying(attempt)

    def _probe_once(self, url: str) -> int | None:
        try:
            conn, target = self.download.get(url)
            conn.request("GET", target, headers={"Range": "bytes=0-0"})
            resp = conn.getresponse()
            total = probed_size(resp)
            if resp.status == 200:  # Range ignored: the whole object follows, don't read it
                self.download.discard(url)
            elif len(resp.read()) != 1 and resp.status == 206:
                raise DownloadError("the download link's answer to the first byte ended early")
        except _NETWORK as exc:
            self.download.discard(url)
            raise DownloadError(f"the download link could not be reached: {type(exc).__name__}") from exc
        except BaseException:
            self.download.discard(url)
            raise
        return total

    def _copy_part(self, url: str, part: Part, progress: Progress, part_url: Callable[[int], str]) -> tuple[str, Any]:
        sha = progress.sha256.copy() if progress.sha256 is not None else None
        md5 = hashlib.md5() if self.verify_md5 else None
        put_url = part_url(part.number)
        try:
            resp = self._open_range(url, part, progress.size)
            put = self._put(put_url, part, lambda conn: self._pump(resp, conn, part, md5, sha))
        except BaseException:
            self._drop_body()
            self.download.discard(url)  # either side may be mid-message: start both afresh
            self.upload.discard(put_url)
            raise
        self._advance_body(part, progress.size)
        etag = (put.getheader("ETag") or "").strip('"')
        if md5 is not None and etag != md5.hexdigest():
            raise PartDigestMismatch(f"part {part.number}: the store's ETag {etag[:40]!r} is not the MD5 of the "
                                     f"bytes sent ({md5.hexdigest()})")
        return etag, sha

    def _open_range(self, url: str, part: Part, size: int) -> Any:
        body = self._body
        if body is not None and body.url == url and body.position == part.start:
            return body.resp  # the server ignored Range: this part follows in the same answer
        self._drop_body()
        try:
            conn, target = self.download.get(url)
            conn.request("GET", target, headers={"Range": part.range_header})
            resp = conn.getresponse()
        except _NETWORK as exc:
            raise DownloadError(f"part {part.number}: the download failed: {type(exc).__name__}") from exc
        check_part(resp, part, size)
        if resp.status == 200:
            self._body = _Body(url, resp, 0)
            self._skip(resp, part)
        return resp

    def _skip(self, resp: Any, part: Part) -> None:
        """Read past the bytes before ``part`` in a whole-object answer."""
        assert self._body is not None
        while self._body.position < part.start:
            n = self._read(resp, self._buffer[: min(len(self._buffer), part.start - self._body.position)], part)
            self._body.position += n

    def _advance_body(self, part: Part, size: int) -> None:
        if self._body is not None:
            self._body.position = part.start + part.length
            if self._body.position >= size:  # read to its end: the connection is reusable
                self._body = None

    def _drop_body(self) -> None:
        """A whole-object answer not read to its end leaves its connection unusable: close it."""
        body, self._body = self._body, None
        if body is not None:
            self.download.discard(body.url)

    def _put(self, put_url: str, part: Part, send_body: Callable[[Any], None]) -> Any:
        """One PUT with a known length; the body is sent by ``send_body(conn)`` as it arrives."""
        conn, target = self.upload.get(put_url)
        try:
            conn.putrequest("PUT", target, skip_accept_encoding=True)
            conn.putheader("Content-Length", str(part.length))
            conn.putheader("Content-Type", "application/octet-stream")
            conn.endheaders()
        except _NETWORK as exc:
            raise StorageError(f"part {part.number}: the upload failed: {type(exc).__name__}") from exc
        send_body(conn)
        try:
            answer = conn.getresponse()
            answer.read()
        except _NETWORK as exc:
            raise StorageError(f"part {part.number}: the upload failed: {type(exc).__name__}") from exc
        if answer.status != 200:
            raise StorageError(f"part {part.number}: the store answered {answer.status}")
        return answer

    def _read(self, resp: Any, view: memoryview, part: Part) -> int:
        try:
            n = resp.readinto(view)
        except _NETWORK as exc:
            raise DownloadError(f"part {part.number}: the download broke: {type(exc).__name__}") from exc
        if not n:
            raise DownloadError(f"part {part.number}: the download ended before the bytes it promised")
        return n

    def _pump(self, resp: Any, conn: Any, part: Part, md5: Any, sha: Any) -> None:
        """Download -> hashes -> upload through the one buffer; a short body is a download error."""
        buffer, got = self._buffer, 0
        while got < part.length:
            n = self._read(resp, buffer[: min(len(buffer), part.length - got)], part)
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
            self._on_bytes(part.start + got)


def _log_retry(what: str) -> Callable[[Any], None]:
    def log(state: Any) -> None:
        exc = state.outcome.exception() if state.outcome else None
        # our own messages (part numbers, statuses, digests): never a URL or a header's value
        log_event(logger, "download retry", logging.WARNING, what=what, attempt=state.attempt_number,
                  error=getattr(exc, "code", type(exc).__name__), detail=str(exc)[:300])
    return log
