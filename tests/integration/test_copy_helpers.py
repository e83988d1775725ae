"""Shared pieces of the copy tests: a sandbox with multi-part backups, a moto bucket, settings, jobs.

Not a test module of its own (it holds no tests); the ``test_copy*`` files import from it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from shared.copying.run import CopyClients
from shared.keys import object_key
from shared.models import CopyJob
from sandbox.api import SandboxServer
from sandbox.state import DatabaseSpec, SandboxConfig
from shared.settings import DEFAULT_KEY_TEMPLATE, Settings
from shared.storage import ObjectStore, s3_config
from shared.copying.engine import Transfer, transfer_clients
from tests.fixtures.servers import FAKE_KEY, FAKE_SECRET

MiB = 1 << 20
BIG = 33 * MiB + 123  # three parts of 16 MiB, 16 MiB and a remainder
SMALL = 3 * MiB + 17


def copy_config(**overrides: Any) -> SandboxConfig:
    databases = [DatabaseSpec("shop", sizes=(BIG, 20 * MiB, 2 * MiB, MiB), backups=4),
                 DatabaseSpec("blog", sizes=(SMALL, MiB), backups=2)]
    return SandboxConfig(**{"databases": databases, "export_delay_seconds": 0.05, **overrides})


@pytest.fixture
def copy_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(copy_config()) as server:
        yield server


@dataclass
class Bucket:
    s3: Any
    name: str
    endpoint: str

    def objects(self) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.name).get("Contents", [])]

    def open_uploads(self) -> list[str]:
        return [u["Key"] for u in self.s3.list_multipart_uploads(Bucket=self.name).get("Uploads", [])]

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        for chunk in self.s3.get_object(Bucket=self.name, Key=key)["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
        return digest.hexdigest()

    def metadata(self, key: str) -> dict[str, str]:
        return self.s3.head_object(Bucket=self.name, Key=key)["Metadata"]


def s3_client(endpoint: str, attempts: int | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = s3_config()
    if attempts is not None:
        config = config.merge(Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=1))
    return boto3.client("s3", endpoint_url=endpoint, region_name="fr-par", aws_access_key_id=FAKE_KEY,
                        aws_secret_access_key=FAKE_SECRET, config=config)


@pytest.fixture
def bucket(moto_reset: str) -> Bucket:
    s3 = s3_client(moto_reset)
    name = f"copies-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "fr-par"})
    return Bucket(s3, name, moto_reset)


def make_settings(sandbox: SandboxServer, bucket: Bucket, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        scw_secret_key=sandbox.token, scw_api_url=sandbox.base_url, scw_default_project_id=sandbox.project_id,
        scw_default_region="fr-par", backup_bucket=bucket.name, s3_endpoint_url=bucket.endpoint,
        s3_region="fr-par", s3_access_key=FAKE_KEY, s3_secret_key=FAKE_SECRET,
        download_host_allowlist=["127.0.0.1"], link_wait_seconds=10, function_timeout_seconds=600,
        notify_targets="[]", http_auth_tokens=[], handoff_mode="inline",
    )
    values.update(overrides)
    return Settings(**values)


def notify_to(sink_url: str) -> str:
    return json.dumps([{"url": sink_url, "format": "generic"}])


def job_for(sandbox: SandboxServer, name: str = "shop", **overrides: Any) -> CopyJob:
    db = sandbox.state.database_named(name)
    backup = sandbox.state.latest_backup(db.id)
    key = object_key(DEFAULT_KEY_TEMPLATE, "", database_name=db.name, database_id=db.id,
                     backup_id=backup.id, created_at=backup.created_at)
    values: dict[str, Any] = dict(
        run_id="run-test", backup_id=backup.id, database_id=db.id, database_name=db.name,
        project_id=sandbox.project_id, region="fr-par", backup_created_at=backup.created_at,
        size=backup.size, db_size=backup.db_size, object_key=key,
        deadline=datetime.now(timezone.utc) + timedelta(hours=1),
    )
    values.update(overrides)
    return CopyJob(**values)


def fast_clients(settings: Settings, store: ObjectStore | None = None) -> CopyClients:
    """Real clients, but part retries wait no time (tests must stay fast)."""
    from tenacity import wait_none

    from shared.scaleway.client import ScalewayClient

    download, upload = transfer_clients()
    return CopyClients(ScalewayClient.from_settings(settings), store or ObjectStore.from_settings(settings),
                       Transfer(download, upload, verify_md5=settings.verify_part_md5, wait=wait_none()))


@dataclass
class RecordingRequeue:
    """Stands in for the hand-off: keeps the continuation jobs it is given."""

    jobs: list[CopyJob] = field(default_factory=list)

    def send(self, jobs: list[CopyJob]) -> list[Any]:
        from shared.handoff import HandoffResult

        self.jobs.extend(jobs)
        return [HandoffResult(job, True) for job in jobs]
