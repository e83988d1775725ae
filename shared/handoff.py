"""Handing copy jobs from dispatch to copy: over a queue, over HTTP, or in-process.

Every transport answers one ``HandoffResult`` per job, in order, and never raises because
one job failed: dispatch reports each database on its own. Scaleway Queues take no
``DelaySeconds`` and no ``MessageGroupId``, and messages up to 256 KB.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from pydantic import SecretStr

from shared.aws import client_config, error_code
from shared.errors import BackupExportError, ConfigurationError, HandoffError
from shared.models import CopyJob
from shared.observability import log_event
from shared.urls import redact_url

if TYPE_CHECKING:
    import httpx

    from shared.settings import Settings

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024  # per message and per SendMessageBatch call
MAX_BATCH = 10
HTTP_CONCURRENCY = 8


@dataclass(frozen=True)
class HandoffResult:
    job: CopyJob
    ok: bool
    code: str | None = None
    message: str | None = None

    @classmethod
    def failed(cls, job: CopyJob, exc: BackupExportError) -> "HandoffResult":
        return cls(job, False, exc.code, exc.message)


class Handoff(Protocol):
    def send(self, jobs: list[CopyJob]) -> list[HandoffResult]: ...

    def close(self) -> None: ...


def message_body(job: CopyJob) -> str:
    body = job.model_dump_json()
    if len(body.encode()) >= MAX_MESSAGE_BYTES:
        raise HandoffError(f"the job for backup {job.backup_id} is larger than a queue message allows")
    return body


def pack_batches(sizes: Sequence[int], *, max_count: int = MAX_BATCH, max_bytes: int = MAX_MESSAGE_BYTES) -> list[list[int]]:
    """Group message indexes into batches of at most ``max_count`` messages and ``max_bytes`` in all."""
    batches: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if current and (len(current) == max_count or total + size > max_bytes):
            batches.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current:
        batches.append(current)
    return batches


class QueueHandoff:
    """SQS ``SendMessageBatch``; the client is given in (boto3, built by the caller)."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self.sqs = sqs_client
        self.queue_url = queue_url

    def send(self, jobs: list[CopyJob]) -> list[HandoffResult]:
        results: dict[int, HandoffResult] = {}
        bodies: dict[int, str] = {}
        for index, job in enumerate(jobs):
            try:
                bodies[index] = message_body(job)
            except HandoffError as exc:
                results[index] = HandoffResult.failed(jobs[index], exc)
        order = list(bodies)
        for batch in pack_batches([len(bodies[i].encode()) for i in order]):
            indexes = [order[i] for i in batch]
            results.update(self._send_batch(jobs, bodies, indexes))
        return [results[i] for i in range(len(jobs))]

    def _send_batch(self, jobs: list[CopyJob], bodies: dict[int, str], indexes: list[int]) -> dict[int, HandoffResult]:
        from botocore.exceptions import BotoCoreError, ClientError

        entries = [{"Id": str(i), "MessageBody": bodies[i]} for i in indexes]
        try:
            answer = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            code = error_code(exc)
            error = HandoffError(f"the queue refused the batch ({code})")
            log_event(logger, "queue batch failed", logging.ERROR, code=code, jobs=len(indexes))
            return {i: HandoffResult.failed(jobs[i], error) for i in indexes}
        out = {int(ok["Id"]): HandoffResult(jobs[int(ok["Id"])], True) for ok in answer.get("Successful", [])}
        for bad in answer.get("Failed", []):
            error = HandoffError(f"the queue refused the message ({bad.get('Code', 'unknown')})")
            out[int(bad["Id"])] = HandoffResult.failed(jobs[int(bad["Id"])], error)
        missing = HandoffError("the queue did not acknowledge the message")
        return {i: out.get(i) or HandoffResult.failed(jobs[i], missing) for i in indexes}

    def close(self) -> None:
        self.sqs.close()  # as HttpHandoff closes its client: the hand-off owns what it was given


