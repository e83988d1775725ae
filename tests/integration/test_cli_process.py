"""The CLI as a real process: what reaches stderr (one line per error, a traceback only with
--debug, JSON logs only with --verbose), exit statuses, an unreachable API, run, and the
``sandbox`` command serving until it is interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.api import SandboxServer
from sandbox.processes import free_port
from tests.fixtures.cli import ROOT, cli_settings, run_cli
from tests.fixtures.copying import Bucket


@pytest.mark.parametrize("setting,value", [("API_RATE_LIMIT", "500"), ("HANDOFF_MODE", "bogus")])
def test_a_bad_setting_is_one_line_and_exit_2(sandbox: SandboxServer, setting: str, value: str):
    result = run_cli({**cli_settings(sandbox), setting: value}, "backups")

    assert result.code == 2
    assert result.stderr.count("\n") == 1 and setting in result.stderr and "[configuration_error]" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_broken_scw_config_file_is_one_line_and_exit_2(tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text("secret_key: [11111111-2222\n")

    result = run_cli({"SCW_CONFIG_PATH": str(config)}, "backups", "--json")

    assert result.code == 2 and result.stderr.count("\n") == 1 and str(config) in result.stderr
    assert "11111111" not in result.stderr and result.json()["error"]["code"] == "configuration_error"


def test_debug_adds_the_traceback(sandbox: SandboxServer):
    result = run_cli({**cli_settings(sandbox), "API_RATE_LIMIT": "500"}, "backups", "--debug")
    assert result.code == 2 and "Traceback" in result.stderr and "API_RATE_LIMIT" in result.stderr.splitlines()[-1]


def test_an_unreachable_api_says_what_it_tries_then_fails(sandbox: SandboxServer):
    dead = f"http://127.0.0.1:{free_port()}"

    result = run_cli({**cli_settings(sandbox), "SCALEWAY_API_URL": dead}, "backups")

    lines = result.stderr.splitlines()
    assert result.code == 1
    assert [line for line in lines if line.startswith("note:")][0].endswith("attempt 1 of at most 3")
    assert lines[-1].startswith("error:") and "[scaleway_unavailable]" in lines[-1] and dead in lines[-1]
    assert not any(line.startswith("{") for line in lines)  # no JSON logs without --verbose


def test_run_dry_run_plans_exports_nothing_and_logs_to_stderr(sandbox: SandboxServer, bucket: Bucket):
    settings = cli_settings(sandbox, bucket=bucket.name, s3=bucket.endpoint)

    result = run_cli(settings, "run", "--dry-run", "--json", "--verbose")

    assert result.code == 0, result.stderr
    logs = [json.loads(line) for line in result.stderr.splitlines()]  # --verbose: JSON lines, on stderr only
    assert "dispatch started" in [entry["msg"] for entry in logs]
    report = result.json()
    statuses = {d["database_name"]: d["status"] for d in report["databases"]}
    assert report["dry_run"] is True and set(statuses) == {db.name for db in sandbox.state.databases()}
    assert "would_copy" in statuses.values() and "handed_off" not in statuses.values()
    assert sandbox.stats.snapshot()["exports"] == 0


def test_run_checks_the_bucket_before_planning(sandbox: SandboxServer, bucket: Bucket):
    settings = cli_settings(sandbox, bucket="no-such-bucket", s3=bucket.endpoint)

    result = run_cli(settings, "run", "--dry-run", "--database", "shop")

    assert result.code == 2 and "BACKUP_BUCKET" in result.stderr
    assert sandbox.stats.snapshot()["exports"] == 0


def test_sandbox_serves_until_interrupted(tmp_path: Path):
    archive = tmp_path / "real.dump"
    archive.write_bytes(b"PGDMP" + bytes(range(256)) * 64)
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "sandbox", "--json", "--serve-file",
                                f"restored={archive}"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        document = _read_json(process)
        backups = run_cli(document["settings"], "backups", "--database", "restored", "--json")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert set(document["settings"]) >= {"SCALEWAY_API_URL", "SCALEWAY_SECRET_KEY", "S3_ENDPOINT_URL", "BACKUP_BUCKET"}
    assert backups.code == 0, backups.stderr
    [row] = backups.json()["backups"]
    assert row["size"] == archive.stat().st_size and row["verified_copy"] is False
    assert process.returncode == 0 and "stopped" in process.stderr.read()


def _read_json(process: subprocess.Popen[str]) -> dict:
    """The JSON document the command prints first (it then keeps running)."""
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise AssertionError(f"no settings printed: {process.stderr.read() if process.stderr else ''}")
