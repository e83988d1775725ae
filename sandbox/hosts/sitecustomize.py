"""The local topology's stand-in for DNS, for processes started with this folder on PYTHONPATH.

Python imports ``sitecustomize`` at start-up. With ``SANDBOX_HOSTS`` (comma-separated names) set,
those names resolve to 127.0.0.1, as a real bucket's virtual-hosted name
(``<bucket>.s3.<region>.scw.cloud``) resolves to Object Storage; every other name resolves as
usual. Nothing of the shipped code is changed: it resolves names as it always does.
"""

import os
import socket

_HOSTS = {name.strip().lower() for name in os.environ.get("SANDBOX_HOSTS", "").split(",") if name.strip()}

if _HOSTS:
    _resolve = socket.getaddrinfo

    def _getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        return _resolve("127.0.0.1" if name and name.lower() in _HOSTS else host, *args, **kwargs)

    socket.getaddrinfo = _getaddrinfo
