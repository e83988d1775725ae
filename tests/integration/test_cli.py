"""The operator CLI as a user runs it: a subprocess against the sandbox over a real socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(sandbox, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCW_", "S3_", "QUEUE_", "BACKUP_"))}
    env.update(SCW_API_URL=sandbox.base_url, SCW_SECRET_KEY=sandbox.token,
               SCW_DEFAULT_PROJECT_ID=sandbox.project_id, SCW_CONFIG_PATH=str(ROOT / "nonexistent.yaml"),
               **extra_env)
    return subprocess.run([sys.executable, "-m", "shared.cli.main", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_latest_prints_the_newest_ready_backup_of_every_database(sandbox):
    result = run_cli(sandbox, "latest", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["database"]: row for row in json.loads(result.stdout)}
    for db in sandbox.state.databases():
        expected = sandbox.state.latest_backup(db.id, status="ready")
        assert rows[db.name]["backup_id"] == (str(expected.id) if expected else "-")


def test_latest_table_names_every_database(sandbox):
    result = run_cli(sandbox, "latest")
    assert result.returncode == 0, result.stderr
    for db in sandbox.state.databases():
        assert db.name in result.stdout
    assert "no ready backup" in result.stdout  # the seeded database without backups


def test_wrong_token_is_a_clear_error_and_exit_2(sandbox):
    env_sandbox = type("S", (), {"base_url": sandbox.base_url, "token": "00000000-0000-0000-0000-000000000000",
                                 "project_id": sandbox.project_id})
    result = run_cli(env_sandbox, "latest")
    assert result.returncode == 2
    assert "scaleway_authentication_denied" in result.stderr
    assert "00000000-0000-0000-0000-000000000000" not in result.stderr


def test_dispatch_dry_run_reports_the_plan_and_exports_nothing(sandbox, moto_reset):
    import boto3

    from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET

    boto3.client("s3", endpoint_url=moto_reset, region_name="us-east-1", aws_access_key_id=FAKE_KEY,
                 aws_secret_access_key=FAKE_SECRET).create_bucket(Bucket="cli-copies")
    result = run_cli(sandbox, "dispatch", "--dry-run", BACKUP_BUCKET="cli-copies", S3_ENDPOINT_URL=moto_reset,
                     S3_REGION="us-east-1", S3_ACCESS_KEY=FAKE_KEY, S3_SECRET_KEY=FAKE_SECRET, HANDOFF_MODE="inline")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] is True and report["requested_by"] == "cli"
    statuses = {d["database_name"]: d["status"] for d in report["databases"]}
    assert set(statuses) == {db.name for db in sandbox.state.databases()}
    assert "would_copy" in statuses.values() and "handed_off" not in statuses.values()
    assert sandbox.stats.snapshot()["exports"] == 0
