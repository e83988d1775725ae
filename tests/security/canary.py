"""A listener on a loopback port no allowlist names: any connection to it is a request our code
should never have made. It records each connection (and the first bytes sent), answers nothing
and closes; ``urls`` gives addresses that reach it in the spellings an attacker would try."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field


@dataclass
class Canary:
    connections: list[bytes] = field(default_factory=list)  # the first bytes of each connection

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="canary", daemon=True)

    def __enter__(self) -> "Canary":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                try:
                    self.connections.append(conn.recv(4096))
                except OSError:
                    self.connections.append(b"")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/steal"

    def urls(self, allowed: str) -> list[str]:
        """The canary behind tricks that fool a careless host check; ``allowed`` is an allowlisted
        ``host:port``."""
        return [
            self.url,
            f"http://localhost:{self.port}/steal",
            f"http://{allowed}@127.0.0.1:{self.port}/steal",  # userinfo: the host is the canary
            f"http://127.0.0.1:{self.port}/steal#@{allowed}/",
            f"http://127.0.0.1:{self.port}/steal?{allowed}",
            f"http://2130706433:{self.port}/steal",  # 127.0.0.1 as one number
        ]
