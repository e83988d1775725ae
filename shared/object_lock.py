"""Object Lock: the retention a published copy gets, and the chores of the versioned bucket it needs.

A bucket gets Object Lock only when it is created, and Object Lock turns versioning on. Parts
are streamed through presigned PUTs and S3 wants a checksum header on every part of an upload
that carries a retention (a streamed part has none before its bytes are sent), so the upload
itself carries none: the retention is given by the server-side copy of the object onto itself
that publishes it with its SHA-256 (``shared.storage.ObjectStore.replace_metadata``). That copy
has no body; some S3 servers still want a checksum header on a write with Object Lock
parameters, so it carries the MD5 of its empty body. The unverified version the upload left
behind is then deleted, so a locked copy is stored once, not twice.

These helpers receive the boto3 client; botocore errors become ``shared.errors``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.aws import error_code
from shared.errors import ObjectLockNotEnabled, StorageError

Mode = str  # "GOVERNANCE" | "COMPLIANCE" (checked by the settings)
EMPTY_BODY_MD5 = base64.b64encode(hashlib.md5(b"").digest()).decode()  # noqa: S324 (a header, not security)
_NO_CONFIGURATION = "ObjectLockConfigurationNotFoundError"


@dataclass(frozen=True)
class ObjectLock:
    """``OBJECT_LOCK_MODE`` and ``OBJECT_LOCK_DAYS``: each published copy is kept that long."""

    mode: Mode
    days: int

    def until(self, now: datetime) -> datetime:
        return now + timedelta(days=self.days)

    def copy_arguments(self, now: datetime) -> dict[str, Any]:
        return {"ObjectLockMode": self.mode, "ObjectLockRetainUntilDate": self.until(now)}


def check_lock_enabled(s3: Any, bucket: str) -> None:
    """Raise ``ObjectLockNotEnabled`` when the bucket has no Object Lock, saying how to get it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = s3.get_object_lock_configuration(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) != _NO_CONFIGURATION:
            raise StorageError(f"reading the Object Lock configuration of {bucket!r} failed: {error_code(exc)}") from exc
        answer = {}
    except BotoCoreError as exc:
        raise StorageError(f"reading the Object Lock configuration of {bucket!r} failed: {error_code(exc)}") from exc
    if (answer.get("ObjectLockConfiguration") or {}).get("ObjectLockEnabled") != "Enabled":
        raise ObjectLockNotEnabled(
            f"OBJECT_LOCK_MODE is set but bucket {bucket!r} has no Object Lock. Object Lock can only be turned "
            "on when a bucket is created: create a new bucket with Object Lock enabled (console, or "
            "create-bucket --object-lock-enabled-for-bucket) and point BACKUP_BUCKET at it, or unset "
            "OBJECT_LOCK_MODE and OBJECT_LOCK_DAYS")


def add_empty_body_md5(s3: Any) -> None:
    """Body-less copies (CopyObject, UploadPartCopy) carry the MD5 of their empty body."""

    def add(request: Any, **_: Any) -> None:
        if not request.body and "Content-MD5" not in request.headers:
            request.headers["Content-MD5"] = EMPTY_BODY_MD5

    for operation in ("CopyObject", "UploadPartCopy"):
        s3.meta.events.register(f"before-sign.s3.{operation}", add, unique_id=f"sdb-empty-md5-{operation}")


def versions_of(s3: Any, bucket: str, key: str) -> list[str]:
    """Every version id (delete markers included) of exactly ``key``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
        entries = [e for page in pages for kind in ("Versions", "DeleteMarkers") for e in page.get(kind, [])]
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"list versions failed for {key!r}: {error_code(exc)}") from exc
    return [e["VersionId"] for e in entries if e.get("Key") == key and e.get("VersionId")]


def delete_version(s3: Any, bucket: str, key: str, version_id: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"delete of a version of {key!r} failed: {error_code(exc)}") from exc


def drop_other_versions(s3: Any, bucket: str, key: str, keep: str | None) -> int:
    """Delete the versions of ``key`` other than ``keep`` that may go (the unverified upload);
    a locked one (another delivery's published copy) stays. Returns how many stayed."""
    stayed = 0
    for version_id in versions_of(s3, bucket, key):
        if version_id == keep:
            continue
        try:
            delete_version(s3, bucket, key, version_id)
        except StorageError:
            stayed += 1  # locked, or the store refused: an extra version costs space, not safety
    return stayed
