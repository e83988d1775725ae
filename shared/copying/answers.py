"""What the download link's answers mean: pure checks of a status and its headers.

Failure classes, chosen for what a retry can do:
- 401/403/404/410: the link is dead (expired early, revoked): export again (``DownloadLinkExpired``);
- a redirect: never followed, the link is the credential and the bytes must come from it
  (``DownloadRedirected``, permanent);
- 5xx and other 4xx, a ``Content-Length`` or ``Content-Range`` other than asked, a body shorter
  than promised: the answer was bad, not the file: fetch again (``DownloadError``, retryable);
- an object of another size than the backup: the file is not the backup (``IntegrityError``).
"""

from __future__ import annotations

import re
from typing import Any

from shared.errors import DownloadError, DownloadLinkExpired, DownloadRedirected, IntegrityError
from shared.parts import Part

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED = re.compile(r"bytes \*/(\d+)")
DEAD_LINK = (401, 403, 404, 410)


def check_status(status: int, what: str) -> None:
    if status in DEAD_LINK:
        raise DownloadLinkExpired(f"the download link answered {status} to {what}: export again")
    if 300 <= status < 400:
        raise DownloadRedirected(f"the download link answered a redirect ({status}) to {what}; it is not followed")
    if status >= 300:
        raise DownloadError(f"the download link answered {status} to {what}")


def _length(resp: Any) -> int | None:
    value = resp.getheader("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _check_total(total: str, size: int) -> None:
    if total != "*" and int(total) != size:
        raise IntegrityError(f"the download is {total} bytes, the backup {size}")


def check_part(resp: Any, part: Part, size: int) -> None:
    """A 206 answer must be exactly the part's range of an object of ``size`` bytes; a 200 (the
    server ignored Range) must be the whole object."""
    check_status(resp.status, f"part {part.number}")
    length = _length(resp)
    if resp.status == 200:
        if length is not None and length != size:
            raise IntegrityError(f"the download is {length} bytes, the backup {size}")
        if length is None:
            raise DownloadError(f"part {part.number}: the answer has no usable Content-Length")
        return
    match = _CONTENT_RANGE.fullmatch((resp.getheader("Content-Range") or "").strip())
    if match:
        _check_total(match[3], size)
    if not match or (int(match[1]), int(match[2])) != (part.start, part.end):
        raise DownloadError(f"part {part.number}: the download answered another range")
    if length != part.length:
        raise DownloadError(f"part {part.number}: Content-Length {resp.getheader('Content-Length')}, "
                            f"expected {part.length}")


def probed_size(resp: Any) -> int | None:
    """The object's size from the answer to ``Range: bytes=0-0``, when the answer says it."""
    if resp.status == 416:
        match = _UNSATISFIED.fullmatch((resp.getheader("Content-Range") or "").strip())
        if match:
            return int(match[1])
    check_status(resp.status, "the first byte")
    if resp.status == 200:  # Range ignored: the whole object follows
        return _length(resp)
    match = _CONTENT_RANGE.fullmatch((resp.getheader("Content-Range") or "").strip())
    if not match or (match[1], match[2]) != ("0", "0") or _length(resp) != 1:
        raise DownloadError("the download link answered the first byte with another range or length")
    return None if match[3] == "*" else int(match[3])
