"""The deployments the hostile-input tests attack, served by functions-framework as in production.

One sandbox API (in this process, so a test can choose a backup's download link and read the
export counter), moto (S3 and SQS), a webhook sink, and five functions as child processes:

- ``private``: dispatch as deployed ``privacy: private`` (``CRON_WITHOUT_TOKEN=true``); Grafana
  HMAC over the body alone (no timestamp header); Slack signed;
- ``hooks``: the public chat-ops entry point (``CRON_WITHOUT_TOKEN=false``); Grafana HMAC over
  ``"<timestamp>:<body>"``; Slack signed;
- ``grafana-token``: dispatch without a Grafana secret, so Grafana authenticates as Alertmanager
  does (bearer token or basic-auth password);
- ``copy``: copy behind ``HTTP_AUTH_TOKENS`` (the HTTP hand-off);
- ``copy-queue``: copy without a token (fed by the queue trigger).

Every dispatch hands off to its own queue, which nothing drains: a job that reached it stays
there to be counted (or is delivered by the test, as the queue trigger would). Every secret comes
from ``tests.fixtures.secrets.SECRETS``; the allowlists pin the sandbox's and the sink's ports, so
any other port on 127.0.0.1 is off the list.
"""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import httpx

from sandbox.api import SandboxServer
from sandbox.processes import Child, Children, free_port
from sandbox.records import BackupRecord, ExportRecord
from sandbox.sink import WebhookSink
from sandbox.state import DatabaseSpec, SandboxConfig
from sandbox.topology import COPY_EVENTS, MOTO_REGION, function_env
from shared.keys import object_key
from shared.models import CopyJob
from shared.settings import DEFAULT_KEY_TEMPLATE
from tests.fixtures.secrets import SECRETS

BUCKET = "hostile-backups"
GRAFANA_TIMESTAMP_HEADER = "X-Grafana-Alerting-Timestamp"
DISPATCHES = ("private", "hooks", "grafana-token")
COPIES = ("copy", "copy-queue")


def sandbox_config() -> SandboxConfig:
    """Two small databases: an accepted request costs little, and a copy takes a moment."""
    return SandboxConfig(databases=[DatabaseSpec("shop", size=48 * 1024, backups=2),
                                    DatabaseSpec("blog", size=200 * 1024 + 7, backups=2)],
                         export_delay_seconds=0.05, token=SECRETS.api_token, rate_limit=None)


class LinkSandbox(SandboxServer):
    """The sandbox, where a test may choose the download link the API gives for a backup."""

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self.links: dict[str, str] = {}  # backup id -> the link the API answers

    def link_for(self, backup: BackupRecord, export: ExportRecord) -> str:
        return self.links.get(backup.id) or super().link_for(backup, export)


@dataclass(frozen=True)
class Effects:
    """What a request may have changed; a refused request must leave every figure as it was."""

    exports: int
    queued: int  # jobs in the dispatch queues
    objects: int
    uploads: int  # open multipart uploads
    notifications: int


@dataclass
class Hostile:
    """The running deployments (``urls``), the servers behind them, and what tests read back."""

    sandbox: LinkSandbox
    sink: WebhookSink
    s3: Any
    sqs: Any
    urls: dict[str, str]  # deployment -> base URL (ending in "/")
    queues: dict[str, str]  # dispatch deployment -> its queue URL
    children: Children
    # A new connection per request: gunicorn closes an idle keep-alive connection after 2 s, and a
    # request sent on it as it closes is lost ("Server disconnected"), an artefact of the harness.
    http: httpx.Client = field(default_factory=lambda: httpx.Client(
        timeout=60.0, limits=httpx.Limits(max_keepalive_connections=0)))

    def exports(self) -> int:
        return self.sandbox.stats.snapshot()["exports"]

    def queued(self) -> int:
        total = 0
        for url in self.queues.values():
            names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            total += sum(int(attributes[name]) for name in names)
        return total

    def objects(self) -> int:
        return self.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)

    def clear_bucket(self) -> None:
        for item in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            self.s3.delete_object(Bucket=BUCKET, Key=item["Key"])

    def effects(self) -> Effects:
        uploads = len(self.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))
        return Effects(self.exports(), self.queued(), self.objects(), uploads, len(self.sink.requests))

    def drain(self, deployment: str) -> list[dict[str, Any]]:
        """The jobs a dispatch deployment queued, taken off its queue."""
        jobs = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queues[deployment], MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return jobs
            for message in messages:
                jobs.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queues[deployment], ReceiptHandle=message["ReceiptHandle"])

    def deliver(self, job: dict[str, Any], deployment: str = "copy-queue") -> httpx.Response:
        """POST a job to copy as the queue trigger does; copy answers once all its work is done."""
        headers = {"Content-Type": "application/json"}
        if deployment == "copy":
            headers["Authorization"] = f"Bearer {SECRETS.copy_bearer_token}"
        return self.http.post(self.urls[deployment], content=json.dumps(job), headers=headers)

    def real_job(self, name: str = "shop", **changes: Any) -> dict[str, Any]:
        """A valid job for the latest backup of a sandbox database (``force``: copied even if there)."""
        db = self.sandbox.state.database_named(name)
        backup = self.sandbox.state.latest_backup(db.id)
        fields = {"run_id": "hostile", "backup_id": backup.id, "database_id": db.id, "database_name": db.name,
                  "project_id": self.sandbox.project_id, "region": self.sandbox.region,
                  "backup_created_at": backup.created_at, "size": backup.size, "db_size": backup.db_size,
                  "deadline": datetime.now(timezone.utc) + timedelta(hours=1), "force": True, **changes}
        # the key copy derives from the settings: a job whose backup or name changed has that one
        key = object_key(DEFAULT_KEY_TEMPLATE, "", database_name=fields["database_name"],
                         database_id=fields["database_id"], backup_id=fields["backup_id"],
                         created_at=fields["backup_created_at"])
        job = CopyJob(**{"object_key": key, **{k: v for k, v in fields.items() if k in CopyJob.model_fields}})
        return {**json.loads(job.model_dump_json()), **changes}

    def log_tails(self) -> str:
        return "\n".join(f"--- {child.name}\n{child.log_tail(10)}" for child in self.children.started)


