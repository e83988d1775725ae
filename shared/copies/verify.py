"""Verify a copy by reading it back: the stored bytes, streamed once, against the size and the
SHA-256 its metadata recorded when it was written. Nothing is held in memory or on disk.

``tee`` receives every chunk as it is read, so one pass can also feed another check (the
restore check pipes the same stream into ``pg_restore --list``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from shared import keys
from shared.copies.listing import Copy, copy_from
from shared.errors import BackupExportError, CopyNotFound, IntegrityError
from shared.storage import StoredObject

CHUNK = 1 << 20
Tee = Callable[[bytes], None]
Progress = Callable[[int], None]


class ObjectReader(Protocol):
    def head(self, key: str) -> StoredObject | None: ...
    def iter_object(self, key: str, chunk: int = CHUNK, *, start: int = 0,
                    if_match: str | None = None) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class Verification:
    key: str
    ok: bool
    problem: str | None = None  # not_found | not_a_copy | unverified | size_mismatch | checksum_mismatch | <error code>
    message: str | None = None
    size: int | None = None  # bytes read back
    expected_size: int | None = None
    sha256: str | None = None  # of the bytes read back
    expected_sha256: str | None = None
    database_name: str | None = None
    backup_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "ok": self.ok, "problem": self.problem, "message": self.message,
                "database_name": self.database_name, "backup_id": self.backup_id, "size": self.size,
                "expected_size": self.expected_size, "sha256": self.sha256, "expected_sha256": self.expected_sha256}


def find_copy(store: ObjectReader, key: str) -> Copy:
    """The copy at ``key``: ``CopyNotFound`` when nothing is there, ``IntegrityError`` when the
    object is not one of our verified copies."""
    obj = store.head(key)
    if obj is None:
        raise CopyNotFound(f"no object at {key!r} in the bucket")
    refusal = why_unverified(obj)
    if refusal is not None:
        raise IntegrityError(refusal[1])
    return copy_from(obj)


def why_unverified(obj: StoredObject) -> tuple[str, str] | None:
    """``(problem, message)`` when the object is not a verified copy of ours, else None."""
    if not keys.is_ours(obj.metadata):
        return "not_a_copy", f"{obj.key!r} is not a copy made by this tool (no {keys.META_BACKUP_ID} metadata)"
    if not obj.metadata.get(keys.META_SHA256):
        return "unverified", f"{obj.key!r} is not a verified copy (no {keys.META_SHA256} metadata)"
    return None


def verify_key(store: ObjectReader, key: str, *, tee: Tee | None = None,
               progress: Progress | None = None) -> Verification:
    """Look the key up, then ``verify_copy``; a missing or foreign object is a failed verification."""
    obj = store.head(key)
    if obj is None:
        return Verification(key, False, "not_found", f"no object at {key!r} in the bucket")
    refusal = why_unverified(obj)
    if refusal is not None:
        return Verification(key, False, *refusal)
    return verify_copy(store, copy_from(obj), tee=tee, progress=progress)


def verify_copy(store: ObjectReader, copy: Copy, *, tee: Tee | None = None,
                progress: Progress | None = None) -> Verification:
    expected_size = copy.recorded_size if copy.recorded_size is not None else copy.size
    base = dict(key=copy.key, expected_size=expected_size, expected_sha256=copy.sha256,
                database_name=copy.database_name, backup_id=copy.backup_id)
    try:
        size, sha = read_back(store, copy, tee=tee, progress=progress)
    except BackupExportError as exc:
        return Verification(ok=False, problem=exc.code, message=exc.message, **base)
    base.update(size=size, sha256=sha)
    if size != expected_size or size != copy.size:
        return Verification(ok=False, problem="size_mismatch",
                            message=f"read {size} bytes, the copy recorded {expected_size}", **base)
    if sha != copy.sha256:
        return Verification(ok=False, problem="checksum_mismatch",
                            message="the SHA-256 of the stored bytes differs from the one recorded", **base)
    return Verification(ok=True, **base)


def read_back(store: ObjectReader, copy: Copy, *, tee: Tee | None = None,
              progress: Progress | None = None) -> tuple[int, str]:
    """Stream the object once (as it was when listed: ``If-Match`` its ETag): its size and SHA-256."""
    digest, size = hashlib.sha256(), 0
    for chunk in store.iter_object(copy.key, CHUNK, if_match=copy.etag or None):
        digest.update(chunk)
        size += len(chunk)
        if tee is not None:
            tee(chunk)
        if progress is not None:
            progress(len(chunk))
    return size, digest.hexdigest()
