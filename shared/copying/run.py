"""The copy use case: one ``CopyJob`` in, one ``CopyResult`` out.

Order, chosen so that every step is safe to repeat, and a kill at any point leaves what the next
delivery finishes: refuse a job whose key is not its backup's own (the key is derived from the
settings, never taken from the message) -> check the bucket (a verified copy ends the job; an
unstamped one is verified by reading it back; an upload being written right now by another
invocation ends this delivery, ``in_progress``) -> ask the API for the backup and a link (never
a URL from the message), kept alive whatever its lifetime -> resume the upload the store holds,
or start one -> stream the parts -> complete -> verify (size, multipart ETag, SHA-256) -> record
it in the ledger and ping its heartbeat -> notify ``backup.copied`` -> stamp the SHA-256 into the
metadata (the mark of a verified copy) -> prune. All that a watcher needs happens before the
stamp: a delivery killed before it is finished (and redone) by the next one.

Outcomes (``shared.copying.result.copy_status`` turns them into statuses): ``copied`` and
``already_copied``; ``continued`` (the copy handed itself a continuation before the function
timeout); ``in_progress`` and ``not_ready`` (no link within this invocation's budget, job
deadline not passed) so a queue redelivers it; ``failed``, which sends ``backup.copy_failed``
(the notice id is the same on every attempt, so receivers dedupe).

Notices. ``backup.copied`` goes out before the stamp, so a kill between the two cannot lose it:
the next delivery finds the object unstamped, verifies it again, notifies again (the same
notice id, derived from the backup id) and stamps. A delivery that finds the stamp answers
``already_copied`` and stays quiet.

Resume. A continuation carries the upload id, the parts done and the SHA-256's state
(``sha256state``); a delivery without one finds the upload a killed invocation left
(ListMultipartUploads, ListParts). The stored parts are checked against the part plan and the
copy goes on from there; without a carried hash, the completed object is read back before the
SHA-256 is stamped. A second delivery of one continuation (a queue delivers at least once) never
aborts the upload its twin is writing: it answers ``in_progress`` while that upload grows.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, is_dataclass, replace
from typing import Any, Callable

from shared.clock import SYSTEM_CLOCK, Clock
from shared.copying.engine import Transfer, transfer_clients
from shared.copying.ports import BackupSource, CopyStore, Notifier, Requeue
from shared.copying.pruning import prune_copies
from shared.copying.record import record_verified
from shared.copying.result import CopyError, CopyResult, FoundCopied, HandedOver, Verified
from shared.copying.steps import CopyRun, OnProgress, own_key
from shared.errors import BackupExportError, CopyInProgress, DeadlineExceeded, ExportNotReady, InvalidRequest
from shared.models import CopyJob, as_utc
from shared.notify.events import copied_event, failed_event
from shared.observability import log_event
from shared.settings import Settings
from shared.targets import NotifyTarget
from shared.urls import host_allowed

logger = logging.getLogger(__name__)


@dataclass
class CopyClients:
    api: BackupSource
    store: CopyStore
    transfer: Transfer

    @classmethod
    def from_settings(cls, settings: Settings) -> "CopyClients":
        from shared.scaleway.client import ScalewayClient
        from shared.storage import ObjectStore

        download, upload = transfer_clients()
        return cls(ScalewayClient.from_settings(settings), ObjectStore.from_settings(settings),
                   Transfer(download, upload, verify_md5=settings.verify_part_md5))

    def close(self) -> None:
        for client in (self.api, self.store, self.transfer.download, self.transfer.upload):
            client.close()


def function_budget(timeout_seconds: float, started: float, clock: Clock = SYSTEM_CLOCK) -> Callable[[], float]:
    """Seconds left before the platform stops this invocation (``started`` on ``clock.monotonic``)."""
    return lambda: timeout_seconds - (clock.monotonic() - started)


def run_job(job: CopyJob, settings: Settings, *, clients: CopyClients | None = None,
            remaining_time: Callable[[], float] | None = None, notifier: Notifier | None = None,
            requeue: Requeue | None = None, clock: Clock = SYSTEM_CLOCK,
            on_progress: OnProgress | None = None) -> CopyResult:
    """Copy one backup. Only a job whose ``object_key`` is not its backup's own key (422,
    ``InvalidRequest``: a job may only write its own backup's copy) and a missing or invalid
    setting (``ConfigurationError``, while building clients) raise; every other
    ``BackupExportError`` becomes the result. Clients and the notifier are built from
    ``settings`` unless given; ``requeue`` receives continuations, and without it the copy never
    stops early. ``on_progress(done, size)`` hears the bytes copied as they pass (a terminal's
    progress bar); it changes nothing in the copy."""
    if job.object_key != own_key(job, settings):
        raise InvalidRequest("the job's object_key is not the key its backup is copied to",
                             details={"fields": ["object_key"]})
    own_clients, own_notifier = clients is None, notifier is None
    clients = clients or CopyClients.from_settings(settings)
    notifier = notifier if notifier is not None else _default_notifier(settings, job)
    try:
        budget = remaining_time or function_budget(settings.function_timeout_seconds, clock.monotonic(), clock)
        run = CopyRun(job, settings, clients.api, clients.store, clients.transfer, budget, requeue, clock,
                      on_progress=on_progress)
        result = _execute(run, notifier, clock)
    finally:
        if own_clients:
            clients.close()
        if own_notifier and notifier is not None:
            notifier.close()
    log_event(logger, "copy finished", outcome=result.outcome, backup_id=result.backup_id, key=result.key,
              error=result.error.code if result.error else None)
    return result


def _execute(run: CopyRun, notifier: Notifier | None, clock: Clock) -> CopyResult:
    job = run.job
    base = CopyResult(outcome="failed", backup_id=str(job.backup_id), key=run.key)
    try:
        if run.already_copied():
            return replace(base, outcome="already_copied")
        if as_utc(job.deadline) <= clock.now():
            raise DeadlineExceeded(f"the job's deadline {job.deadline.isoformat()} has passed")
        step = run.copy()
    except CopyInProgress as exc:  # another invocation's copy: nothing to report, no notice
        return replace(base, outcome="in_progress", error=CopyError.of(exc))
    except ExportNotReady as exc:
        if as_utc(job.deadline) > clock.now():
            return replace(base, outcome="not_ready", error=CopyError.of(exc))
        return _failed(run, base, exc, notifier)
    except BackupExportError as exc:
        return _failed(run, base, exc, notifier)
    if isinstance(step, FoundCopied):
        return replace(base, outcome="already_copied")
    if isinstance(step, HandedOver):
        return replace(base, outcome="continued", size=step.size, parts=step.parts)
    return _published(run, base, step, notifier, clock)


def _published(run: CopyRun, base: CopyResult, step: Verified, notifier: Notifier | None,
               clock: Clock) -> CopyResult:
    """Record (ledger, heartbeat), notify, then stamp: a kill before the stamp loses nothing (see
    the module's docstring); then prune."""
    recorded = record_verified(run.store, run.settings, run.job)
    notifications = _send(notifier, _copied_event(run, step))
    try:
        run.stamp(step)
    except BackupExportError as exc:
        failed = _failed(run, base, exc, notifier)  # redelivered, it verifies, notifies and stamps again
        return replace(failed, notifications=notifications + failed.notifications)
    pruned = prune_copies(run.store, run.settings, run.job, clock.now())
    return replace(base, outcome="copied", size=step.size, sha256=step.sha256, parts=step.parts,
                   resumed_parts=step.resumed_parts or None, seconds=step.seconds,
                   throughput_mb_s=step.throughput_mb_s, pruned=pruned.deleted, prune_errors=pruned.errors,
                   notifications=notifications, heartbeat=recorded.heartbeat, ledger_error=recorded.ledger_error)


def _failed(run: CopyRun, base: CopyResult, exc: BackupExportError, notifier: Notifier | None) -> CopyResult:
    return replace(base, outcome="failed", error=CopyError.of(exc), notifications=_send(notifier, _failed_event(run, exc)))


def _send(notifier: Notifier | None, event: Any) -> tuple[dict[str, Any], ...]:
    """A notification never fails the copy: every problem becomes a result line."""
    if notifier is None:
        return ()
    try:
        results = notifier.send(event)
    except Exception as exc:  # the notifier promises not to raise; be sure of it
        log_event(logger, "notification crashed", logging.ERROR, error=type(exc).__name__)
        return ({"ok": False, "error": type(exc).__name__},)
    return tuple(_plain(r) for r in results or [])


def _plain(result: Any) -> dict[str, Any]:
    if is_dataclass(result) and not isinstance(result, type):
        return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                for k, v in asdict(result).items()}
    return dict(result) if isinstance(result, dict) else {"result": str(result)}


