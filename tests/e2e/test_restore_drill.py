"""The restore drill with real data: a real PostgreSQL database is dumped with ``pg_dump -Fc``,
the sandbox serves that archive as a backup, the copy use case copies it into moto's S3 server,
and the CLI verifies it (``--restore-check``), downloads it and restores it into fresh
databases whose tables must equal the source's, row for row."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from sandbox.api import SandboxServer
from sandbox.postgres import LocalPostgres
from sandbox.state import SandboxConfig
from shared.copying.run import run_job
from tests.fixtures.cli import Result, cli_settings, run_cli
from tests.fixtures.copying import Bucket, fast_clients, job_for, make_settings, s3_client

SOURCE = "drill_source"
TABLES = ("public.customers", "public.orders", "public.events")
FILL = """
CREATE TABLE customers (
    id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, name text, signed_up timestamptz NOT NULL,
    balance numeric(12, 2), active boolean, tags text[], profile jsonb);
CREATE TABLE orders (
    id uuid PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), placed_at timestamptz,
    total numeric(12, 2), lines integer, note text, receipt bytea);
CREATE INDEX orders_by_customer ON orders (customer_id, placed_at);
CREATE TABLE events (at timestamp, kind smallint, payload json, ratio double precision, day date, span interval);
INSERT INTO customers (email, name, signed_up, balance, active, tags, profile)
SELECT 'user' || i || '@example.test', CASE WHEN i % 7 = 0 THEN NULL ELSE 'Zoë Müller-' || i END,
       timestamptz '2024-01-01 00:00+00' + i * interval '17 minutes', (i * 37 % 100000) / 100.0, i % 3 <> 0,
       ARRAY['tag' || (i % 5), 'ünï' || (i % 11)], jsonb_build_object('n', i, 'md5', md5(i::text))
FROM generate_series(1, 20000) AS i;
INSERT INTO orders (id, customer_id, placed_at, total, lines, note, receipt)
SELECT md5('order' || i)::uuid, 1 + i % 20000, timestamptz '2024-06-01 12:00+02' + i * interval '3 minutes',
       (i * 13 % 50000) / 100.0, 1 + i % 9, repeat(md5(i::text), 1 + i % 4), decode(md5(i::text), 'hex')
FROM generate_series(1, 60000) AS i;
INSERT INTO events (at, kind, payload, ratio, day, span)
SELECT timestamp '2025-03-01' + i * interval '1 second', (i % 300)::smallint, json_build_object('e', i),
       i / 7.0, date '2020-02-29' + i % 1000, make_interval(hours => i % 48)
FROM generate_series(1, 30000) AS i;
"""


@dataclass
class Drill:
    pg: LocalPostgres
    archive: Path
    fingerprints: dict[str, str]
    bucket: Bucket
    key: str
    settings: dict[str, str]

    def cli(self, *args: str, cwd: Path | None = None) -> Result:
        return run_cli(self.settings, *args, cwd=cwd)


@pytest.fixture(scope="module")
def drill(postgres: LocalPostgres, moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    postgres.create_database(SOURCE)
    postgres.sql(SOURCE, FILL)
    archive = postgres.dump(SOURCE, tmp_path_factory.mktemp("drill") / "source.dump")
    with SandboxServer(SandboxConfig(databases=[], export_delay_seconds=0.05)) as sandbox:
        database = sandbox.state.add_database("inventory")
        sandbox.state.add_backup(database.id, source_path=str(archive))
        bucket = Bucket(s3_client(moto_server), f"drill-{uuid.uuid4().hex[:10]}", moto_server)
        bucket.s3.create_bucket(Bucket=bucket.name, CreateBucketConfiguration={"LocationConstraint": "fr-par"})
        settings = make_settings(sandbox, bucket)
        job = job_for(sandbox, "inventory")
        report = run_job(job, settings, clients=fast_clients(settings))
        assert report.outcome == "copied", report
        yield Drill(postgres, archive, postgres.fingerprints(SOURCE), bucket, job.object_key,
                    cli_settings(sandbox, bucket=bucket.name, s3=moto_server))


def test_the_copy_is_the_archive_byte_for_byte(drill: Drill) -> None:
    assert drill.bucket.sha256(drill.key) == hashlib.sha256(drill.archive.read_bytes()).hexdigest()


def test_verify_restore_check_lists_the_archive(drill: Drill) -> None:
    result = drill.cli("verify", "--restore-check", drill.key, "--json")

    assert result.code == 0, result.stderr
    [entry] = result.json()["results"]
    archive = entry["archive"]
    assert entry["ok"] and archive["valid"] and archive["dbname"] == SOURCE
    assert sorted(archive["tables"]) == sorted(TABLES) and sorted(archive["data"]) == sorted(TABLES)
    assert "public.orders_by_customer" in archive["indexes"]


def test_restore_into_a_fresh_database_equals_the_source(drill: Drill) -> None:
    target = drill.pg.create_database("drill_fresh")

    result = drill.cli("restore", drill.key, "--to", drill.pg.url(target), "--json")

    assert result.code == 0, result.stderr
    assert result.json()["tables"] == len(TABLES)
    assert drill.pg.fingerprints(target) == drill.fingerprints
    assert drill.pg.sql(target, "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_by_customer'") == "1"
    assert drill.pg.password not in result.stdout + result.stderr


def test_a_non_empty_target_is_refused_unless_clean(drill: Drill) -> None:
    target = drill.pg.create_database("drill_again")
    assert drill.cli("restore", drill.key, "--to", drill.pg.url(target)).code == 0
    drill.pg.sql(target, "DELETE FROM events WHERE kind = 1")
    changed = drill.pg.fingerprints(target)

    refused = drill.cli("restore", drill.key, "--to", drill.pg.url(target))
    assert refused.code == 1 and "[target_not_empty]" in refused.stderr
    assert drill.pg.fingerprints(target) == changed

    cleaned = drill.cli("restore", drill.key, "--to", drill.pg.url(target), "--clean")
    assert cleaned.code == 0, cleaned.stderr
    assert drill.pg.fingerprints(target) == drill.fingerprints


def test_a_copy_whose_bytes_changed_is_never_committed(drill: Drill) -> None:
    # One byte of the dbname in the archive's header: pg_restore itself would accept it.
    data = bytearray(drill.archive.read_bytes())
    where = data.index(SOURCE.encode(), 0, 512)
    data[where] ^= 0x01
    key = drill.key.replace(".dump", "-tampered.dump")
    meta = drill.bucket.metadata(drill.key)  # the original's SHA-256
    drill.bucket.s3.put_object(Bucket=drill.bucket.name, Key=key, Body=bytes(data), Metadata=meta)
    target = drill.pg.create_database("drill_tampered")

    restored = drill.cli("restore", key, "--to", drill.pg.url(target))
    verified = drill.cli("verify", key, "--json")

    assert restored.code == 1 and "[integrity_check_failed]" in restored.stderr
    assert drill.pg.sql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"
    assert verified.code == 1 and verified.json()["results"][0]["problem"] == "checksum_mismatch"


def test_download_gives_the_archive_pg_restore_reads(drill: Drill, tmp_path: Path) -> None:
    result = drill.cli("download", drill.key, str(tmp_path), "--json")

    assert result.code == 0, result.stderr
    saved = Path(result.json()["path"])
    assert saved.read_bytes() == drill.archive.read_bytes()
    assert "TABLE DATA public orders" in drill.pg.run("pg_restore", "--list", str(saved))
