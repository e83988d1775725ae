"""The steps of one copy invocation: ``CopyRun`` owns the multipart upload and aborts it on any failure.

Steps: a fresh link from the API (exported again when refused mid-copy) -> start or resume the
multipart upload -> stream the parts or hand over a continuation -> complete, verify and stamp
the SHA-256. Each returns what it did (``shared.copying.result``); the use case
(``shared.copying.run``) puts the answers together, prunes and notifies.
"""

from __future__ import annotations

import hashlib
import logging
from itertools import islice
from typing import Any, Callable

from shared import keys
from shared.clock import Clock
from shared.copying.engine import Progress, Transfer
from shared.parts import check_plan, iter_parts, multipart_etag, part_size_for
from shared.copying.ports import BackupSource, CopyStore, Requeue
from shared.copying.result import FoundCopied, HandedOver, Published, Step
from shared.errors import (DownloadHostNotAllowed, DownloadLinkExpired, ExportNotReady, HandoffError, IntegrityError,
                           InvalidRequest, StorageError)
from shared.models import Continuation, CopyJob, DatabaseBackup
from shared.observability import log_event
from shared.settings import Settings
from shared.urls import host_allowed

logger = logging.getLogger(__name__)

SAFETY_SECONDS = 30.0  # time kept back to complete, hand over and answer
MAX_REEXPORTS = 2  # a link refused mid-copy is replaced at most this many times per invocation


def verified(meta: dict[str, str], job: CopyJob) -> bool:
    """A verified copy of this job's backup is stored (``keys.is_verified_copy``)."""
    return keys.is_verified_copy(meta, backup_id=job.backup_id, size=job.size)


class CopyRun:
    """The steps of one invocation; it owns the multipart upload and aborts it on any failure."""

    def __init__(self, job: CopyJob, settings: Settings, api: BackupSource, store: CopyStore, transfer: Transfer,
                 remaining_time: Callable[[], float], requeue: Requeue | None, clock: Clock) -> None:
        self.job, self.settings, self.api, self.store, self.transfer = job, settings, api, store, transfer
        self.remaining_time, self.requeue, self.clock = remaining_time, requeue, clock
        self.started = clock.monotonic()
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

    def copy(self) -> Step:
        backup = self._link()
        probed, backup = self._on_live_link(backup, self.transfer.probe)
        size = self._size(backup, probed)
        self._start(size)
        try:
            run = lambda url: self.transfer.run(url, self.progress, self._part_url, self._should_stop)  # noqa: E731
            finished, backup = self._on_live_link(backup, run)
            return self._publish(size) if finished else self._hand_over()
        except BaseException:
            self._abort()
            raise

    # --- the link -------------------------------------------------------------------------

    def _link(self, stale: str | None = None) -> DatabaseBackup:
        """A usable link from the API, waiting no longer than this invocation can afford."""
        budget = min(self.settings.link_wait_seconds, self.remaining_time() - SAFETY_SECONDS)
        deadline = self.clock.monotonic() + max(0.0, budget)
        if stale:
            self.reexports += 1
            self.api.export_backup(self.job.backup_id, region=self.job.region)
        backup = self.api.wait_for_download_url(self.job.backup_id, deadline=deadline, region=self.job.region)
        while stale and backup.download_url == stale:  # the API may show the old link until the export ends
            if self.clock.monotonic() >= deadline:
                raise ExportNotReady(f"no new download link for backup {self.job.backup_id} in time")
            self.clock.sleep(min(2.0, max(0.0, deadline - self.clock.monotonic())))
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

    def _hand_over(self) -> HandedOver:
        assert self.progress is not None and self.upload_id is not None
        cont = Continuation(upload_id=self.upload_id, part_size=self.progress.part_size, parts=self.progress.parts)
        data = self.job.model_dump(mode="json") | {"attempt": self.job.attempt + 1, "continuation": cont.model_dump()}
        results = self.requeue.send([CopyJob.model_validate(data)]) if self.requeue else []
        if not results or not all(getattr(r, "ok", True) for r in results):
            raise HandoffError("the continuation could not be handed over")
        log_event(logger, "copy continued", key=self.key, parts_done=len(self.progress.parts))
        return HandedOver(size=self.progress.size, parts=len(self.progress.parts))

    def _publish(self, size: int) -> Published | FoundCopied:
        assert self.progress is not None and self.upload_id is not None
        parts = self.progress.parts
        self.store.complete(self.key, self.upload_id, [(p.part_number, p.etag) for p in parts])
        self.upload_id = None  # completed: nothing left to abort
        stored = self.store.head(self.key)
        # A concurrent delivery may have completed and stamped the key since our complete: its
        # stamp (a server-side copy) changes the ETag, so this check comes before the ETag's.
        if stored is not None and verified(stored.metadata, self.job):  # it notified, not us
            return FoundCopied()
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
                return FoundCopied()
            raise
        return Published(size=size, sha256=sha, parts=len(parts),
                         seconds=round(self.clock.monotonic() - self.started, 3),
                         throughput_mb_s=round(self.progress.bytes_per_second / 1e6, 2))

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
