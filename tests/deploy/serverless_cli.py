"""Running the project's serverless CLI offline, for the deployment checks.

The npm packages come from ``npm ci`` (``make test`` installs them). Every CLI run gets
dummy credentials and ``SCW_FUNCTION_URL`` pointing at a closed loopback port, so nothing
can reach a real account: the first API call is refused.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVERLESS = ROOT / "node_modules" / ".bin" / "serverless"
ZIP_NAME = "sdb-backup-export.zip"  # the service name
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens there

DUMMY_ENV = {
    "SCW_SECRET_KEY": "11111111-2222-3333-4444-555555555555",  # the plugin wants 36 chars
    "SCW_DEFAULT_PROJECT_ID": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
    "SCW_ACCESS_KEY": "SCWXXXXXXXXXXXXXXXXX",
    "BACKUP_BUCKET": "sdb-backups-test",
    "QUEUE_ACCESS_KEY": "queue-access-key",
    "QUEUE_SECRET_KEY": "queue-secret-key",
    "HTTP_AUTH_TOKENS": "dummy-token-0123456789",
    "SCW_FUNCTION_URL": CLOSED_PORT_URL,
    "SCW_CONTAINER_URL": CLOSED_PORT_URL,
}
# Variables of the deploying shell that would change what the file resolves to.
CLEARED = ("SCW_", "S3_", "QUEUE_", "BACKUP_", "NOTIFY_", "COPY_", "HTTP_AUTH", "MAX_AGE", "LOG_LEVEL",
            "COMMAND_QUEUE", "SLACK_")


def serverless_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED)}
    env.update(DUMMY_ENV)
    env["HOME"] = env.get("HOME", "/tmp")
    return env


def run_serverless(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the project's serverless CLI; output is stdout and stderr together."""
    if not SERVERLESS.exists():
        pytest.fail("node_modules is missing: run `make test` (it runs `npm ci`) or `npm ci`")
    return subprocess.run(
        [str(SERVERLESS), *args],
        cwd=cwd,
        env=serverless_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
