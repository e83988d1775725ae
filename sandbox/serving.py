"""One way to run a local HTTP server: bound to 127.0.0.1, served by a daemon thread, always stopped.

The sandbox API, the webhook sink and the S3 fault proxy are ``LocalServer``s: ``start()`` (or a
``with`` block) binds a free port when given 0, ``url`` says where, ``stop()`` shuts it down,
cutting connections still open so a stop never waits on a slow client.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

S = TypeVar("S", bound="LocalServer")


class TrackingServer(ThreadingHTTPServer):
    """Remembers its open connections so that stopping can cut them (idle keep-alive included)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.open_sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_open_sockets(self) -> None:
        with self._sockets_lock:
            for sock in list(self.open_sockets):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class LocalServer:
    thread_name = "local-server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._server: TrackingServer | None = None
        self._thread: threading.Thread | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self: S) -> S:
        if self._server is not None:
            return self
        self._server = TrackingServer(self._address, self.handler())
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_open_sockets()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self.thread_name} server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"
