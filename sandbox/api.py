"""The sandbox server: the Scaleway backup API and its download links on one local port.

``SandboxServer(config).start()`` binds 127.0.0.1 (port 0 picks a free one) and serves on a
thread until ``stop()``. Requests to ``/serverless-sqldb/v1alpha1/regions/{region}/...`` go
through the gateway's steps in the real order: route (404), rate limit (bare 429), token
(401), injected faults, then the operation in ``routes``. ``/sandbox-exports/...`` is the
Object Storage look-alike (``download``); ``/_sandbox/...`` the test controls (``control``).
"""

from __future__ import annotations

import json
import secrets
import socket
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox import control, download, routes
from sandbox.faults import Faults, Injection, Stats
from sandbox.links import PREFIX, LinkSigner
from sandbox.ratelimit import RateLimiter
from sandbox.readings import virtual_host
from sandbox.records import BackupRecord, ExportRecord
from sandbox.serving import LocalServer, TrackingServer
from sandbox.state import SandboxConfig, SandboxState

GATEWAY = "Scaleway API Gateway (fr-par-1;edge01)"
MAX_BODY = 1 << 20
# What an Envoy gateway answers itself when the upstream fails: plain text, not JSON.
_ENVOY_TEXT = {
    502: b"upstream connect error or disconnect/reset before headers. reset reason: protocol error",
    503: b"upstream connect error or disconnect/reset before headers. reset reason: connection failure",
    504: b"upstream request timeout",
}
# What a proxy in front of the API may answer instead: an HTML page.
_PROXY_PAGE = "<html><head><title>{status} {phrase}</title></head><body><center><h1>{status} {phrase}</h1></center><hr><center>nginx</center></body></html>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with a connection pool expect
    timeout = 120
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: TrackingServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # request lines carry presigned query strings: never print them

    # --- the Responder interface used by ``download`` -----------------------------------------

    def start(self, status: int, headers: dict[str, str]) -> None:
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def write(self, data: bytes) -> None:
        self.wfile.write(data)

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.start(status, {**(headers or {}), "Content-Length": str(len(body))})
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def cut(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    # --- dispatch ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        sandbox: SandboxServer = self.server.owner  # type: ignore[attr-defined]
        try:
            if self._for_download(url.path, sandbox) and self.command in ("GET", "HEAD"):
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                download.serve(self, sandbox, url.path, query, self.headers.get("Range"), self.command == "HEAD")
            elif url.path.startswith("/_sandbox/"):
                token = self.headers.get("X-Auth-Token")
                self._json(control.answer(sandbox, self.command, url.path, token, body), {})
            else:
                self._api(sandbox, url.path, parse_qs(url.query, keep_blank_values=True))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-answer

    def _for_download(self, path: str, sandbox: SandboxServer) -> bool:
        """A download: a path-style link, or any path on the virtual-hosted bucket's host."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        return path.startswith(PREFIX) or host == virtual_host(sandbox.region)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length else b""

    def _api(self, sandbox: SandboxServer, path: str, query: dict[str, list[str]]) -> None:
        route = routes.match(self.command, path)
        if route is None:
            return self._json(routes.Reply(404, routes.NOT_FOUND), {})
        sandbox.stats.count(route.name)
        token = self.headers.get("X-Auth-Token") or ""
        quota = sandbox.limiter.hit(token or self.client_address[0])
        if sandbox.faults.take_429() or not quota.allowed:
            sandbox.stats.count("rate_limited")
            return self._rate_limited(quota.headers)
        if token != sandbox.token:
            return self._json(routes.Reply(401, routes.DENIED_AUTHENTICATION), quota.headers)
        injection = sandbox.faults.take_injection(route.name)
        if injection is not None and self._inject(sandbox, injection, quota.headers):
            return
        delay = sandbox.faults.delay_for(route.name)
        if delay:
            time.sleep(delay)
        injected = sandbox.faults.error_for(route.name)
        if injected:
            sandbox.stats.count("injected_errors")
            return self._injected(injected, quota.headers)
        reply = routes.answer(route, query, sandbox.state, sandbox.link_for)
        if route.name == "export_backup" and reply.status == 200:
            sandbox.stats.count("exports")
        self._json(reply, quota.headers)

    def _gateway_headers(self, extra: dict[str, str]) -> dict[str, str]:
        return {"Server": GATEWAY, "X-Request-Id": str(uuid.uuid4()), **extra}

    def _json(self, reply: routes.Reply, extra: dict[str, str]) -> None:
        body = json.dumps(reply.body, separators=(",", ":")).encode()
        headers = {**self._gateway_headers(extra), "Content-Type": "application/json"}
        self.send(reply.status, body, headers)

    def _rate_limited(self, extra: dict[str, str]) -> None:
        """The gateway's own 429: no body at all."""
        self.send(429, b"", {**self._gateway_headers(extra), "x-envoy-ratelimited": "true"})

    def _inject(self, sandbox: SandboxServer, injection: Injection, extra: dict[str, str]) -> bool:
        """Wait, then fail as told; False when the request is answered normally after the wait."""
        if not injection.wait_then_fail(sandbox.stats):
            return False
        status = injection.status
        assert status is not None
        if injection.retry_after is not None:
            extra = {**extra, "Retry-After": f"{injection.retry_after:g}"}
        if injection.answer == "reset":
            self.cut()
        elif injection.answer == "json":
            self._json(routes.Reply(status, _error_body(status)), extra)
        elif injection.answer == "html":
            page = _PROXY_PAGE.format(status=status, phrase=HTTPStatus(status).phrase).encode()
            self.send(status, page, {**self._gateway_headers(extra), "Content-Type": "text/html"})
        else:
            self._injected(status, extra)
        return True

    def _injected(self, status: int, extra: dict[str, str]) -> None:
        if status == 429:
            return self._rate_limited(extra)
        if status in _ENVOY_TEXT:
            headers = {**self._gateway_headers(extra), "Content-Type": "text/plain"}
            return self.send(status, _ENVOY_TEXT[status], headers)
        kind = "internal_error" if status >= 500 else "unknown_error"
        self._json(routes.Reply(status, {"message": HTTPStatus(status).phrase.lower(), "type": kind}), extra)


def _error_body(status: int) -> dict[str, Any]:
    """A Scaleway JSON error body for an injected status (429: ``too_many_requests``)."""
    if status == 429:
        return {"message": "quota exceeded: too many requests", "type": "too_many_requests",
                "limit": {"quota": 50, "window_seconds": 1}, "reset_seconds": 1}
    kind = "internal_error" if status >= 500 else "unknown_error"
    return {"message": HTTPStatus(status).phrase.lower(), "type": kind}


class SandboxServer(LocalServer):
    """A started sandbox: ``base_url``, ``token``, ``project_id``, ``region``, ``state``,
    ``faults`` and ``stats`` are what tests and the demo use."""

    thread_name = "sandbox-api"

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.config = config or SandboxConfig.default()
        self.state = SandboxState(self.config)
        self.faults = Faults(seed=self.config.seed)
        self.stats = Stats()
        self.limiter = RateLimiter(self.config.rate_limit, self.config.rate_window_seconds)
        self.signer = LinkSigner(secrets.token_bytes(32), self.config.region)

    token = property(lambda self: self.config.token)
    project_id = property(lambda self: self.config.project_id)
    organization_id = property(lambda self: self.config.organization_id)
    region = property(lambda self: self.config.region)

    @property
    def base_url(self) -> str:
        return self.url

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def api_url(self) -> str:
        """The regional API prefix, for tests that talk to it with plain httpx."""
        return f"{self.base_url}/serverless-sqldb/v1alpha1/regions/{self.region}"

    def link_for(self, backup: BackupRecord, export: ExportRecord) -> str:
        virtual = self.state.readings.virtual_hosted_links
        base = f"http://{virtual_host(self.region)}:{self.port}" if virtual else self.base_url
        return self.signer.build(base, backup.project_id, backup.id, export.ready_at, export.ttl, export.serial,
                                 virtual_hosted=virtual)

    def expire_links(self) -> None:
        self.state.expire_links()

    def reset(self) -> None:
        """Back to the seeded state, with no faults, counters or rate-limit windows."""
        self.faults.reset()
        self.stats.reset()
        self.limiter.reset()
        self.state.reset()