def _settings(sandbox: SandboxServer, moto: str, sink: WebhookSink, log_dir: Any, queue_url: str) -> dict[str, str]:
    api = {"base_url": sandbox.base_url, "token": SECRETS.api_token, "project_id": sandbox.project_id,
           "organization_id": sandbox.organization_id, "region": sandbox.region}
    # the copies' notices only: a run's summary would be one more request to tell apart
    target = {"url": sink.url + "/hooks/backups", "format": "generic", "secret": SECRETS.webhook_secret,
              "events": COPY_EVENTS}
    env = function_env(api, moto, queue_url=queue_url, notify=[target], log_dir=log_dir)
    sandbox_port, sink_port = sandbox.base_url.rsplit(":", 1)[1], sink.url.rsplit(":", 1)[1]
    env.update({
        "BACKUP_BUCKET": BUCKET,
        "S3_ACCESS_KEY": SECRETS.s3_access_key, "S3_SECRET_KEY": SECRETS.s3_secret_key,
        "SCW_ACCESS_KEY": SECRETS.s3_access_key,
        "QUEUE_ACCESS_KEY": SECRETS.queue_access_key, "QUEUE_SECRET_KEY": SECRETS.queue_secret_key,
        # the sink also stands in for an allowed storage host that answers with a redirect
        "DOWNLOAD_HOST_ALLOWLIST": f"127.0.0.1:{sandbox_port},127.0.0.1:{sink_port}",
        "REPLY_HOST_ALLOWLIST": f"127.0.0.1:{sink_port}",
        "LINK_WAIT_SECONDS": "5",
    })
    return env


def _deployment_settings() -> dict[str, dict[str, str]]:
    tokens = f"{SECRETS.bearer_token},{SECRETS.other_bearer_token}"
    slack = {"SLACK_SIGNING_SECRET": SECRETS.slack_signing_secret}
    return {
        "private": {"HTTP_AUTH_TOKENS": tokens, "CRON_WITHOUT_TOKEN": "true", **slack,
                    "GRAFANA_WEBHOOK_SECRET": SECRETS.grafana_secret},
        "hooks": {"HTTP_AUTH_TOKENS": tokens, "CRON_WITHOUT_TOKEN": "false", **slack,
                  "GRAFANA_WEBHOOK_SECRET": SECRETS.grafana_secret,
                  "GRAFANA_TIMESTAMP_HEADER": GRAFANA_TIMESTAMP_HEADER},
        "grafana-token": {"HTTP_AUTH_TOKENS": tokens},
        "copy": {"HTTP_AUTH_TOKENS": SECRETS.copy_bearer_token},
        "copy-queue": {},
    }


def _serve(children: Children, name: str, env: dict[str, str]) -> tuple[Child, str]:
    port = free_port()
    target = "dispatch" if name in DISPATCHES else "copy"
    child = children.start_python(name, ["-m", "functions_framework", "--target", target, "--source",
                                         "handlers/local.py", "--host", "127.0.0.1", "--port", str(port)], env)
    return child, f"http://127.0.0.1:{port}/"


@contextmanager
def hostile_topology(moto: str) -> Iterator[Hostile]:
    """Start everything (the functions side by side), stop everything on the way out."""
    import boto3

    with ExitStack() as stack:
        config = sandbox_config()
        sandbox = stack.enter_context(LinkSandbox(config))
        sink = stack.enter_context(WebhookSink())
        children = stack.enter_context(Children())
        keys = {"region_name": MOTO_REGION, "aws_access_key_id": SECRETS.s3_access_key,
                "aws_secret_access_key": SECRETS.s3_secret_key}
        s3, sqs = boto3.client("s3", endpoint_url=moto, **keys), boto3.client("sqs", endpoint_url=moto, **keys)
        s3.create_bucket(Bucket=BUCKET)
        queues = {name: sqs.create_queue(QueueName=f"hostile-{name}")["QueueUrl"]
                  for name in (*DISPATCHES, "continuations")}
        started = {}
        for name, extra in _deployment_settings().items():
            base = _settings(sandbox, moto, sink, children.log_dir, queues.get(name, queues["continuations"]))
            started[name] = _serve(children, name, {**base, **extra})
        for child, url in started.values():
            child.wait_http(url + "health")
        hostile = Hostile(sandbox, sink, s3, sqs, {name: url for name, (_, url) in started.items()},
                          {name: queues[name] for name in DISPATCHES}, children)
        stack.callback(hostile.http.close)
        yield hostile
