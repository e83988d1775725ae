"""The database a copy is restored into, given as ``postgresql://user:password@host:port/db``.

The password never goes on a command line (where ``ps`` shows it) nor into a message: the
programs get the URL without it and the password as ``PGPASSWORD`` in their environment;
messages show ``host:port/db`` only.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from shared.errors import InvalidRequest, RestoreFailed
from shared.restore.tools import error_line, find_tool

CONNECT_TIMEOUT_SECONDS = 10
# Relations a fresh database does not have: anything outside the system schemas.
USER_RELATIONS_SQL = (
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"
)
USER_TABLES_SQL = (
    "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)


@dataclass(frozen=True)
class Target:
    url: str  # without the password
    password: str | None
    display: str  # host:port/db, for messages

    @classmethod
    def parse(cls, url: str) -> "Target":
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise InvalidRequest("--to must be a postgresql:// URL")
        database = parts.path.lstrip("/")
        if not parts.hostname or not database:
            raise InvalidRequest("--to must name a host and a database: postgresql://user@host:port/db")
        user = unquote(parts.username) if parts.username else None
        netloc = (f"{parts.username}@" if user else "") + _host(parts.hostname) + (f":{parts.port}" if parts.port else "")
        password = unquote(parts.password) if parts.password is not None else None
        display = f"{_host(parts.hostname)}:{parts.port or 5432}/{database}"
        return cls(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), password, display)

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS)}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def _host(hostname: str) -> str:
    return f"[{hostname}]" if ":" in hostname else hostname


def query_count(target: Target, sql: str, *, psql: str | None = None) -> int:
    """Run one ``SELECT count(*)`` on the target with psql; a connection failure is ``RestoreFailed``."""
    argv = [psql or find_tool("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.url, "-c", sql]
    done = subprocess.run(argv, capture_output=True, text=True, env=target.env(),
                          timeout=CONNECT_TIMEOUT_SECONDS * 3)
    if done.returncode != 0:
        raise RestoreFailed(f"cannot query {target.display}: {error_line(done.stderr, 'psql failed')}")
    return int(done.stdout.strip() or 0)
