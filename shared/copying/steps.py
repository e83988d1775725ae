"""The steps of one copy invocation: ``CopyRun`` owns the multipart upload and aborts it on any failure.

Steps: what the bucket holds (a verified copy ends the job; an unstamped one is verified by
reading it back; an open upload written to within ``live_window`` belongs to a live copy and
ends this delivery with ``CopyInProgress``) -> a link from the API (``LinkKeeper`` keeps it
alive) -> resume the upload the store holds (the continuation's, or the one a killed delivery
left) or start one -> stream the parts or hand over a continuation -> complete and verify.
Each returns what it did (``shared.copying.result``); the use case (``shared.copying.run``)
notifies, stamps (``publish.stamp``) and prunes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import islice
from typing import Any, Callable

from shared import keys
from shared.clock import Clock
from shared.copying import publish
from shared.copying.engine import Progress, Transfer
from shared.copying.links import LinkKeeper
from shared.copying.ports import BackupSource, CopyStore, Requeue
from shared.copying.result import FoundCopied, HandedOver, Step, Verified
from shared.copying.resume import read_back, stored_prefix
from shared.copying.sha256state import new_sha256, sha256_from_state, state_of
from shared.errors import (CopyInProgress, DownloadHostNotAllowed, DownloadLinkExpired, HandoffError, IntegrityError,
                           InvalidRequest, StorageError, UploadGone)
from shared.models import Continuation, CopyJob, DatabaseBackup, PartDone, as_utc
from shared.observability import log_event
from shared.parts import check_plan, iter_parts, part_count, part_size_for
from shared.settings import Settings
from shared.storage import OpenUpload, StoredObject
from shared.urls import host_allowed

logger = logging.getLogger(__name__)

OnProgress = Callable[[int, int], None]  # (bytes of the backup copied so far, its size)

SAFETY_SECONDS = 30.0  # time kept back to complete, hand over and answer
LIVE_UPLOAD_SECONDS = 300.0  # an open upload written to this recently belongs to a live copy


def live_window(settings: Settings) -> timedelta:
    """Longer than a live copy ever goes without writing a part (a link wait, then a part)."""
    return timedelta(seconds=max(LIVE_UPLOAD_SECONDS, settings.link_wait_seconds + 60))


def own_key(job: CopyJob, settings: Settings) -> str:
    """The key this job's backup is copied to, from the settings (never taken from the message)."""
    return keys.object_key(settings.backup_key_template, settings.backup_prefix, database_name=job.database_name,
                           database_id=job.database_id, backup_id=job.backup_id, created_at=job.backup_created_at,
                           project_id=str(job.project_id), region=job.region)


