"""Presigned-looking download links, signed with a secret only this sandbox server knows.

Shape copied from a real export link (an Object Storage presigned GET):
``{base}/sandbox-exports/{project}/{backup}.custom?X-Amz-Algorithm=AWS4-HMAC-SHA256&
X-Amz-Credential=SCW.../20250107/fr-par/s3/aws4_request&X-Amz-Date=...&X-Amz-Expires=86400&
X-Amz-SignedHeaders=host&X-Amz-Signature=<hex>``. The access key carries the export's serial,
so every export gives a new link and ``expire_links`` can revoke older ones.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

PREFIX = "/sandbox-exports/"
# Path-style (the bucket in the path), or virtual-hosted (the bucket in the host, ``sandbox.readings``).
_PATH_RE = re.compile(r"^(/sandbox-exports)?/(?P<project>[0-9a-f-]{36})/(?P<backup>[0-9a-f-]{36})\.custom$")
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class LinkCheck:
    """The outcome of checking a link: the backup it names, or why it is refused."""

    backup_id: str | None = None
    refusal: str | None = None  # a message for an S3-style AccessDenied


class LinkSigner:
    def __init__(self, secret: bytes, region: str) -> None:
        self._secret = secret
        self._region = region

    def _signature(self, path: str, credential: str, date: str, expires: str) -> str:
        message = "\n".join((path, credential, date, expires)).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def build(
        self, base_url: str, project_id: str, backup_id: str, issued_at: float, ttl: int, serial: int,
        *, virtual_hosted: bool = False,
    ) -> str:
        """``base_url``: the server's, or for a virtual-hosted link the bucket's host (and port)."""
        path = f"{'/' if virtual_hosted else PREFIX}{project_id}/{backup_id}.custom"
        date = time.strftime(_DATE_FORMAT, time.gmtime(issued_at))
        credential = f"SCWSBX{serial:014d}/{date[:8]}/{self._region}/s3/aws4_request"
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": credential,
            "X-Amz-Date": date,
            "X-Amz-Expires": str(ttl),
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": self._signature(path, credential, date, str(ttl)),
        }
        return f"{base_url}{path}?{urlencode(query)}"

    def check(
        self, path: str, query: dict[str, str], now: float, revoked: Callable[[int], bool]
    ) -> LinkCheck:
        match = _PATH_RE.match(path)
        if match is None:
            return LinkCheck(refusal="Access Denied")
        credential = query.get("X-Amz-Credential", "")
        date = query.get("X-Amz-Date", "")
        expires = query.get("X-Amz-Expires", "")
        expected = self._signature(path, credential, date, expires)
        if not hmac.compare_digest(expected, query.get("X-Amz-Signature", "")):
            return LinkCheck(refusal="Access Denied")
        issued = calendar.timegm(time.strptime(date, _DATE_FORMAT))
        if now >= issued + int(expires) or revoked(_serial(credential)):
            return LinkCheck(refusal="Request has expired")
        return LinkCheck(backup_id=match["backup"])


def _serial(credential: str) -> int:
    return int(credential[6:20])
