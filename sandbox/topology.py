"""The deployed topology reproduced on 127.0.0.1, for the demo and the end-to-end test.

    Slack  ->  hooks  ->  command queue (moto SQS)  ->  command trigger  -.
    sandbox API  <-  dispatch (functions-framework)  <--------------------'
                     dispatch  ->  job queue (moto SQS)  ->  job trigger
                     copy (functions-framework)  <-------------------------'
                     copy  ->  bucket (moto S3)  ->  webhook sink (copy notices)
                     dispatch, copy  ->  monitor sink (stale notices, run summaries, heartbeats)

Every server is a real process on its own free port (the sink and the triggers run as threads
of the caller). hooks and the command queue are started when asked for (``hooks_env``), as
deployed: the same dispatch code, public, ``CRON_WITHOUT_TOKEN=false``, answering slash
commands by queuing them. ``local_chain`` stops all of it on the way out, whatever happened.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import signal
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit

import httpx

from shared.ledger import FOLDER as LEDGER_FOLDER
from shared.observability import JsonFormatter
from sandbox.processes import Children, free_port
from sandbox.queue_trigger import QueueTrigger
from sandbox.s3faults import S3FaultProxy
from sandbox.sink import WebhookSink

MOTO_REGION = "us-east-1"  # moto's SQS wants an AWS region name
FAKE_ACCESS_KEY = "SCWXXXXXXXXXXXXXXXXX"
FAKE_SECRET_KEY = "11111111-2222-3333-4444-555555555555"
BUCKET = "sdb-backups"
QUEUE = "sdb-backup-export-jobs"
COMMAND_QUEUE = "sdb-backup-export-commands"
HOSTS_DIR = Path(__file__).resolve().parent / "hosts"  # sitecustomize: names resolved to 127.0.0.1
COPY_TIMEOUT_SECONDS = 100  # local copies take seconds; a longer one continues in a new invocation
DISPATCH_TIMEOUT_SECONDS = 300  # as deployed (serverless.yml)
NOTICE_PATH = "/hooks/backups"  # where the webhook sink takes the notifications (NOTIFY_TARGETS)
# Settings a developer's shell might hold: the local chain must not inherit them.
_OURS = ("SCW_", "S3_", "QUEUE_", "BACKUP_", "NOTIFY_", "COPY_", "HTTP_AUTH", "HANDOFF_", "DOWNLOAD_", "KEEP_",
         "HEARTBEAT_", "STALE_", "OBJECT_LOCK_")


@dataclass
class LocalChain:
    api: dict[str, str]  # base_url, project_id, organization_id, region, token
    s3: Any  # boto3 S3 client on the bucket's endpoint
    bucket: str
    sink: WebhookSink
    webhook_secret: str
    dispatch_url: str
    auth_token: str
    monitor: WebhookSink | None = None  # stale notices and run summaries (/hooks/watch), heartbeats (/ping/...)
    copy_url: str | None = None
    sqs: Any = None
    queue_url: str | None = None
    dlq_url: str | None = None
    trigger: QueueTrigger | None = None
    hooks_url: str | None = None  # the public entry point for chat-ops (started with hooks_env)
    command_queue_url: str | None = None
    command_trigger: QueueTrigger | None = None  # command queue -> dispatch
    log_dir: Path = field(default_factory=Path)
    served: dict[str, str] = field(default_factory=dict)  # database name -> the file served as its backup
    s3_faults: S3FaultProxy | None = None  # between copy and the bucket, when asked for
    children: Children | None = None
    copy_env: dict[str, str] = field(default_factory=dict, repr=False)

    def fire_cron(self, body: dict[str, Any], timeout: float = 120.0) -> httpx.Response:
        """POST the cron trigger's input to dispatch, as the platform does: no bearer token."""
        return httpx.post(self.dispatch_url, json=body, timeout=timeout)

    def stored(self) -> dict[str, int]:
        """Object key -> size, for every copy in the bucket (the ledger's entries left out)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])
                if not o["Key"].startswith(f"{LEDGER_FOLDER}/")}

    def uploading(self) -> dict[str, int]:
        """Key -> bytes uploaded so far, for each multipart upload in progress (copies running now)."""
        answer = self.s3.list_multipart_uploads(Bucket=self.bucket)
        progress = {}
        for upload in answer.get("Uploads", []):
            try:
                parts = self.s3.list_parts(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            except self.s3.exceptions.NoSuchUpload:  # completed or aborted since the listing
                continue
            progress[upload["Key"]] = sum(p["Size"] for p in parts.get("Parts", []))
        return progress

    def expected_sha256(self, backup_id: str, size: int, key: str, database: str = "") -> str:
        """What the sandbox served for this backup (from its generator or file, not from the copy)."""
        from sandbox.blobs import sha256_hex

        return sha256_hex(backup_id, size, self.served.get(database))

    def object_sha256(self, key: str) -> str:
        hasher = hashlib.sha256()
        for chunk in self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].iter_chunks(1 << 20):
            hasher.update(chunk)
        return hasher.hexdigest()

    def object_metadata(self, key: str) -> dict[str, str]:
        return self.s3.head_object(Bucket=self.bucket, Key=key).get("Metadata", {})

    def log_tails(self, lines: int = 15) -> str:
        """The end of every log file, to explain a failure."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def notifications(self) -> list[Any]:
        """The copy notices (``backup.copied``, ``backup.copy_failed``) the webhook sink received."""
        return [r for r in self.sink.requests if r.method == "POST"]

    def watch_notices(self) -> list[Any]:
        """The stale notices and run summaries the monitor received."""
        return [r for r in self.monitor.requests if r.method == "POST"] if self.monitor else []

    def heartbeats(self) -> list[str]:
        """The paths pinged on the monitor, in order (``/ping/dispatch/start``, ``/ping/db/shop``, ...)."""
        return [r.path for r in self.monitor.requests if r.method == "GET"] if self.monitor else []

    def jobs_pending(self) -> int:
        """Jobs not yet copied to the end: in the queue (visible or being delivered) or in flight.

        Dispatch sends its jobs before it answers, so right after an answer 0 proves that the run
        handed off nothing: no stray job can turn up later."""
        if not (self.sqs and self.queue_url):
            return 0
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        in_flight = self.trigger.stats.snapshot()["in_flight"] if self.trigger else 0
        return sum(int(attrs[name]) for name in names) + in_flight

    def crash_copy(self) -> None:
        """SIGKILL the copy function (mid-invocation, as an instance that crashed) and start a fresh
        one at the same address, as the platform would: the queue delivers the job to it again."""
        assert self.children is not None and self.copy_url is not None
        for child in [c for c in self.children.started if c.name.startswith("copy") and c.running()]:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait(10)
        restarts = sum(c.name.startswith("copy") for c in self.children.started)
        start_function(self.children, "copy", self.copy_env, port=urlsplit(self.copy_url).port,
                       log_name=f"copy-{restarts}")

    def dead_letters(self) -> int:
        if not (self.sqs and self.dlq_url):
            return 0
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def _client(service: str, endpoint: str) -> Any:
    import boto3  # lazy: heavy

    return boto3.client(service, endpoint_url=endpoint, region_name=MOTO_REGION,
                        aws_access_key_id=FAKE_ACCESS_KEY, aws_secret_access_key=FAKE_SECRET_KEY)