class CopyRun:
    """The steps of one invocation; it owns the multipart upload and aborts it on any failure."""

    def __init__(self, job: CopyJob, settings: Settings, api: BackupSource, store: CopyStore, transfer: Transfer,
                 remaining_time: Callable[[], float], requeue: Requeue | None, clock: Clock,
                 on_progress: OnProgress | None = None) -> None:
        self.job, self.settings, self.api, self.store, self.transfer = job, settings, api, store, transfer
        self.remaining_time, self.requeue, self.clock = remaining_time, requeue, clock
        self.on_progress = on_progress
        self.started = clock.monotonic()
        self.key = own_key(job, settings)
        self.found: StoredObject | None = None
        self.upload_id: str | None = None
        self.progress: Progress | None = None
        self.resumed_parts = 0
        self.links = LinkKeeper(api, job, clock, deadline=self._wait_deadline, check=self._check_backup)

    @property
    def reexports(self) -> int:
        return self.links.exports

    def already_copied(self) -> bool:
        self.found = None if self.job.force else self.store.head(self.key)
        done = self.found is not None and publish.verified(self.found.metadata, self.job)
        if done and self.job.continuation is not None:  # a late continuation: its upload is not needed
            self._abort(self.job.continuation.upload_id)
        return done

    def copy(self) -> Step:
        if publish.unstamped_copy(self.found, self.job):
            recovered = self._recover()
            if recovered is not None:
                return recovered
        uploads = self._open_uploads()
        backup = self.links.first()
        probed = self._on_live_link(self.transfer.probe)
        size = self._size(self.links.backup or backup, probed)
        self._start(size, uploads)
        heard = self._heard(size)
        try:
            finished = self._on_live_link(
                lambda _: self.transfer.run(self.links.for_next_part, self.progress, self._part_url, self._should_stop,
                                            on_bytes=heard))
            return self._complete(size) if finished else self._hand_over()
        except BaseException:
            self._abort()
            raise

    def _heard(self, size: int) -> Callable[[int], None] | None:
        """The engine's byte count as ``on_progress(done, size)``, starting from the parts resumed."""
        listener = self.on_progress
        if listener is None:
            return None
        assert self.progress is not None
        listener(sum(p.size for p in self.progress.parts), size)
        return lambda done: listener(done, size)

    # --- the link -------------------------------------------------------------------------

    def _wait_deadline(self) -> float:
        budget = min(self.settings.link_wait_seconds, self.remaining_time() - SAFETY_SECONDS)
        return self.clock.monotonic() + max(0.0, budget)

    def _check_backup(self, backup: DatabaseBackup) -> None:
        """The API's backup must be the job's, and its link on an allowed host."""
        created = self.job.backup_created_at
        if backup.database_id != self.job.database_id or (
                backup.created_at is not None and as_utc(backup.created_at) != as_utc(created)):
            raise InvalidRequest("the job's backup is not the API's: another database or another date")
        if not host_allowed(backup.download_url or "", self.settings.download_host_allowlist):
            raise DownloadHostNotAllowed("the download link's host is not in DOWNLOAD_HOST_ALLOWLIST")

    def _on_live_link(self, action: Callable[[str], Any]) -> Any:
        """Run ``action(url)``; a refused link is replaced (``LinkKeeper``) and the action carried on."""
        while True:
            try:
                return action(self.links.url)
            except DownloadLinkExpired:
                self.links.refused(self.links.url)

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

    # --- what the store holds ---------------------------------------------------------------

    def _recover(self) -> Verified | None:
        assert self.found is not None
        readback = publish.recover(self.store, self.found, self.transfer.verify_md5)
        if readback is None:
            return None
        log_event(logger, "an unstamped copy was verified by reading it back", key=self.key)
        parts = part_count(self.found.size, part_size_for(self.found.size))
        return Verified(size=self.found.size, sha256=readback.sha256, parts=parts, seconds=self._elapsed(),
                        throughput_mb_s=0.0, etag=self.found.etag, resumed_parts=parts)

    def _open_uploads(self) -> list[OpenUpload]:
        """Open uploads at the key; raises ``CopyInProgress`` when one is being written right now."""
        own = self.job.continuation.upload_id if self.job.continuation else None
        uploads = [u for u in self.store.list_open_uploads(prefix=self.key) if u.key == self.key]
        for upload in uploads:
            written = None if upload.upload_id == own else self.store.last_written(upload)
            if upload.upload_id != own and (written is None or self.clock.now() - as_utc(written) < live_window(self.settings)):
                raise CopyInProgress(f"another invocation is writing the copy at {self.key}: deliver this job again later")
        return uploads

    def _start(self, size: int, uploads: list[OpenUpload]) -> None:
        """Resume the continuation's upload, else the open upload with the most usable parts, else
        start one; every other open upload at the key is aborted (none is live: ``_open_uploads``)."""
        cont = self.job.continuation
        verdict = self._continuation_verdict(cont, size) if cont is not None else "restart"
        dropped = cont.upload_id if cont is not None and verdict == "restart" else None  # aborted, or gone
        carried = None
        if verdict == "resume":
            assert cont is not None
            chosen: tuple[str, int, list[PartDone]] | None = (cont.upload_id, cont.part_size, list(cont.parts))
            carried = sha256_from_state(cont.sha256_state, cont.bytes_done) if cont.sha256_state else None
        else:  # with "found", the continuation's upload is weighed like the others
            found = [(u.upload_id, self._usable_parts(u, size)) for u in uploads if u.upload_id != dropped]
            usable = [(upload_id, parts) for upload_id, parts in found if parts is not None]
            best = max(usable, key=lambda found: len(found[1]), default=None)
            chosen = (best[0], part_size_for(size), best[1]) if best else None
        for upload in uploads:
            if upload.upload_id not in (chosen[0] if chosen else None, dropped):
                self._abort(upload.upload_id)
        if chosen is None:
            storage_class = "STANDARD" if self._final_class == "GLACIER" else self._final_class
            chosen = (self.store.create_multipart(self.key, self._metadata(size), storage_class), part_size_for(size), [])
        self.upload_id, part_size, parts = chosen
        self.resumed_parts = len(parts)
        sha = carried if parts else new_sha256()  # without a carried state, stored bytes are read back
        self.progress = Progress(size, part_size, parts=parts, sha256=sha)
        if parts:
            log_event(logger, "copy resumed", key=self.key, parts_done=len(parts), sha256_carried=sha is not None)

    def _usable_parts(self, upload: OpenUpload, size: int) -> list[PartDone] | None:
        try:
            return stored_prefix(self.store.list_parts(self.key, upload.upload_id), size, part_size_for(size))
        except StorageError as exc:  # gone meanwhile, or unreadable: not worth resuming
            log_event(logger, "an open upload could not be listed", logging.WARNING, reason=exc.code)
            return None

    def _continuation_verdict(self, cont: Continuation, size: int) -> str:
        """``resume`` (the store holds exactly the continuation's parts, of the planned sizes),
        ``found`` (it holds more: a delivery of the same continuation went on, then stopped) or
        ``restart`` (its upload is gone, or does not match and was aborted). Raises
        ``CopyInProgress`` while a twin delivery is still writing that upload, and lets a
        transient listing error through: neither aborts anything."""
        try:
            check_plan(size, cont.part_size)  # first: a forged part size must not plan a billion parts
            held = self.store.list_parts(self.key, cont.upload_id)
        except UploadGone:
            log_event(logger, "the continuation's upload is gone: restarting", logging.WARNING)
            return "restart"
        except IntegrityError as exc:
            log_event(logger, "continuation unusable: restarting", logging.WARNING, reason=exc.code)
            self._abort(cont.upload_id)
            return "restart"
        planned = [(p.number, p.length) for p in islice(iter_parts(size, cont.part_size), len(cont.parts))]
        expected = [(p.part_number, p.etag, p.size) for p in cont.parts]
        if [(n, s) for n, _, s in expected] == planned and held[:len(expected)] == expected:
            if len(held) == len(expected):
                return "resume"
            written = self.store.last_written(OpenUpload(self.key, cont.upload_id, None))
            if written is None or self.clock.now() - as_utc(written) < live_window(self.settings):
                raise CopyInProgress(f"another delivery of this continuation is writing {self.key}: "
                                     "deliver this job again later")
            return "found"
        log_event(logger, "continuation does not match the store: restarting", logging.WARNING)
        self._abort(cont.upload_id)
        return "restart"

    # --- the upload -----------------------------------------------------------------------

    def _part_url(self, number: int) -> str:
        return self.store.upload_part_url(self.key, self.upload_id or "", number)

    def _should_stop(self, seconds_per_part: float) -> bool:
        return self.requeue is not None and self.remaining_time() < seconds_per_part + SAFETY_SECONDS

    def _hand_over(self) -> HandedOver:
        assert self.progress is not None and self.upload_id is not None
        sha = self.progress.sha256
        cont = Continuation(upload_id=self.upload_id, part_size=self.progress.part_size, parts=self.progress.parts,
                            sha256_state=state_of(sha) if sha is not None else None)
        data = self.job.model_dump(mode="json") | {"attempt": self.job.attempt + 1, "continuation": cont.model_dump()}
        results = self.requeue.send([CopyJob.model_validate(data)]) if self.requeue else []
        if not results or not all(getattr(r, "ok", True) for r in results):
            raise HandoffError("the continuation could not be handed over")
        log_event(logger, "copy continued", key=self.key, parts_done=len(self.progress.parts))
        return HandedOver(size=self.progress.size, parts=len(self.progress.parts))

    def _complete(self, size: int) -> Verified | FoundCopied:
        assert self.progress is not None and self.upload_id is not None
        parts = [(p.part_number, p.etag) for p in self.progress.parts]
        stored = publish.complete_and_check(self.store, self.key, self.job, self.upload_id, parts, size,
                                            self.transfer.verify_md5)
        self.upload_id = None  # completed: nothing left to abort
        if stored is None:  # a concurrent delivery stamped it: it notified, not us
            return FoundCopied()
        sha = self.progress.sha256
        digest = sha.hexdigest() if sha is not None else read_back(self.store.iter_object(self.key)).sha256
        return Verified(size=size, sha256=digest, parts=len(parts), seconds=self._elapsed(),
                        throughput_mb_s=round(self.progress.bytes_per_second / 1e6, 2), etag=stored.etag,
                        resumed_parts=self.resumed_parts)

    def stamp(self, step: Verified) -> bool:
        """Mark the verified object with its SHA-256 (and move it to its final storage class)."""
        return publish.stamp(self.store, self.key, self.job, self._metadata(step.size, step.sha256),
                             self._final_class, step.size, step.etag)

    def _abort(self, upload_id: str | None = None) -> None:
        upload_id = upload_id or self.upload_id
        if upload_id == self.upload_id:
            self.upload_id = None
        if upload_id:
            try:
                self.store.abort(self.key, upload_id)
            except StorageError as exc:
                log_event(logger, "abort failed", logging.ERROR, key=self.key, code=exc.code)

    def _elapsed(self) -> float:
        return round(self.clock.monotonic() - self.started, 3)

    @property
    def _final_class(self) -> str:
        return self.settings.backup_storage_class

    def _metadata(self, size: int, sha256: str | None = None) -> dict[str, str]:
        job = self.job
        return keys.copy_metadata(backup_id=job.backup_id, database_id=job.database_id,
                                  database_name=job.database_name, created_at=job.backup_created_at,
                                  size=size, db_size=job.db_size, sha256=sha256)
