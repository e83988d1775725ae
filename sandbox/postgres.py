"""A real PostgreSQL server for restore drills (the demo's, the tests'): Debian's ``postgresql``
programs, a temporary data folder, 127.0.0.1 and a free port, password authentication, and
always stopped and removed at the end.

``initdb`` refuses to run as root: as root the server runs as the ``postgres`` user the
package creates (through ``runuser``). ``PostgresUnavailable`` says why it cannot start here.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from sandbox.processes import free_port
from shared.errors import ToolNotFound
from shared.restore.tools import find_tool

SUPERUSER = "drill"
# Each table's row count and the MD5 of all its rows in a fixed order: equal means same content.
FINGERPRINT_SQL = "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} t"
SAMPLE_SQL = """
CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, name text, since timestamptz,
                        balance numeric(12, 2), tags text[], profile jsonb);
CREATE TABLE orders (id uuid PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id),
                     placed_at timestamptz, total numeric(12, 2), receipt bytea);
CREATE INDEX orders_by_customer ON orders (customer_id, placed_at);
INSERT INTO customers (email, name, since, balance, tags, profile)
SELECT 'user' || i || '@example.test', CASE WHEN i % 7 = 0 THEN NULL ELSE 'Zoë Müller-' || i END,
       timestamptz '2024-01-01 00:00+00' + i * interval '17 minutes', (i * 37 % 100000) / 100.0,
       ARRAY['tag' || (i % 5)], jsonb_build_object('n', i)
FROM generate_series(1, 5000) AS i;
INSERT INTO orders (id, customer_id, placed_at, total, receipt)
SELECT md5('order' || i)::uuid, 1 + i % 5000, timestamptz '2024-06-01 12:00+02' + i * interval '3 minutes',
       (i * 13 % 50000) / 100.0, decode(md5(i::text), 'hex')
FROM generate_series(1, 20000) AS i;
"""


class PostgresUnavailable(Exception):
    """This machine cannot run a PostgreSQL server for us (the message says why)."""


class LocalPostgres:
    def __init__(self) -> None:
        try:
            self.bin_dir = str(Path(find_tool("pg_ctl")).resolve().parent)
        except ToolNotFound:
            raise PostgresUnavailable("PostgreSQL server programs not found (Debian: apt-get install postgresql)") \
                from None
        self.password = secrets.token_hex(16)
        self.port = free_port()
        self.home: Path | None = None

    def __enter__(self) -> "LocalPostgres":
        self._as_server_user([])  # fail before creating anything
        self.home = Path(tempfile.mkdtemp(prefix="sdb-pg-"))
        try:
            self._start(self.home)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        home, self.home = self.home, None
        if home is None:
            return
        if (home / "data" / "postmaster.pid").exists():
            self._server(home, ["-m", "fast", "-w", "stop"], check=False)
        shutil.rmtree(home, ignore_errors=True)

    def url(self, database: str, *, with_password: bool = True) -> str:
        secret = f":{self.password}" if with_password else ""
        return f"postgresql://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"

    def run(self, program: str, *args: str) -> str:
        done = subprocess.run([os.path.join(self.bin_dir, program), *args], capture_output=True, text=True,
                              env={**os.environ, "PGPASSWORD": self.password}, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.strip()}")
        return done.stdout

    def sql(self, database: str, statement: str) -> str:
        """Run SQL with psql; its unaligned, tuples-only output."""
        return self.run("psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                        self.url(database, with_password=False), "-c", statement).strip()

    def create_database(self, name: str) -> str:
        self.sql("postgres", f'DROP DATABASE IF EXISTS "{name}"')
        self.sql("postgres", f'CREATE DATABASE "{name}"')
        return name

    def dump(self, database: str, path: Path) -> Path:
        self.run("pg_dump", "-Fc", "-d", self.url(database, with_password=False), "-f", str(path))
        return path

    def fingerprints(self, database: str) -> dict[str, str]:
        """Table -> "row count, MD5 of its rows", for every table outside the system schemas."""
        tables = self.sql(database, "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname "
                                    "NOT IN ('pg_catalog', 'information_schema') ORDER BY 1").split()
        return {table: self.sql(database, FINGERPRINT_SQL.format(table)) for table in tables}

    # --- internals -------------------------------------------------------------------------

    def _start(self, home: Path) -> None:
        _give_to_server_user(home)
        pwfile = home / "pwfile"
        pwfile.write_text(self.password + "\n")
        _give_to_server_user(pwfile)
        initdb = [f"{self.bin_dir}/initdb", "-D", str(home / "data"), "-U", SUPERUSER, "--pwfile", str(pwfile),
                  "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C"]
        subprocess.run(self._as_server_user(initdb), check=True, capture_output=True, cwd=home)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {home} -c fsync=off -c full_page_writes=off"
        self._server(home, ["-w", "-t", "60", "-o", options, "start"], check=True)

    def _server(self, home: Path, args: list[str], *, check: bool) -> None:
        argv = [f"{self.bin_dir}/pg_ctl", "-D", str(home / "data"), "-l", str(home / "server.log"), *args]
        subprocess.run(self._as_server_user(argv), check=check, capture_output=True, cwd=home, timeout=120)

    @staticmethod
    def _as_server_user(argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root without runuser: cannot start PostgreSQL as postgres")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root and there is no postgres user to run PostgreSQL as") from None
        return ["runuser", "-u", "postgres", "--", *argv]


def unavailable_reason() -> str | None:
    """Why a ``LocalPostgres`` cannot start on this machine, or None when it can."""
    try:
        LocalPostgres._as_server_user([])
        LocalPostgres()
    except PostgresUnavailable as exc:
        return str(exc)
    return None


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)
