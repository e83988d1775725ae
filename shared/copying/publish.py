"""The end of a copy: complete the upload, verify the object, stamp its SHA-256.

The stamp (``sdb-sha256`` in the metadata, written by a server-side copy onto itself) is what
marks a verified copy; it comes last, after the success notice (``shared.copying.run``), so a
copy killed in between is found unstamped by the next delivery, which verifies it again by
reading it back (``recover``), notifies and stamps: a success notice is never lost.
"""

from __future__ import annotations

import logging

from shared import keys
from shared.copying.ports import CopyStore
from shared.copying.resume import ReadBack, read_back
from shared.errors import IntegrityError, StorageError
from shared.models import CopyJob
from shared.observability import log_event
from shared.parts import multipart_etag, part_size_for
from shared.storage import StoredObject

logger = logging.getLogger(__name__)


def verified(meta: dict[str, str], job: CopyJob) -> bool:
    """A verified copy of this job's backup is stored (``keys.is_verified_copy``)."""
    return keys.is_verified_copy(meta, backup_id=job.backup_id, size=job.size)


def unstamped_copy(found: StoredObject | None, job: CopyJob) -> bool:
    """An object an earlier delivery of this job completed but did not stamp: ours, this backup,
    of the size its metadata (and the job, when it knows) says, without a SHA-256."""
    if found is None or verified(found.metadata, job):
        return False
    meta = found.metadata
    return (meta.get(keys.META_BACKUP_ID) == str(job.backup_id) and meta.get(keys.META_SIZE) == str(found.size)
            and (job.size is None or job.size == found.size) and found.size > 0)


def recover(store: CopyStore, found: StoredObject, verify_md5: bool) -> ReadBack | None:
    """Read an unstamped object back; its SHA-256 when its bytes match the ETag the store built
    from the parts (each of which was checked against the bytes sent), else None (it was removed)."""
    readback = read_back(store.iter_object(found.key), part_size_for(found.size) if verify_md5 else None)
    if readback.size == found.size and (not verify_md5 or readback.multipart_etag() == found.etag):
        return readback
    log_event(logger, "an unstamped object does not match its parts: removed", logging.WARNING, key=found.key)
    remove_quietly(store, found.key)
    return None


def complete_and_check(store: CopyStore, key: str, job: CopyJob, upload_id: str, parts: list[tuple[int, str]],
                       size: int, verify_md5: bool) -> StoredObject | None:
    """Complete the upload and check the object: None when a concurrent delivery has stamped it
    meanwhile (its stamp changes the ETag, so that is checked first)."""
    store.complete(key, upload_id, parts)
    stored = store.head(key)
    if stored is not None and verified(stored.metadata, job):
        return None
    if stored is None or stored.size != size or (verify_md5 and stored.etag != multipart_etag([e for _, e in parts])):
        remove_quietly(store, key)
        raise IntegrityError("the completed object is not what was uploaded; it was removed")
    return stored


def stamp(store: CopyStore, key: str, job: CopyJob, metadata: dict[str, str], storage_class: str, size: int,
          etag: str) -> bool:
    """Write the SHA-256 into the metadata of the object verified with ``etag``. False when a
    concurrent delivery stamped it first (the same bytes: not a failure)."""
    try:
        store.replace_metadata(key, metadata, storage_class, size, if_match=etag)
    except StorageError:
        again = store.head(key)
        if again is not None and verified(again.metadata, job):
            return False
        raise
    return True


def remove_quietly(store: CopyStore, key: str) -> None:
    try:
        store.delete(key)
    except StorageError as exc:
        log_event(logger, "delete of a bad copy failed", logging.ERROR, key=key, code=exc.code)
