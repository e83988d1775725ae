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
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime, timezone
from itertools import islice
from typing import Any, Callable, Protocol

from shared import keys, notify
from shared.errors import (BackupExportError, DeadlineExceeded, DownloadHostNotAllowed, DownloadLinkExpired,
                           ExportNotReady, HandoffError, IntegrityError, InvalidRequest, StorageError)
from shared.models import Continuation, CopyJob, DatabaseBackup
from shared.observability import log_event
from shared.parts import check_plan, iter_parts, multipart_etag, part_size_for
from shared.retention import StoredCopy, select_for_pruning
from shared.settings import Settings
from shared.storage import ObjectStore, StoredObject
from shared.transfer import Progress, Transfer, host_allowed, transfer_clients

logger = logging.getLogger(__name__)

SAFETY_SECONDS = 30.0  # time kept back to complete, hand over and answer
MAX_REEXPORTS = 2  # a link refused mid-copy is replaced at most this many times per invocation


class Requeue(Protocol):
    def send(self, jobs: list[CopyJob]) -> Any: ...


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
    api: Any  # shared.scaleway.ScalewayClient or anything with its backup methods
    store: ObjectStore
    transfer: Transfer

    @classmethod
    def from_settings(cls, settings: Settings) -> "CopyClients":
        from shared.scaleway import ScalewayClient

        download, upload = transfer_clients()
        return cls(ScalewayClient.from_settings(settings), ObjectStore.from_settings(settings),
                   Transfer(download, upload, verify_md5=settings.verify_part_md5))

    def close(self) -> None:
        for client in (self.api, self.transfer.download, self.transfer.upload):
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
    notifier = notifier if notifier is not None else _default_notifier(settings)
    try:
        run = CopyRun(job, settings, clients.api, clients.store, clients.transfer,
                      remaining_time or function_budget(settings.function_timeout_seconds), requeue)
        return _execute(run, notifier)
    finally:
        if own_clients:
            clients.close()
        if own_notifier and notifier is not None:
            notifier.close()


def _execute(run: "CopyRun", notifier: Any) -> CopyReport:
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
                report.notifications = _send(notifier, run.copied_event(report))
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


def _fail(run: "CopyRun", report: CopyReport, exc: BackupExportError, notifier: Any) -> None:
    report.outcome = "failed"
    report.error = _error(exc)
    report.status_code = 503 if exc.retryable and not _past(run.job.deadline) else 200
    report.notifications = _send(notifier, run.failed_event(exc))


def _error(exc: BackupExportError) -> dict[str, Any]:
    return {"code": exc.code, "message": exc.message, "retryable": exc.retryable}


def _past(moment: datetime) -> bool:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return aware <= datetime.now(timezone.utc)


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


def _default_notifier(settings: Settings) -> Any:
    if not settings.notify_target_list:
        return None
    from shared.notify import Notifier

    return Notifier.from_settings(settings)


def verified(meta: dict[str, str], job: CopyJob) -> bool:
    """A complete, verified copy of this job's backup (a job without a size trusts the stored one)."""
    stored = meta.get(keys.META_SIZE, "")
    size = job.size if job.size is not None else (int(stored) if stored.isdigit() else None)
    return keys.is_complete_copy(meta, backup_id=job.backup_id, size=size)