def start_sandbox_api(children: Children, config: str, export_delay: float | None,
                      serve_files: Sequence[str] = (), extra: Sequence[str] = ()) -> dict[str, str]:
    """``python -m sandbox`` as a child; its address. ``serve_files``: ``DATABASE=PATH`` each;
    ``extra``: more of its options (e.g. ``--locked-during-export``)."""
    args = ["-m", "sandbox", "--port", str(free_port()), "--config", config, *extra]
    args += [arg for spec in serve_files for arg in ("--serve-file", spec)]
    if export_delay is not None:
        args += ["--export-delay", str(export_delay)]
    child = children.start_python("sandbox-api", args, clean_env())
    return json.loads(child.first_line())


def start_moto(children: Children) -> str:
    port = free_port()
    child = children.start_python("moto", ["-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], clean_env())
    url = f"http://127.0.0.1:{port}"
    child.wait_http(url)
    return url


def create_queue(sqs: Any, name: str, visibility_seconds: int) -> tuple[str, str]:
    """A queue and its dead-letter queue, as the README's deploy steps set them up on Scaleway:
    the visibility timeout above the timeout of the function its trigger calls."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {
        "VisibilityTimeout": str(visibility_seconds),
        "MessageRetentionPeriod": "86400",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
    }
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"], dlq_url


def start_function(children: Children, name: str, env: dict[str, str], *, port: int | None = None,
                   log_name: str | None = None) -> str:
    port = port or free_port()
    args = ["-m", "functions_framework", "--target", name, "--source", "handlers/local.py",
            "--host", "127.0.0.1", "--port", str(port)]
    child = children.start_python(log_name or name, args, env)
    url = f"http://127.0.0.1:{port}/"
    child.wait_http(url + "health")
    return url


COPY_EVENTS = ["backup.copied", "backup.copy_failed"]
WATCH_EVENTS = ["backup.stale", "backup.run_summary"]


def sink_target(sink: WebhookSink, path: str = NOTICE_PATH,
                events: list[str] = COPY_EVENTS) -> tuple[str, dict[str, Any]]:
    """A fresh signing secret and the NOTIFY_TARGETS entry that points at the sink with it."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return secret, {"url": sink.url + path, "format": "generic", "secret": secret, "events": events}


def heartbeat_env(monitor: WebhookSink) -> tuple[dict[str, str], dict[str, str]]:
    """HEARTBEAT_URL for dispatch, HEARTBEAT_URL_TEMPLATE for copy, both on the monitor."""
    return ({"HEARTBEAT_URL": f"{monitor.url}/ping/dispatch"},
            {"HEARTBEAT_URL_TEMPLATE": f"{monitor.url}/ping/db/{{database_name}}"})


def run_trigger(stack: ExitStack, children: Children, trigger: QueueTrigger) -> QueueTrigger:
    """Start the trigger; on the way out stop polling (while the queue still answers), stop the
    servers (requests in flight then end at once), then join the trigger's workers."""
    stack.callback(trigger.stop)
    stack.callback(children.stop_all)
    stack.callback(trigger.stop_polling)
    return trigger.start()


def _log_to_file(logger_name: str, path: Path, stack: ExitStack) -> None:
    """JSON lines in the log folder, like the children's, instead of the caller's terminal."""
    logger = logging.getLogger(logger_name)
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    stack.callback(handler.close)
    stack.callback(logger.removeHandler, handler)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without our settings (a developer's shell may hold real ones), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_OURS)}
    env.update({"PYTHONUNBUFFERED": "1", **(extra or {})})
    return env


def function_env(api: dict[str, str], moto: str, *, queue_url: str | None, notify: list[dict[str, Any]],
                 log_dir: Path) -> dict[str, str]:
    """The settings both functions get in the local topology (see shared/settings.py)."""
    return clean_env({
        "SCW_API_URL": api["base_url"],
        "SCW_SECRET_KEY": api["token"],
        "SCW_ACCESS_KEY": FAKE_ACCESS_KEY,
        "SCW_DEFAULT_PROJECT_ID": api["project_id"],
        "SCW_DEFAULT_ORGANIZATION_ID": api["organization_id"],
        "SCW_DEFAULT_REGION": api["region"],
        "SCW_CONFIG_PATH": str(log_dir / "no-scw-config.yaml"),  # never the developer's own profile
        "S3_ENDPOINT_URL": moto, "S3_REGION": MOTO_REGION,
        "S3_ACCESS_KEY": FAKE_ACCESS_KEY, "S3_SECRET_KEY": FAKE_SECRET_KEY,
        "BACKUP_BUCKET": BUCKET,
        "HANDOFF_MODE": "queue" if queue_url else "inline",
        **({"QUEUE_URL": queue_url} if queue_url else {}),
        "QUEUE_ENDPOINT_URL": moto, "QUEUE_REGION": MOTO_REGION,  # the job and the command queues
        "QUEUE_ACCESS_KEY": FAKE_ACCESS_KEY, "QUEUE_SECRET_KEY": FAKE_SECRET_KEY,
        "DOWNLOAD_HOST_ALLOWLIST": "127.0.0.1",
        "FUNCTION_TIMEOUT_SECONDS": str(COPY_TIMEOUT_SECONDS),
        "NOTIFY_TARGETS": json.dumps(notify),
        "LOG_LEVEL": "INFO",
    })


@contextmanager
def local_chain(*, config: str = "demo", inline: bool = False, export_delay: float | None = None,
                log_dir: Path | None = None, dispatch_env: dict[str, str] | None = None,
                copy_env: dict[str, str] | None = None, served: dict[str, str] | None = None,
                hooks_env: dict[str, str] | None = None, sandbox_args: list[str] | None = None,
                local_hosts: list[str] | None = None, s3_faults: bool = False,
                visibility_seconds: int | None = None) -> Iterator[LocalChain]:
    """Start the whole chain on loopback; everything is stopped when the block ends.

    ``dispatch_env`` and ``copy_env`` add settings to one function (e.g. ``REPLY_HOST_ALLOWLIST``);
    ``served`` maps database names to files the sandbox serves as their newest backups;
    ``sandbox_args`` are options of ``python -m sandbox`` (e.g. ``--locked-during-export``);
    ``local_hosts`` are names the functions find on 127.0.0.1 (``sandbox/hosts``: a stand-in for DNS);
    ``s3_faults`` puts an ``S3FaultProxy`` (``chain.s3_faults``) between copy and the bucket;
    ``visibility_seconds``: how soon the job queue delivers again a job whose copy did not answer 2xx.
    Copy notices go to ``sink``; stale notices, run summaries and heartbeats to ``monitor``, so
    each can be counted on its own. ``hooks_env`` (e.g. ``SLACK_SIGNING_SECRET``) starts hooks, the
    command queue and its trigger, hooks getting dispatch's settings (not its heartbeat), then these."""
    with ExitStack() as stack:
        children = stack.enter_context(Children(log_dir))
        sink = stack.enter_context(WebhookSink())
        monitor = stack.enter_context(WebhookSink())
        api = start_sandbox_api(children, config, export_delay, [f"{n}={p}" for n, p in (served or {}).items()],
                                sandbox_args or ())
        moto = start_moto(children)
        s3 = _client("s3", moto)
        s3.create_bucket(Bucket=BUCKET)
        sqs = _client("sqs", moto)
        visibility = visibility_seconds or COPY_TIMEOUT_SECONDS + 20
        queue_url, dlq_url = create_queue(sqs, QUEUE, visibility) if not inline else (None, None)
        proxy = stack.enter_context(S3FaultProxy(upstream=moto)) if s3_faults else None
        secret, target = sink_target(sink)
        _, watch_target = sink_target(monitor, "/hooks/watch", WATCH_EVENTS)
        watch_target["secret"] = secret  # one secret for the demo to check every signature with
        dispatch_beat, copy_beat = heartbeat_env(monitor)
        env = function_env(api, moto, queue_url=queue_url, notify=[target, watch_target], log_dir=children.log_dir)
        if local_hosts:
            paths = [str(HOSTS_DIR), env.get("PYTHONPATH", "")]
            env.update(PYTHONPATH=os.pathsep.join(p for p in paths if p), SANDBOX_HOSTS=",".join(local_hosts))
        token = secrets.token_urlsafe(24)
        own_dispatch_env = {**env, "HTTP_AUTH_TOKENS": token, **(dispatch_env or {})}
        dispatch_env = {**env, **dispatch_beat, **({} if not inline else copy_beat), "HTTP_AUTH_TOKENS": token,
                        **(dispatch_env or {})}
        chain = LocalChain(api=api, s3=s3, bucket=BUCKET, sink=sink, webhook_secret=secret, monitor=monitor,
                           dispatch_url=start_function(children, "dispatch", dispatch_env),
                           auth_token=token, sqs=sqs, queue_url=queue_url, dlq_url=dlq_url, log_dir=children.log_dir,
                           served=dict(served or {}), s3_faults=proxy)
        if not inline:
            # no bearer token: queue deliveries carry none
            through = {"S3_ENDPOINT_URL": proxy.url} if proxy else {}
            chain.children, chain.copy_env = children, {**env, **copy_beat, **through, **(copy_env or {})}
            chain.copy_url = start_function(children, "copy", chain.copy_env)
            _log_to_file("sandbox.queue_trigger", children.log_dir / "queue-trigger.log", stack)
            chain.trigger = run_trigger(stack, children, QueueTrigger(sqs, queue_url, chain.copy_url, dlq_url=dlq_url))
        if hooks_env is not None:
            _start_hooks(stack, children, chain, {**own_dispatch_env, **hooks_env})
        yield chain


def _start_hooks(stack: ExitStack, children: Children, chain: LocalChain, env: dict[str, str]) -> None:
    """hooks (public: CRON_WITHOUT_TOKEN=false) queues slash commands; a trigger hands them to dispatch."""
    chain.command_queue_url, dlq_url = create_queue(chain.sqs, COMMAND_QUEUE, DISPATCH_TIMEOUT_SECONDS + 60)
    hooks = {**env, "CRON_WITHOUT_TOKEN": "false", "COMMAND_QUEUE_URL": chain.command_queue_url}
    chain.hooks_url = start_function(children, "hooks", hooks)
    chain.command_trigger = run_trigger(
        stack, children, QueueTrigger(chain.sqs, chain.command_queue_url, chain.dispatch_url, dlq_url=dlq_url))
