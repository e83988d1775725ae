"""Request plumbing for the S3 sink: routing each request to ``<method>_<bucket|object>``, reading
bodies (Content-Length or chunked) without keeping them, and writing replies. Kept apart from the
S3 operations in ``sandbox.s3sink``; a request path and the names (never the values) of
its query parameters are recorded, since presigned values are credentials.
"""

from __future__ import annotations

import hashlib
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from sandbox.s3sink import S3Sink

CHUNK = 1 << 20


class SinkRequestHandler(BaseHTTPRequestHandler):
    """Routes a request to the subclass's ``<method>_<bucket|object>`` method (501 when it has none)."""

    protocol_version = "HTTP/1.1"
    server: S3Sink

    def log_message(self, *args: Any) -> None:  # quiet: benchmarks print their own table
        pass

    def _route(self) -> None:
        parts = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        self.bucket, self.key = bucket, key
        state = self.server.state
        # the path and the names of its query parameters (values may be presigned credentials)
        seen = f"{parts.path}?{'&'.join(sorted(self.query))}" if self.query else parts.path
        state.requests.append((self.command, seen, {k.lower(): v for k, v in self.headers.items()}))
        name = f"{self.command.lower()}_{'object' if key else 'bucket'}"
        getattr(self, name, self._unsupported)()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _route

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body or status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str) -> None:
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{code}</Message></Error>'
        self._reply(status, body.encode(),
                    {"Content-Type": "application/xml"})

    def _unsupported(self) -> None:
        self._drain()
        self._error(501, "NotImplemented")

    def _drain(self, md5: bool = False) -> tuple[str, int]:
        """Read the body (Content-Length or chunked), hashing it when asked; keep nothing."""
        digest = hashlib.md5() if md5 else None
        total = 0
        for chunk in self._body_chunks():
            total += len(chunk)
            if digest is not None:
                digest.update(chunk)
        with self.server.state.lock:
            self.server.state.bytes_received += total
        return (digest.hexdigest() if digest else ""), total

    def _body_chunks(self) -> Any:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(CHUNK, remaining))
            if not chunk:
                raise ConnectionError("the client closed the connection mid-body")
            remaining -= len(chunk)
            yield chunk

    def _body(self) -> bytes:
        return b"".join(self._body_chunks())

    def _metadata(self) -> dict[str, str]:
        return {k[11:].lower(): v for k, v in self.headers.items() if k.lower().startswith("x-amz-meta-")}
