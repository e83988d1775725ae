"""The local servers an operator points the CLI at: the sandbox API and a moto S3 server with
an empty bucket, both on 127.0.0.1, and the settings that point at them.

``sdb-backup-export sandbox`` runs this until Ctrl-C; ``--serve-file DATABASE=PATH`` makes a
real ``pg_dump -Fc`` archive the newest backup of that database, so the restore drill can be
tried end to end on one machine.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from sandbox.processes import Children
from sandbox.topology import BUCKET, FAKE_ACCESS_KEY, FAKE_SECRET_KEY, MOTO_REGION, start_moto, start_sandbox_api


@dataclass(frozen=True)
class OperatorServers:
    settings: dict[str, str]  # environment settings for the CLI
    log_dir: Path


@contextmanager
def operator_servers(*, config: str = "default", serve_files: Sequence[str] = (),
                     export_delay: float | None = None, log_dir: Path | None = None) -> Iterator[OperatorServers]:
    """Start both servers and create the bucket; both are stopped when the block ends."""
    with Children(log_dir) as children:
        api = start_sandbox_api(children, config, export_delay, serve_files)
        s3_url = start_moto(children)
        _create_bucket(s3_url)
        yield OperatorServers(_settings(api, s3_url, children.log_dir), children.log_dir)


def _create_bucket(s3_url: str) -> None:
    import boto3  # lazy: heavy

    boto3.client("s3", endpoint_url=s3_url, region_name=MOTO_REGION, aws_access_key_id=FAKE_ACCESS_KEY,
                 aws_secret_access_key=FAKE_SECRET_KEY).create_bucket(Bucket=BUCKET)


def _settings(api: dict[str, str], s3_url: str, log_dir: Path) -> dict[str, str]:
    return {
        "SCALEWAY_API_URL": api["base_url"],
        "SCALEWAY_SECRET_KEY": api["token"],
        "SCALEWAY_ACCESS_KEY": FAKE_ACCESS_KEY,
        "SCALEWAY_PROJECT_ID": api["project_id"],
        "SCALEWAY_ORGANIZATION_ID": api["organization_id"],
        "SCALEWAY_REGION": api["region"],
        "SCW_CONFIG_PATH": str(log_dir / "no-scw-config.yaml"),  # never a real profile
        "S3_ENDPOINT_URL": s3_url,
        "S3_REGION": MOTO_REGION,
        "S3_ACCESS_KEY": FAKE_ACCESS_KEY,
        "S3_SECRET_KEY": FAKE_SECRET_KEY,
        "BACKUP_BUCKET": BUCKET,
        "HANDOFF_MODE": "inline",
        "DOWNLOAD_HOST_ALLOWLIST": "127.0.0.1",
    }
