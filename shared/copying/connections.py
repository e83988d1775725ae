"""Plain keep-alive HTTP/1.1 connections for the data path, one per origin (``shared.copying.engine``).

They carry nothing but what the engine sends: no credentials, no redirects, no proxies from the
environment; TLS is verified with the default context. ``connect`` is the one seam: it is how
a connection is opened (tests pass in-process fakes, or resolve a name the way DNS would).
"""

from __future__ import annotations

import functools
import http.client
import ssl
from typing import Any, Callable
from urllib.parse import urlsplit

from shared.errors import DownloadError

Connect = Callable[[str, str, int | None, float], Any]


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA store (~40 ms of CPU),
    which every connection (two per copy, two more after each failed part) used to pay again."""
    return ssl.create_default_context()


def _connect(scheme: str, host: str, port: int | None, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_context())
    return http.client.HTTPConnection(host, port, timeout=timeout)


class Connections:
    """Keep-alive HTTP/1.1 connections, one per origin, that carry nothing but what we send."""

    def __init__(self, timeout: float = 60.0, connect: Connect = _connect) -> None:
        self.timeout = timeout
        self._connect = connect
        self._open: dict[tuple[str, str, int | None], Any] = {}

    def get(self, url: str) -> tuple[Any, str]:
        """The connection for ``url``'s origin and the request target (path and query)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DownloadError("only http(s) URLs can be copied")
        origin = (parts.scheme, parts.hostname, parts.port)
        if origin not in self._open:
            self._open[origin] = self._connect(parts.scheme, parts.hostname, parts.port, self.timeout)
        return self._open[origin], (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def discard(self, url: str) -> None:
        """Drop the origin's connection (after an error it may be mid-request)."""
        parts = urlsplit(url)
        conn = self._open.pop((parts.scheme, parts.hostname or "", parts.port), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for conn in self._open.values():
            conn.close()
        self._open.clear()



def transfer_clients(timeout: float = 60.0) -> tuple[Connections, Connections]:
    """Connections for the download link and for the presigned part PUTs, kept apart."""
    return Connections(timeout), Connections(timeout)
