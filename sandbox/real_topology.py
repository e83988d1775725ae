"""The demo's chain pointed at a real Scaleway account (``demo --real``).

Both functions still run here under functions-framework, but they talk to the real backup
API, bucket and queue, with the settings of this shell (shared/settings.py). The queue
trigger stand-in polls the real queue. A local webhook sink is added to NOTIFY_TARGETS so
the notifications can be shown. The source's SHA-256 is not known in advance: a copy is
checked against the digest the copy function recorded in the object's metadata.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack, contextmanager
from typing import Any, Iterator

from shared.errors import ConfigurationError
from shared.keys import META_SHA256
from sandbox.processes import Children
from sandbox.queue_trigger import QueueTrigger, sqs_client
from sandbox.sink import WebhookSink
from sandbox.topology import LocalChain, run_trigger, sink_target, start_function
from shared.settings import Settings, load_settings
from shared.storage import s3_config


class RealChain(LocalChain):
    def expected_sha256(self, backup_id: str, size: int, key: str, database: str = "") -> str:
        return self.object_metadata(key).get(META_SHA256, "")


def _s3_client(settings: Settings) -> Any:
    import boto3  # lazy: heavy

    key, secret = settings.s3_credentials
    return boto3.client("s3", endpoint_url=settings.s3_endpoint, region_name=settings.s3_region_name,
                        aws_access_key_id=key, aws_secret_access_key=secret, config=s3_config())


def _check(settings: Settings) -> None:
    missing = [name for name, value in (("SCW_SECRET_KEY", settings.scw_secret_key),
                                        ("SCW_DEFAULT_PROJECT_ID", settings.scw_default_project_id),
                                        ("BACKUP_BUCKET", settings.backup_bucket)) if not value]
    if missing:
        raise ConfigurationError(f"--real needs {', '.join(missing)} in the environment (or the scw config file)")


@contextmanager
def real_chain(*, inline: bool = False) -> Iterator[RealChain]:
    settings = load_settings()
    _check(settings)
    use_queue = bool(settings.queue_url) and not inline
    with ExitStack() as stack:
        children = stack.enter_context(Children())
        sink = stack.enter_context(WebhookSink())
        secret, target = sink_target(sink)
        notify = [*json.loads(os.environ.get("NOTIFY_TARGETS") or "[]"), target]  # the raw list: secrets included
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NOTIFY_TARGETS": json.dumps(notify),
               "HANDOFF_MODE": "queue" if use_queue else "inline"}
        copy_env = {k: v for k, v in env.items() if k.upper() != "HTTP_AUTH_TOKENS"}  # queue deliveries carry no bearer
        chain = RealChain(api={"region": settings.region, "project_id": settings.scw_default_project_id or ""},
                          s3=_s3_client(settings), bucket=settings.backup_bucket or "", sink=sink,
                          webhook_secret=secret, dispatch_url=start_function(children, "dispatch", env),
                          auth_token="", log_dir=children.log_dir)
        if use_queue:
            queue_secret = settings.queue_secret_key.get_secret_value() if settings.queue_secret_key else ""
            chain.sqs = sqs_client(settings.queue_endpoint, settings.queue_region_name,
                                   settings.queue_access_key or "", queue_secret)
            chain.queue_url = settings.queue_url
            chain.copy_url = start_function(children, "copy", copy_env)
            trigger = QueueTrigger(chain.sqs, settings.queue_url or "", chain.copy_url)
            chain.trigger = run_trigger(stack, children, trigger)
            chain.dlq_url = chain.trigger.dlq_url
        yield chain
