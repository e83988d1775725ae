"""The download side: an Object Storage look-alike serving exported backups by presigned link.

No API token is needed or looked at here. Refusals are S3-style XML (``AccessDenied``, with
``Request has expired`` once the link is dead); ``Range: bytes=a-b|a-|-n`` gives 206 with
``Content-Range`` or 416 when nothing of it exists; bodies stream in 1 MiB writes.
"""

from __future__ import annotations

import re
import time
import uuid
from email.utils import formatdate
from typing import TYPE_CHECKING, Protocol

from sandbox import blobs
from sandbox.faults import DownloadFault, Injection

if TYPE_CHECKING:
    from sandbox.api import SandboxServer
    from sandbox.records import BackupRecord

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_S3_ERRORS = {
    403: ("AccessDenied", "Access Denied"),
    404: ("NoSuchKey", "The specified key does not exist."),
    416: ("InvalidRange", "The requested range is not satisfiable"),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}


class Responder(Protocol):
    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None: ...
    def start(self, status: int, headers: dict[str, str]) -> None: ...
    def write(self, data: bytes) -> None: ...
    def cut(self) -> None: ...


def s3_error(out: Responder, status: int, message: str | None = None,
             headers: dict[str, str] | None = None) -> None:
    code, default = _S3_ERRORS.get(status, ("InternalError", "Error"))
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message or default}</Message>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()
    out.send(status, body, {"Content-Type": "application/xml", "x-amz-request-id": request_id, **(headers or {})})


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """``(start, end_inclusive)``; None = whole object; False = unsatisfiable (416).

    Malformed or multi-range headers are ignored (whole object), as S3 does.
    """
    found = _RANGE_RE.match(header.strip()) if header else None
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first, last = found.group(1), found.group(2)
    if first == "":  # suffix: the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length and size else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


def serve(out: Responder, sandbox: SandboxServer, path: str, query: dict[str, str],
          range_header: str | None, head: bool) -> None:
    sandbox.stats.count("downloads_active")  # a gauge: tests wait for 0 before reading byte counts
    try:
        _serve(out, sandbox, path, query, range_header, head)
    finally:
        sandbox.stats.count("downloads_active", -1)


def _serve(out: Responder, sandbox: SandboxServer, path: str, query: dict[str, str],
           range_header: str | None, head: bool) -> None:
    sandbox.stats.count("download")
    sandbox.stats.record_range(range_header)
    injection = sandbox.faults.take_injection("download")
    if injection is not None and _inject(out, sandbox, injection):
        return
    delay = sandbox.faults.delay_for("download")
    if delay:
        time.sleep(delay)
    injected = sandbox.faults.error_for("download")
    if injected:
        sandbox.stats.count("injected_errors")
        return s3_error(out, injected)
    check = sandbox.signer.check(path, query, sandbox.state.now(), sandbox.state.link_revoked)
    if check.refusal or check.backup_id is None:
        sandbox.stats.count("refused_downloads")
        return s3_error(out, 403, check.refusal)
    backup = sandbox.state.backup(check.backup_id)
    if backup is None or backup.size is None:
        return s3_error(out, 404)
    fault = sandbox.faults.take_download_fault()
    if fault is not None and fault.kind == "forbid":
        sandbox.stats.count("refused_downloads")
        return s3_error(out, 403)
    if fault is not None and fault.kind == "redirect":
        return out.send(307, b"", {"Location": fault.location})
    cut_first = sandbox.state.readings.cut_first_request_after
    if fault is None and cut_first is not None and not head and sandbox.state.first_fetch(backup.id):
        fault = DownloadFault("cut", cut_after=cut_first)
    if sandbox.state.readings.ignore_range:
        range_header = None
    _stream(out, sandbox, backup, range_header, head, fault)


def _inject(out: Responder, sandbox: SandboxServer, injection: Injection) -> bool:
    """Wait, then fail as told (an S3 error, or ``reset``: no answer); False to serve normally."""
    if not injection.wait_then_fail(sandbox.stats):
        return False
    if injection.answer == "reset":
        out.cut()
    else:
        extra = {"Retry-After": f"{injection.retry_after:g}"} if injection.retry_after is not None else None
        s3_error(out, injection.status, headers=extra)
    return True


def _stream(out: Responder, sandbox: SandboxServer, backup: BackupRecord, range_header: str | None,
            head: bool, fault: DownloadFault | None) -> None:
    size = backup.size or 0
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "ETag": blobs.etag(backup.id, size),
        "Last-Modified": formatdate(backup.created_at.timestamp(), usegmt=True),
        "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
    }
    wanted = parse_range(range_header, size)
    if wanted is False:
        return s3_error(out, 416, headers={"Content-Range": f"bytes */{size}"})
    status, (start, end) = (200, (0, size - 1)) if wanted is None else (206, wanted)
    if status == 206:
        total = size + (fault.extra_bytes if fault and fault.kind == "other_size" else 0)
        headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    length = end - start + 1
    declared = length + (fault.extra_bytes if fault and fault.kind == "wrong_length" else 0)
    out.start(status, {**headers, "Content-Length": str(declared)})
    if head:
        return
    limit = fault.cut_after if fault and fault.kind == "cut" else length
    sent = 0
    try:
        for piece in blobs.iter_backup(backup.id, size, start, start + min(length, limit), backup.source_path):
            out.write(piece)
            sent += len(piece)
    finally:
        sandbox.stats.count("download_bytes", sent)
    if declared != sent:
        out.cut()  # the client sees a body shorter than promised