def _default_notifier(settings: Settings, job: CopyJob) -> Notifier | None:
    extra = _reply_targets(job, settings)
    if not settings.notify_targets and not extra:
        return None
    from shared.notify.delivery import Notifier as WebhookNotifier

    return WebhookNotifier.from_settings(settings, extra)


def _reply_targets(job: CopyJob, settings: Settings) -> list[NotifyTarget]:
    """The job's ``reply_to`` (a Slack slash command's response_url) as one more target, only
    on an allowed host: a URL from a message must not make this function post anywhere."""
    if not job.reply_to:
        return []
    from pydantic import ValidationError

    if not host_allowed(job.reply_to, settings.reply_host_allowlist):
        log_event(logger, "reply_to ignored: its host is not in REPLY_HOST_ALLOWLIST", logging.WARNING)
        return []
    try:
        return [NotifyTarget(url=job.reply_to, format="slack_reply")]
    except ValidationError:
        log_event(logger, "reply_to ignored: not a valid URL", logging.WARNING)
        return []


# --- the two notices ------------------------------------------------------------------------


def _copied_event(run: CopyRun, step: Verified) -> Any:
    job = run.job
    return copied_event(
        database_name=job.database_name, database_id=str(job.database_id), backup_id=str(job.backup_id),
        backup_created_at=job.backup_created_at, size=step.size, duration_seconds=step.seconds,
        bucket=run.store.bucket, key=run.key, endpoint_url=run.settings.s3_endpoint,
        sha256=step.sha256, run_id=job.run_id)


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