class HttpHandoff:
    """POST each job to the copy function; the call lasts as long as the copy."""

    def __init__(
        self,
        http: "httpx.Client",
        url: str,
        *,
        platform_token: SecretStr | None,
        bearer_token: SecretStr | None,
        concurrency: int = HTTP_CONCURRENCY,
    ) -> None:
        self.http = http
        self.url = url
        self.concurrency = concurrency
        self.headers = {"Content-Type": "application/json"}
        if platform_token:  # reaches a private function
            self.headers["X-Auth-Token"] = platform_token.get_secret_value()
        if bearer_token:  # the copy function's own check
            self.headers["Authorization"] = f"Bearer {bearer_token.get_secret_value()}"

    def send(self, jobs: list[CopyJob]) -> list[HandoffResult]:
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs))) as pool:
            return list(pool.map(self._send_one, jobs))

    def _send_one(self, job: CopyJob) -> HandoffResult:
        import httpx

        try:
            response = self.http.post(self.url, content=job.model_dump_json(), headers=self.headers)
        except httpx.HTTPError as exc:
            error = HandoffError(f"the copy function at {redact_url(self.url)} could not be reached ({type(exc).__name__})")
            return HandoffResult.failed(job, error)
        if response.is_success:
            return HandoffResult(job, True)
        code = _error_code(response) or HandoffError.code
        return HandoffResult(job, False, code, f"the copy function answered {response.status_code}")

    def close(self) -> None:
        self.http.close()


def _error_code(response: "httpx.Response") -> str | None:
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) and len(code) <= 64 else None


class InlineHandoff:
    """Run the copy in this process, one job after another (local runs and small projects)."""

    def __init__(self, run: Callable[[CopyJob], Any]) -> None:
        self.run = run

    def send(self, jobs: list[CopyJob]) -> list[HandoffResult]:
        return [self._run_one(job) for job in jobs]

    def _run_one(self, job: CopyJob) -> HandoffResult:
        try:
            report = self.run(job)
        except BackupExportError as exc:
            return HandoffResult.failed(job, exc)
        except Exception as exc:  # one broken copy must not stop the others
            logger.exception("inline copy crashed")
            return HandoffResult(job, False, "internal_error", f"the copy crashed ({type(exc).__name__})")
        # The copy use case reports its failures instead of raising them (a CopyError, or a mapping).
        outcome = getattr(report, "outcome", None)
        if outcome in ("failed", "not_ready"):
            error = getattr(report, "error", None)
            fields = error if isinstance(error, dict) else vars(error) if error is not None else {}
            return HandoffResult(job, False, fields.get("code", outcome), fields.get("message", f"copy {outcome}"))
        return HandoffResult(job, True)

    def close(self) -> None:
        pass


def handoff_from_settings(settings: "Settings", *, inline_runner: Callable[[CopyJob], Any] | None = None) -> Handoff:
    """The transport ``HANDOFF_MODE`` names, with its client; missing settings are named."""
    if settings.handoff_mode == "queue":
        return QueueHandoff(_sqs_client(settings), str(settings.queue_url))
    if settings.handoff_mode == "http":
        import httpx

        url = str(settings.copy_function_url)  # required by the settings in http mode
        timeout = httpx.Timeout(settings.function_timeout_seconds + 60, connect=10)
        return HttpHandoff(
            httpx.Client(timeout=timeout, follow_redirects=False),
            url,
            platform_token=settings.copy_function_token,
            bearer_token=settings.copy_function_bearer_token,
        )
    if inline_runner is None:
        raise ConfigurationError("HANDOFF_MODE=inline copies in this process: it needs the copy use case")
    return InlineHandoff(inline_runner)


def _sqs_client(settings: "Settings") -> Any:
    secret = settings.queue_secret_key  # QUEUE_URL and both keys are required by the settings in queue mode
    import boto3  # lazy: only the queue mode needs it

    return boto3.client(
        "sqs",
        endpoint_url=settings.queue_endpoint,
        region_name=settings.queue_region_name,
        aws_access_key_id=settings.queue_access_key,
        aws_secret_access_key=secret.get_secret_value(),  # type: ignore[union-attr]
        config=client_config(retries={"mode": "standard", "max_attempts": 4}, read_timeout=30),
    )
