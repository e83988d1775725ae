"""A webhook sink: a real HTTP server on 127.0.0.1 that records what arrives and answers as told.

Tests use the Python API (``WebhookSink().respond_with(status=429, times=1)``, ``.wait_for(2)``);
other processes use ``GET /_sink/requests``, ``POST /_sink/reset`` and ``POST /_sink/respond``
(a JSON object with the arguments of ``respond_with``). Control requests are not recorded.

Run it alone with ``python -m sandbox.sink --port 8099``.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from sandbox.serving import LocalServer

MAX_BODY = 10 * 1024 * 1024
CONTROL = "/_sink/"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method, "path": self.path, "query": self.query, "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"), "body_base64": base64.b64encode(self.body).decode(),
            "received_at": self.received_at,
        }


@dataclass
class Rule:
    """Answer ``status`` (with ``body`` and ``headers``) ``times`` times, or forever when None."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = None
    path: str | None = None  # None: every path
    delay_seconds: float = 0.0  # wait before answering (a receiver slower than the sender's timeout)

    def matches(self, path: str) -> bool:
        return self.path is None or self.path == path


class WebhookSink(LocalServer):
    thread_name = "webhook-sink"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, keep: int = 1000) -> None:
        super().__init__(host, port)
        self._requests: deque[RecordedRequest] = deque(maxlen=keep)
        self._total = 0  # since the last reset; wait_for counts this, not the bounded deque
        self._rules: list[Rule] = []
        self._changed = threading.Condition()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # --- what arrived ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._changed:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """The recorded requests once at least ``count`` arrived; ``TimeoutError`` otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._total >= count, timeout=timeout):
                raise TimeoutError(f"the sink got {self._total} of {count} requests in {timeout}s")
            return list(self._requests)

    def reset(self) -> None:
        with self._changed:
            self._requests.clear()
            self._rules.clear()
            self._total = 0

    # --- how it answers ----------------------------------------------------------------------

    def respond_with(
        self, status: int, body: bytes | str = b"", *, headers: dict[str, str] | None = None,
        times: int | None = None, path: str | None = None, delay_seconds: float = 0.0,
    ) -> None:
        """Queue an answer. Rules apply in the order given; a used-up rule is dropped."""
        raw = body.encode() if isinstance(body, str) else body
        with self._changed:
            self._rules.append(Rule(status, raw, dict(headers or {}), times, path, delay_seconds))

    def _record(self, request: RecordedRequest) -> Rule:
        with self._changed:
            self._requests.append(request)
            self._total += 1
            self._changed.notify_all()
            return self._take_rule(request.path)

    def _take_rule(self, path: str) -> Rule:
        for rule in self._rules:
            if rule.matches(path):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                return rule
        return Rule(200, b"ok", {"content-type": "text/plain"})


def _handler_for(sink: WebhookSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

        def _handle(self) -> None:
            body = self._read_body()
            if body is None:
                return self._reply(413, b"too large", {})
            parts = urlsplit(self.path)
            if parts.path.startswith(CONTROL):
                return self._control(parts.path, body)
            headers = {name.lower(): value for name, value in self.headers.items()}
            rule = sink._record(RecordedRequest(self.command, parts.path, parts.query, headers, body, time.time()))
            if rule.delay_seconds:
                time.sleep(rule.delay_seconds)
            try:
                self._reply(rule.status, rule.body, rule.headers)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the sender gave up waiting: as a real receiver sees it

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def _read_body(self) -> bytes | None:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()  # the blank line after the last chunk (no trailers expected)
                body = b"".join(chunks)
            else:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
            return body if len(body) <= MAX_BODY else None

        def _control(self, path: str, body: bytes) -> None:
            if path == "/_sink/requests" and self.command == "GET":
                payload = json.dumps([r.to_dict() for r in sink.requests]).encode()
                return self._reply(200, payload, {"content-type": "application/json"})
            if path == "/_sink/reset" and self.command == "POST":
                sink.reset()
                return self._reply(200, b"reset", {})
            if path == "/_sink/respond" and self.command == "POST":
                try:
                    sink.respond_with(**json.loads(body or b"{}"))
                except (TypeError, ValueError):
                    return self._reply(400, b"expected JSON: status, body, headers, times, path, delay_seconds", {})
                return self._reply(200, b"ok", {})
            self._reply(404, b"unknown control path", {})

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # tests read .requests, not stderr
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local webhook sink that records what it receives.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with WebhookSink(args.host, args.port) as sink:
        print(f"webhook sink listening on {sink.url} (GET {sink.url}/_sink/requests)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