class CopyRun:
    """The steps of one invocation; it owns the multipart upload and aborts it on any failure."""

    def __init__(self, job: CopyJob, settings: Settings, api: Any, store: ObjectStore, transfer: Transfer,
                 remaining_time: Callable[[], float], requeue: Requeue | None) -> None:
        self.job, self.settings, self.api, self.store, self.transfer = job, settings, api, store, transfer
        self.remaining_time, self.requeue = remaining_time, requeue
        self.started = time.monotonic()
        self.key = job.object_key
        self.upload_id: str | None = None
        self.progress: Progress | None = None
        self.reexports = 0

    def already_copied(self) -> bool:
        found = None if self.job.force else self.store.head(self.key)
        done = found is not None and verified(found.metadata, self.job)
        if done and self.job.continuation is not None:  # a late continuation: its upload is not needed
            self._abort(self.job.continuation.upload_id)
        return done

    def copy(self, report: CopyReport) -> None:
        backup = self._link()
        probed, backup = self._on_live_link(backup, self.transfer.probe)
        size = self._size(backup, probed)
        self._start(size)
        try:
            run = lambda url: self.transfer.run(url, self.progress, self._part_url, self._should_stop)  # noqa: E731
            finished, backup = self._on_live_link(backup, run)
            if finished:
                self._publish(report, size)
            else:
                self._hand_over(report)
        except BaseException:
            self._abort()
            raise

    # --- the link -------------------------------------------------------------------------

    def _link(self, stale: str | None = None) -> DatabaseBackup:
        """A usable link from the API, waiting no longer than this invocation can afford."""
        budget = min(self.settings.link_wait_seconds, self.remaining_time() - SAFETY_SECONDS)
        deadline = time.monotonic() + max(0.0, budget)
        if stale:
            self.reexports += 1
            self.api.export_backup(self.job.backup_id, region=self.job.region)
        backup = self.api.wait_for_download_url(self.job.backup_id, deadline=deadline, region=self.job.region)
        while stale and backup.download_url == stale:  # the API may show the old link until the export ends
            if time.monotonic() >= deadline:
                raise ExportNotReady(f"no new download link for backup {self.job.backup_id} in time")
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
            backup = self.api.wait_for_download_url(self.job.backup_id, deadline=deadline, region=self.job.region)
        if backup.database_id != self.job.database_id:
            raise InvalidRequest("the job's backup belongs to another database")
        if not host_allowed(backup.download_url or "", self.settings.download_host_allowlist):
            raise DownloadHostNotAllowed("the download link's host is not in DOWNLOAD_HOST_ALLOWLIST")
        return backup

    def _on_live_link(self, backup: DatabaseBackup, action: Callable[[str], Any]) -> tuple[Any, DatabaseBackup]:
        """Run ``action(url)``; a refused link is exported again and the action carried on."""
        while True:
            try:
                return action(backup.download_url or ""), backup
            except DownloadLinkExpired:
                if self.reexports >= MAX_REEXPORTS:
                    raise
                log_event(logger, "download link refused: exporting again", backup_id=str(self.job.backup_id))
                backup = self._link(stale=backup.download_url)

    def _size(self, backup: DatabaseBackup, probed: int | None) -> int:
        size = backup.size if backup.size is not None else self.job.size
        size = probed if size is None else size
        if size is None:
            raise IntegrityError("neither the API nor the download link gives the backup's size")
        if probed is not None and probed != size:
            raise IntegrityError(f"the download is {probed} bytes, the backup {size}")
        if size == 0:
            raise IntegrityError("the backup is empty")
        return size

    # --- the upload -----------------------------------------------------------------------

    def _start(self, size: int) -> None:
        cont = self.job.continuation
        if cont is not None and self._resumable(cont, size):
            self.upload_id = cont.upload_id
            self.progress = Progress(size, cont.part_size, parts=list(cont.parts), sha256=None)
            log_event(logger, "copy resumed", key=self.key, parts_done=len(cont.parts))
            return
        storage_class = "STANDARD" if self._final_class == "GLACIER" else self._final_class
        self.upload_id = self.store.create_multipart(self.key, self._metadata(size), storage_class)
        self.progress = Progress(size, part_size_for(size), sha256=hashlib.sha256())

    def _resumable(self, cont: Continuation, size: int) -> bool:
        """The store must hold exactly the continuation's parts, of the planned sizes."""
        try:
            check_plan(size, cont.part_size)  # first: a forged part size must not plan a billion parts
            held = self.store.list_parts(self.key, cont.upload_id)
        except (IntegrityError, StorageError) as exc:
            log_event(logger, "continuation unusable: restarting", logging.WARNING, reason=exc.code)
            self._abort(cont.upload_id)
            return False
        planned = [(p.number, p.length) for p in islice(iter_parts(size, cont.part_size), len(cont.parts))]
        expected = [(p.part_number, p.etag, p.size) for p in cont.parts]
        if held != expected or [(n, s) for n, _, s in expected] != planned:
            log_event(logger, "continuation does not match the store: restarting", logging.WARNING)
            self._abort(cont.upload_id)
            return False
        return True

    def _part_url(self, number: int) -> str:
        return self.store.upload_part_url(self.key, self.upload_id or "", number)

    def _should_stop(self, seconds_per_part: float) -> bool:
        return self.requeue is not None and self.remaining_time() < seconds_per_part + SAFETY_SECONDS

    def _hand_over(self, report: CopyReport) -> None:
        assert self.progress is not None and self.upload_id is not None
        cont = Continuation(upload_id=self.upload_id, part_size=self.progress.part_size, parts=self.progress.parts)
        data = self.job.model_dump(mode="json") | {"attempt": self.job.attempt + 1, "continuation": cont.model_dump()}
        results = self.requeue.send([CopyJob.model_validate(data)]) if self.requeue else []
        if not results or not all(getattr(r, "ok", True) for r in results):
            raise HandoffError("the continuation could not be handed over")
        report.outcome, report.status_code = "continued", 202
        report.parts, report.size = len(self.progress.parts), self.progress.size
        log_event(logger, "copy continued", key=self.key, parts_done=len(self.progress.parts))

    def _publish(self, report: CopyReport, size: int) -> None:
        assert self.progress is not None and self.upload_id is not None
        parts = self.progress.parts
        self.store.complete(self.key, self.upload_id, [(p.part_number, p.etag) for p in parts])
        self.upload_id = None  # completed: nothing left to abort
        stored = self.store.head(self.key)
        # A concurrent delivery may have completed and stamped the key since our complete: its
        # stamp (a server-side copy) changes the ETag, so this check comes before the ETag's.
        if stored is not None and verified(stored.metadata, self.job):  # it notified, not us
            report.outcome = "already_copied"
            return
        if stored is None or stored.size != size or (
                self.transfer.verify_md5 and stored.etag != multipart_etag([p.etag for p in parts])):
            self._delete_quietly()
            raise IntegrityError("the completed object is not what was uploaded; it was removed")
        sha = self.progress.sha256.hexdigest() if self.progress.sha256 is not None else self._read_back()
        try:
            self.store.replace_metadata(self.key, self._metadata(size, sha), self._final_class, size,
                                        if_match=stored.etag)
        except StorageError:
            again = self.store.head(self.key)  # lost the race to a concurrent stamp: not a failure
            if again is not None and verified(again.metadata, self.job):
                report.outcome = "already_copied"
                return
            raise
        seconds = time.monotonic() - self.started
        report.outcome, report.size, report.sha256, report.parts = "copied", size, sha, len(parts)
        report.seconds = round(seconds, 3)
        report.throughput_mb_s = round(self.progress.bytes_per_second / 1e6, 2)
        self._prune(report)

    def _read_back(self) -> str:
        """SHA-256 of a copy made over several invocations, from the stored bytes."""
        digest = hashlib.sha256()
        for chunk in self.store.iter_object(self.key):
            digest.update(chunk)
        return digest.hexdigest()

    def _abort(self, upload_id: str | None = None) -> None:
        upload_id = upload_id or self.upload_id
        self.upload_id = None
        if upload_id:
            try:
                self.store.abort(self.key, upload_id)
            except StorageError as exc:
                log_event(logger, "abort failed", logging.ERROR, key=self.key, code=exc.code)

    def _delete_quietly(self) -> None:
        try:
            self.store.delete(self.key)
        except StorageError as exc:
            log_event(logger, "delete of a bad copy failed", logging.ERROR, key=self.key, code=exc.code)

    @property
    def _final_class(self) -> str:
        return self.settings.backup_storage_class

    def _metadata(self, size: int, sha256: str | None = None) -> dict[str, str]:
        job = self.job
        return keys.copy_metadata(backup_id=job.backup_id, database_id=job.database_id,
                                  database_name=job.database_name, created_at=job.backup_created_at,
                                  size=size, db_size=job.db_size, sha256=sha256)

    # --- after the copy -------------------------------------------------------------------

    def _prune(self, report: CopyReport) -> None:
        """Retention never fails the copy: problems are logged and reported."""
        s = self.settings
        if s.keep_last is None and s.keep_days is None:
            return
        try:
            prefix = keys.database_prefix(s.backup_key_template, s.backup_prefix,
                                          database_name=self.job.database_name, database_id=self.job.database_id)
            mine = [_stored_copy(o) for o in self.store.list_copies(prefix)
                    if o.metadata.get(keys.META_DATABASE_ID) == str(self.job.database_id)
                    and o.metadata.get(keys.META_SHA256)]
            doomed = select_for_pruning(mine, keep_last=s.keep_last, keep_days=s.keep_days,
                                        now=datetime.now(timezone.utc), protect={self.key})
        except BackupExportError as exc:
            report.prune_errors.append(exc.code)
            log_event(logger, "pruning skipped", logging.ERROR, code=exc.code)
            return
        for copy in doomed:
            try:
                self.store.delete(copy.key)
                report.pruned.append(copy.key)
            except StorageError as exc:
                report.prune_errors.append(f"{copy.key}: {exc.code}")
        log_event(logger, "pruned", deleted=len(report.pruned), errors=len(report.prune_errors))

    def copied_event(self, report: CopyReport) -> Any:
        job = self.job
        return notify.copied_event(
            database_name=job.database_name, database_id=str(job.database_id), backup_id=str(job.backup_id),
            backup_created_at=job.backup_created_at, size=report.size or 0, duration_seconds=report.seconds or 0.0,
            bucket=self.store.bucket, key=self.key, endpoint_url=self.settings.s3_endpoint,
            sha256=report.sha256 or "", run_id=job.run_id)

    def failed_event(self, exc: BackupExportError) -> Any:
        job, progress = self.job, self.progress
        done = (f"{len(progress.parts)} part(s) uploaded, then the multipart upload was aborted" if progress
                else "nothing was uploaded")
        tried = (f"copy to s3://{self.store.bucket}/{self.key}, attempt {job.attempt}, "
                 f"{self.reexports} new export(s), {done}")
        return notify.failed_event(
            database_name=job.database_name, database_id=str(job.database_id), backup_id=str(job.backup_id),
            error_code=exc.code, error_message=exc.message, tried=tried, run_id=job.run_id,
            backup_created_at=job.backup_created_at, size=progress.size if progress else job.size,
            bucket=self.store.bucket, key=self.key, endpoint_url=self.settings.s3_endpoint)


def _stored_copy(obj: StoredObject) -> StoredCopy:
    raw = obj.metadata.get(keys.META_CREATED_AT, "")
    try:
        created = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        created = None
    created = created or obj.last_modified or datetime.fromtimestamp(0, timezone.utc)
    return StoredCopy(key=obj.key, backup_id=obj.metadata.get(keys.META_BACKUP_ID, ""), created_at=created,
                      size=obj.size)
