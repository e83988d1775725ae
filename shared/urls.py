"""URL policy shared by every part: which hosts may be fetched, and how a URL may be shown.

Presigned query strings and webhook paths are credentials: a URL is only ever logged or
reported through ``redact_url`` (scheme, host, port and path; no userinfo, no query string).
Outbound fetches are allowed by host: exact names, or ``*.suffix`` for any host under a domain,
either of them optionally pinned to one port (``127.0.0.1:8080``; unpinned, any port).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL_RE = re.compile(r"https?://[^\s\"'<>]+")
_HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def redact_url(url: str) -> str:
    """Scheme, host, port and path only: no userinfo, no query string, no fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<unparseable url>"
    host = parts.hostname or ""
    netloc = f"{host}:{port}" if port else host
    suffix = "?<redacted>" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + suffix


def redact_text(text: str) -> str:
    """Every URL inside ``text``, redacted."""
    return _URL_RE.sub(lambda m: redact_url(m.group(0)), text)


def is_host_pattern(pattern: str) -> bool:
    """A host name (``s3.fr-par.scw.cloud``, ``127.0.0.1``) or ``*.suffix``, optionally with
    ``:port``; no scheme or path."""
    return bool(_HOST_PATTERN.match(pattern.strip().lower().rstrip(".")))


def host_allowed(url: str, patterns: list[str]) -> bool:
    """True when ``url`` is http(s) and its host (and port, where a pattern pins one) matches
    one of ``patterns`` (see ``is_host_pattern``)."""
    try:
        parsed = urlsplit(url)
        host = (parsed.hostname or "").lower().rstrip(".")
        port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not host:
        return False
    for pattern in (p.strip().lower().rstrip(".") for p in patterns):
        name, _, pinned = pattern.partition(":")
        if pinned and pinned != str(port):
            continue
        if name.startswith("*.") and host.endswith(name[1:]) and len(host) > len(name) - 1:
            return True
        if host == name:
            return True
    return False
