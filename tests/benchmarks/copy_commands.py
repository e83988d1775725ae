"""The command line of each tool in the copy benchmark, copying the same download link into one bucket.

- ``ours``: the copy use case, as the function runs it (``copy_tool.py ours``); ``ours-no-md5``
  the same with ``VERIFY_PART_MD5=false``.
- ``ours-no-hash``: our streaming engine alone, neither MD5 nor SHA-256 (``copy_tool.py pump``):
  what moving the bytes costs, for reading the others' figures. Not a way to run the copy.
- ``naive``: httpx streaming into boto3's ``upload_fileobj`` (``copy_tool.py naive``).
- ``curl|aws``: ``curl <link> | aws s3 cp - s3://…`` (the aws CLI from ``.venv-bench``, made by
  ``scripts/bench_tools.sh``, else from PATH).
- ``rclone``: ``rclone copyurl`` (Debian's package).

Every tool is given 16 MiB parts. A tool that is not installed is reported and skipped.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from destinations import BUCKET, Destination

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PY = sys.executable
KEY, SECRET = "SCWXXXXXXXXXXXXXXXXX", "11111111-2222-3333-4444-555555555555"
TOOLS = ("ours", "ours-no-md5", "ours-no-hash", "naive", "curl|aws", "rclone")


def aws_cli() -> str | None:
    bench_venv = ROOT / ".venv-bench" / "bin" / "aws"
    return str(bench_venv) if bench_venv.exists() else shutil.which("aws")


def missing(tool: str) -> str | None:
    """Why ``tool`` can't run here (not installed), or None."""
    if tool == "curl|aws" and (aws_cli() is None or shutil.which("curl") is None):
        return "the aws CLI or curl is not installed (scripts/bench_tools.sh installs the aws CLI)"
    if tool == "rclone" and shutil.which("rclone") is None:
        return "rclone is not installed (scripts/bench_tools.sh installs Debian's package)"
    return None


class Commands:
    def __init__(self, sandbox: dict[str, Any], env: dict[str, str], workdir: Path) -> None:
        self.sandbox, self.env, self.workdir = sandbox, env, workdir
        (workdir / "aws.cfg").write_text("[default]\ns3 =\n  multipart_chunksize = 16MB\n")

    def key_for(self, tool: str, size: int, round_: int) -> str:
        """Where ``tool`` writes this run's copy. Ours derives its key from its settings (a job
        may only write its own backup's key): a prefix per run and ``{backup_id}.dump``."""
        return f"{self._prefix(tool, size, round_)}/{self.sandbox['backups'][str(size)]['backup_id']}.dump"

    @staticmethod
    def _prefix(tool: str, size: int, round_: int) -> str:
        return f"{tool.replace('|', '-')}/{size}-{round_}"

    def command(self, tool: str, size: int, key: str, dest: Destination) -> tuple[list[str], dict[str, str]]:
        backup = self.sandbox["backups"][str(size)]
        link, url = backup["link"], dest.endpoint
        if tool in ("ours", "ours-no-md5"):
            return self._ours(backup, size, key, url, verify_md5=tool == "ours"), self.env
        if tool == "ours-no-hash":
            return [PY, str(HERE / "copy_tool.py"), "pump", link, url, BUCKET, key, str(size)], self.env
        if tool == "naive":
            return [PY, str(HERE / "copy_tool.py"), "naive", link, url, BUCKET, key], self.env
        if tool == "curl|aws":
            return self._curl_aws(link, size, key, url)
        if tool == "rclone":
            return ["rclone", "copyurl", link, f":s3:{BUCKET}/{key}", "--s3-provider=Other",
                    f"--s3-endpoint={url}", f"--s3-access-key-id={KEY}", f"--s3-secret-access-key={SECRET}",
                    "--s3-region=fr-par", "--s3-chunk-size=16M", "--s3-upload-cutoff=16M",
                    "--s3-no-check-bucket", "--s3-force-path-style", "-q"], self.env
        raise SystemExit(f"unknown tool {tool}")

    def _curl_aws(self, link: str, size: int, key: str, url: str) -> tuple[list[str], dict[str, str]]:
        env = {**self.env, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "fr-par",
               "AWS_CONFIG_FILE": str(self.workdir / "aws.cfg"),
               "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
               "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}
        line = (f"set -o pipefail; curl -sS --fail {shlex.quote(link)} | {shlex.quote(aws_cli() or 'aws')} s3 cp - "
                f"s3://{BUCKET}/{key} --expected-size {size} --endpoint-url {url} --only-show-errors")
        return ["bash", "-c", line], env

    def _ours(self, backup: dict[str, Any], size: int, key: str, url: str, *, verify_md5: bool) -> list[str]:
        job = {"run_id": "bench", "backup_id": backup["backup_id"], "database_id": backup["database_id"],
               "database_name": backup["name"], "project_id": self.sandbox["project_id"], "region": "fr-par",
               "backup_created_at": backup["created_at"], "size": size, "object_key": key,
               "deadline": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}
        settings = {"scw_secret_key": self.sandbox["token"], "scw_api_url": self.sandbox["base_url"],
                    "scw_default_project_id": self.sandbox["project_id"], "backup_bucket": BUCKET,
                    "s3_endpoint_url": url, "s3_region": "fr-par", "s3_access_key": KEY, "s3_secret_key": SECRET,
                    "download_host_allowlist": ["127.0.0.1"], "function_timeout_seconds": 3600,
                    "verify_part_md5": verify_md5, "handoff_mode": "inline", "notify_targets": "[]",
                    "backup_prefix": key.rsplit("/", 1)[0], "backup_key_template": "{backup_id}.dump",
                    "log_level": "WARNING"}
        name = key.replace("/", "_")
        job_file, settings_file = self.workdir / f"{name}.job.json", self.workdir / f"{name}.settings.json"
        job_file.write_text(json.dumps(job))
        settings_file.write_text(json.dumps(settings))
        return [PY, str(HERE / "copy_tool.py"), "ours", str(job_file), str(settings_file)]
