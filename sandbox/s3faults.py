"""A fault-injecting proxy in front of a real S3 server (moto, SeaweedFS): object storage that fails on cue.

Every request is forwarded to the upstream as it came, bodies streamed both ways, unless a rule
matches its operation: then the proxy answers an S3-style error itself (``500 InternalError``,
``404 NoSuchBucket``, ``403 AccessDenied``...), or waits before forwarding (a slow store), for the
next ``times`` matching requests (``None``: every one), after letting ``skip`` of them through.

    with S3FaultProxy(upstream="http://127.0.0.1:5000") as proxy:
        proxy.fail("upload_part", status=500, code="InternalError", skip=1, times=1)  # part 2 fails once
        settings = ... S3_ENDPOINT_URL=proxy.url ...

Operations are told apart the way S3 tells them apart (method, query, ``x-amz-copy-source``).
Other processes set rules with ``POST /_s3faults/rules`` (the arguments of ``add_rule`` as JSON)
and clear them with ``POST /_s3faults/reset``; ``GET /_s3faults/log`` lists the operations seen.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

from sandbox.serving import LocalServer

CONTROL = "/_s3faults/"
CHUNK = 1 << 20
# Hop-by-hop headers stay here; so does Expect: the proxy has read the body before it forwards it.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
OPERATIONS = ("create_multipart", "upload_part", "upload_part_copy", "complete", "abort", "list_parts",
              "list_uploads", "copy_object", "put_object", "head", "get", "list_objects", "delete", "other")


def operation(method: str, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> str:
    """The S3 operation a request is, from its method, query string and headers."""
    copying = "x-amz-copy-source" in headers
    if method == "POST":
        return "create_multipart" if "uploads" in query else "complete" if "uploadId" in query else "other"
    if method == "PUT":
        if "partNumber" in query:
            return "upload_part_copy" if copying else "upload_part"
        return "copy_object" if copying else "put_object"
    if method == "DELETE":
        return "abort" if "uploadId" in query else "delete"
    if method == "HEAD":
        return "head"
    if method == "GET":
        if "uploadId" in query:
            return "list_parts"
        if "uploads" in query:
            return "list_uploads"
        is_bucket = path.strip("/").count("/") == 0
        return "list_objects" if is_bucket else "get"
    return "other"


@dataclass
class Rule:
    operation: str
    status: int | None = 500  # None: forward, after the delay
    code: str = "InternalError"
    message: str = "We encountered an internal error. Please try again."
    delay_seconds: float = 0.0
    skip: int = 0  # matching requests let through before this rule starts
    times: int | None = 1  # how many it answers; None: all
    seen: int = 0
    used: int = 0

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}; one of {', '.join(OPERATIONS)}")

    def take(self, op: str) -> bool:
        if op != self.operation or (self.times is not None and self.used >= self.times):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.used += 1
        return True


class S3FaultProxy(LocalServer):
    thread_name = "s3-faults"

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._rules: list[Rule] = []
        self.log: list[tuple[str, int]] = []  # (operation, status answered)
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # --- rules -------------------------------------------------------------------------------

    def add_rule(self, **fields: Any) -> Rule:
        rule = Rule(**fields)
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail(self, op: str, *, status: int = 500, code: str = "InternalError", times: int | None = 1,
             skip: int = 0, message: str | None = None) -> Rule:
        extra = {"message": message} if message else {}
        return self.add_rule(operation=op, status=status, code=code, times=times, skip=skip, **extra)

    def slow(self, op: str, seconds: float, *, times: int | None = None, skip: int = 0) -> Rule:
        return self.add_rule(operation=op, status=None, delay_seconds=seconds, times=times, skip=skip)

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self.log.clear()

    def matching(self, op: str) -> Rule | None:
        with self._lock:
            return next((rule for rule in self._rules if rule.take(op)), None)

    def record(self, op: str, status: int) -> None:
        with self._lock:
            self.log.append((op, status))

    def seen(self, op: str) -> list[int]:
        """The statuses answered to each request of operation ``op``, in order."""
        with self._lock:
            return [status for name, status in self.log if name == op]


def _error_body(rule: Rule, resource: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{rule.code}</Code><Message>{rule.message}</Message>"
        f"<Resource>{resource}</Resource><RequestId>S3FAULTS</RequestId></Error>"
    ).encode()


def _handler_for(proxy: S3FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - presigned URLs: never print
            pass

        def do_GET(self) -> None:
            self._serve()

        do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

        def _serve(self) -> None:
            url = urlsplit(self.path)
            if url.path.startswith(CONTROL):
                return self._control(url.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            op = operation(self.command, url.path, parse_qs(url.query, keep_blank_values=True), headers)
            rule = proxy.matching(op)
            if rule is not None and rule.delay_seconds:
                time.sleep(rule.delay_seconds)
            if rule is not None and rule.status is not None:
                self._drain()
                body = _error_body(rule, url.path)
                proxy.record(op, rule.status)
                return self._answer(rule.status, body, {"Content-Type": "application/xml"})
            proxy.record(op, self._forward(headers))

        def _forward(self, headers: dict[str, str]) -> int:
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
            try:
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers.items():
                    if name not in _HOP_BY_HOP:
                        upstream.putheader(name, value)
                upstream.endheaders()
                for chunk in self._body():
                    upstream.send(chunk)
                answer = upstream.getresponse()
                self.send_response_only(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    while chunk := answer.read(CHUNK):
                        self.wfile.write(chunk)
                return answer.status
            finally:
                upstream.close()

        def _body(self) -> Iterator[bytes]:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                chunk = self.rfile.read(min(CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

        def _drain(self) -> None:
            for _ in self._body():
                pass

        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response_only(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _control(self, path: str) -> None:
            raw = b"".join(self._body())
            try:
                if path == CONTROL + "rules" and self.command == "POST":
                    rule = proxy.add_rule(**json.loads(raw or b"{}"))
                    reply: Any = asdict(rule)
                elif path == CONTROL + "reset" and self.command == "POST":
                    proxy.reset()
                    reply = {"reset": True}
                elif path == CONTROL + "log" and self.command == "GET":
                    reply = [{"operation": op, "status": status} for op, status in list(proxy.log)]
                else:
                    return self._answer(404, b'{"error": "no such control"}', {"Content-Type": "application/json"})
            except (TypeError, ValueError) as exc:
                return self._answer(400, json.dumps({"error": str(exc)}).encode(), {"Content-Type": "application/json"})
            self._answer(200, json.dumps(reply).encode(), {"Content-Type": "application/json"})

    return Handler
