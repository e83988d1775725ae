"""The copy use case: one ``CopyJob`` in, one ``CopyReport`` out.

Order, chosen so that every step is safe to repeat:
check (a verified copy at the key ends the job) -> ask the API for the backup and a fresh link
(never a URL from the message) -> allowlist the link's host -> stream the parts -> complete ->
verify (size, multipart ETag, SHA-256) -> stamp the SHA-256 into the metadata (the mark of a
verified copy) -> prune -> notify.

Outcomes and answers. ``copied`` and ``already_copied`` answer 200; ``continued`` (the copy
handed itself a continuation before the function timeout) 202; ``not_ready`` (no link within
this invocation's budget, job deadline not passed) 503 so a queue redelivers it. A failure
sends ``backup.copy_failed`` and answers 503 when it is retryable and the job's deadline has
not passed (the queue redelivers it, the notice id is the same each time so receivers
dedupe), otherwise 200 with outcome ``failed``: a permanent failure must not be redelivered.

Duplicates. Only the invocation that stamps the SHA-256 notifies ``backup.copied``, with an id
derived from the backup id; a second delivery finds the stamp and answers ``already_copied``.

Resume. A continuation carries the upload id and the parts done; it is checked against the
store's ``ListParts`` (a mismatch aborts and restarts from zero). A hash state cannot be
serialised, so a copy made over several invocations hashes the completed object by reading it
back from the bucket before stamping the SHA-256.

The steps of one invocation (``CopyRun``) live in ``shared.copying.steps``; this module is the entry:
the report, the clients, the outcome of each error, and the notices.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from shared.copying.steps import CopyRun, Requeue
from shared.errors import BackupExportError, DeadlineExceeded, ExportNotReady
from shared.models import CopyJob, as_utc
from shared.notify.events import copied_event, failed_event
from shared.observability import log_event
from shared.settings import Settings
from shared.storage import ObjectStore
from shared.copying.engine import Transfer, transfer_clients
from shared.urls import host_allowed

logger = logging.getLogger(__name__)


@dataclass
class CopyReport:
    outcome: str  # copied | already_copied | continued | not_ready | failed
    backup_id: str
    key: str
    status_code: int = 200
    size: int | None = None
    sha256: str | None = None
    parts: int | None = None
    seconds: float | None = None
    throughput_mb_s: float | None = None
    error: dict[str, Any] | None = None
    pruned: list[str] = field(default_factory=list)
    prune_errors: list[str] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, []) and k != "status_code"}


@dataclass
class CopyClients:
    api: Any  # shared.scaleway.client.ScalewayClient or anything with its backup methods
    store: ObjectStore
    transfer: Transfer

    @classmethod
    def from_settings(cls, settings: Settings) -> "CopyClients":
        from shared.scaleway.client import ScalewayClient

        download, upload = transfer_clients()
        return cls(ScalewayClient.from_settings(settings), ObjectStore.from_settings(settings),
                   Transfer(download, upload, verify_md5=settings.verify_part_md5))

    def close(self) -> None:
        for client in (self.api, self.store, self.transfer.download, self.transfer.upload):
            getattr(client, "close", lambda: None)()


def function_budget(timeout_seconds: float, started: float | None = None) -> Callable[[], float]:
    """Seconds left before the platform stops this invocation."""
    begin = time.monotonic() if started is None else started
    return lambda: timeout_seconds - (time.monotonic() - begin)


def run_job(job: CopyJob, settings: Settings, *, clients: CopyClients | None = None,
            remaining_time: Callable[[], float] | None = None, notifier: Any = None,
            requeue: Requeue | None = None) -> CopyReport:
    """Copy one backup. Only a missing or invalid setting raises (``ConfigurationError``, while
    building clients); every other ``BackupExportError`` becomes the report. Clients and the
    notifier are built from ``settings`` unless given; ``requeue`` (anything with
    ``send(list[CopyJob])``, e.g. a ``shared.handoff`` transport) receives continuations, and
    without it the copy never stops early."""
    own_clients, own_notifier = clients is None, notifier is None
    clients = clients or CopyClients.from_settings(settings)
    notifier = notifier if notifier is not None else _default_notifier(settings, job)
    try:
        run = CopyRun(job, settings, clients.api, clients.store, clients.transfer,
                      remaining_time or function_budget(settings.function_timeout_seconds), requeue)
        return _execute(run, notifier)
    finally:
        if own_clients:
            clients.close()
        if own_notifier and notifier is not None:
            notifier.close()


def _execute(run: CopyRun, notifier: Any) -> CopyReport:
    job = run.job
    report = CopyReport(outcome="failed", backup_id=str(job.backup_id), key=job.object_key)
    try:
        if run.already_copied():
            report.outcome = "already_copied"
        elif _past(job.deadline):
            raise DeadlineExceeded(f"the job's deadline {job.deadline.isoformat()} has passed")
        else:
            run.copy(report)
            if report.outcome == "copied":
                report.notifications = _send(notifier, _copied_event(run, report))
    except ExportNotReady as exc:
        if _past(job.deadline):
            _fail(run, report, exc, notifier)
        else:
            report.outcome, report.status_code = "not_ready", 503
            report.error = _error(exc)
    except BackupExportError as exc:
        _fail(run, report, exc, notifier)
    log_event(logger, "copy finished", outcome=report.outcome, status=report.status_code,
              backup_id=report.backup_id, key=report.key, error=(report.error or {}).get("code"))
    return report


def _fail(run: CopyRun, report: CopyReport, exc: BackupExportError, notifier: Any) -> None:
    report.outcome = "failed"
    report.error = _error(exc)
    report.status_code = 503 if exc.retryable and not _past(run.job.deadline) else 200
    report.notifications = _send(notifier, _failed_event(run, exc))


def _error(exc: BackupExportError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "retryable": exc.retryable}


def _past(moment: datetime) -> bool:
    return as_utc(moment) <= datetime.now(timezone.utc)


def _send(notifier: Any, event: Any) -> list[dict[str, Any]]:
    """A notification never fails the copy: every problem becomes a result line."""
    if notifier is None or event is None:
        return []
    try:
        results = notifier.send(event)
    except Exception as exc:  # the notifier promises not to raise; be sure of it
        log_event(logger, "notification crashed", logging.ERROR, error=type(exc).__name__)
        return [{"ok": False, "error": type(exc).__name__}]
    return [_plain(r) for r in results or []]


def _plain(result: Any) -> dict[str, Any]:
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    if is_dataclass(result):
        return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                for k, v in asdict(result).items()}
    return dict(result) if isinstance(result, dict) else {"result": str(result)}


def _default_notifier(settings: Settings, job: CopyJob) -> Any:
    extra = _reply_targets(job, settings)
    if not settings.notify_target_list and not extra:
        return None
    from shared.notify.delivery import Notifier

    return Notifier.from_settings(settings, extra)


def _reply_targets(job: CopyJob, settings: Settings) -> list[Any]:
    """The job's ``reply_to`` (a Slack slash command's response_url) as one more target, only
    on an allowed host: a URL from a message must not make this function post anywhere."""
    if not job.reply_to:
        return []
    from pydantic import ValidationError

    from shared.notify.delivery import NotifyTarget

    if not host_allowed(job.reply_to, settings.reply_host_allowlist):
        log_event(logger, "reply_to ignored: its host is not in REPLY_HOST_ALLOWLIST", logging.WARNING)
        return []
    try:
        return [NotifyTarget(url=job.reply_to, format="slack_reply")]
    except ValidationError:
        log_event(logger, "reply_to ignored: not a valid URL", logging.WARNING)
        return []


# --- the two notices ------------------------------------------------------------------------


def _copied_event(run: CopyRun, report: CopyReport) -> Any:
    job = run.job
    return copied_event(
        database_name=job.database_name, database_id=str(job.database_id), backup_id=str(job.backup_id),
        backup_created_at=job.backup_created_at, size=report.size or 0, duration_seconds=report.seconds or 0.0,
        bucket=run.store.bucket, key=run.key, endpoint_url=run.settings.s3_endpoint,
        sha256=report.sha256 or "", run_id=job.run_id)


def _failed_event(run: CopyRun, exc: BackupExportError) -> Any:
    job, progress = run.job, run.progress
    done = (f"{len(progress.parts)} part(s) uploaded, then the multipart upload was aborted" if progress
            else "nothing was uploaded")
    tried = (f"copy to s3://{run.store.bucket}/{run.key}, attempt {job.attempt}, "
             f"{run.reexports} new export(s), {done}")
    return failed_event(
        database_name=job.database_name, database_id=str(job.database_id), backup_id=str(job.backup_id),
        error_code=exc.code, error_message=exc.message, tried=tried, run_id=job.run_id,
        backup_created_at=job.backup_created_at, size=progress.size if progress else job.size,
        bucket=run.store.bucket, key=run.key, endpoint_url=run.settings.s3_endpoint)
