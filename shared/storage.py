"""Object storage adapter: the only code that talks to S3 through boto3.

``ObjectStore`` receives a boto3 S3 client (tests pass one pointed at moto); ``from_settings``
builds the real one lazily with the checksum settings Scaleway needs: boto3 >= 1.36 would
otherwise send ``aws-chunked`` bodies with an ``x-amz-trailer`` that Scaleway rejects.
Every botocore error becomes a ``StorageError`` (``from exc``); messages name the key, never
a URL. Part bodies do not go through boto3 at all: ``upload_part_url`` presigns a PUT that
``shared.copying.engine`` streams to. With ``OBJECT_LOCK_MODE`` the store gives each published
copy its retention (``shared.object_lock``) and deletes all the versions of a pruned copy.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator

from shared import object_lock
from shared.aws import client_config, error_code
from shared.clock import utcnow
from shared.errors import ConfigurationError, StorageError, UploadGone
from shared.keys import is_ours
from shared.ledger import FOLDER as LEDGER_FOLDER
from shared.object_lock import ObjectLock
from shared.parts import MAX_PART_SIZE, iter_parts, part_size_for

if TYPE_CHECKING:
    from shared.settings import Settings

PRESIGN_SECONDS = 3600
COPY_PART_SIZE = 1 << 30  # server-side copy parts: few requests, each well within the read timeout


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    etag: str
    metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    last_modified: datetime | None = None
    lock_mode: str | None = None  # Object Lock retention: GOVERNANCE or COMPLIANCE
    lock_until: datetime | None = None
    legal_hold: bool = False


@dataclass(frozen=True)
class OpenUpload:
    key: str
    upload_id: str
    initiated: datetime | None = None


def s3_config(**overrides: Any) -> Any:
    """Path-style SigV4 with Scaleway's checksum settings (``shared.aws.client_config``)."""
    return client_config(signature_version="s3v4", s3={"addressing_style": "path"}, **overrides)


@contextmanager
def _translated(operation: str, key: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise StorageError(f"{operation} failed for {key!r}: {error_code(exc)}") from exc


def _strip(etag: str) -> str:
    return etag.strip('"')


class ObjectStore:
    def __init__(self, s3_client: Any, bucket: str, *, copy_limit: int = MAX_PART_SIZE,
                 copy_part_size: int = COPY_PART_SIZE, lock: ObjectLock | None = None,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.s3 = s3_client
        self.bucket = bucket
        self.copy_limit = copy_limit  # the largest object one CopyObject may copy
        self.copy_part_size = copy_part_size
        self.lock = lock
        self._now = now
        self._lock_checked = False
        if lock is not None:
            object_lock.add_empty_body_md5(s3_client)

    @classmethod
    def from_settings(cls, settings: "Settings", *, max_attempts: int | None = None) -> "ObjectStore":
        """``max_attempts`` lowers botocore's retries (a terminal should hear of a dead endpoint soon)."""
        if not settings.backup_bucket:
            raise ConfigurationError("BACKUP_BUCKET is not set")
        import boto3  # lazy: heavy, and some paths never touch storage

        key, secret = settings.s3_credentials
        if bool(key) != bool(secret):  # botocore would fail with its own error: name the settings instead
            missing = "S3_ACCESS_KEY (or SCALEWAY_ACCESS_KEY)" if secret else "S3_SECRET_KEY (or SCALEWAY_SECRET_KEY)"
            raise ConfigurationError(f"{missing} is not set")
        retries = {"retries": {"mode": "standard", "max_attempts": max_attempts}} if max_attempts else {}
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region_name,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=s3_config(**retries),
        )
        lock = None
        if settings.object_lock_mode and settings.object_lock_days:
            lock = ObjectLock(settings.object_lock_mode, settings.object_lock_days)
        return cls(client, settings.backup_bucket, lock=lock)

    def close(self) -> None:
        """Release the client's connection pool (a warm instance builds a new store per job)."""
        self.s3.close()

    def check_bucket(self) -> None:
        """The bucket exists and answers us: checked before anything is exported."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                raise ConfigurationError("BACKUP_BUCKET names a bucket that does not exist at S3_ENDPOINT_URL") from exc
            if error_code(exc) in ("403", "AccessDenied", "Forbidden"):
                raise StorageError("the bucket refuses these S3 credentials (AccessDenied)") from exc
            raise StorageError(f"bucket check failed: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"bucket check failed: {error_code(exc)}") from exc

    # --- objects ---------------------------------------------------------------------------

    def head(self, key: str) -> StoredObject | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(f"head failed for {key!r}: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"head failed for {key!r}: {error_code(exc)}") from exc
        return StoredObject(
            key=key,
            size=int(resp.get("ContentLength", 0)),
            etag=_strip(resp.get("ETag", "")),
            metadata={k.lower(): v for k, v in (resp.get("Metadata") or {}).items()},
            storage_class=resp.get("StorageClass") or "STANDARD",
            last_modified=resp.get("LastModified"),
            lock_mode=resp.get("ObjectLockMode"),
            lock_until=resp.get("ObjectLockRetainUntilDate"),
            legal_hold=resp.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, all pages (1,000 keys a request)."""
        with _translated("list", prefix):
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def list_copies(self, prefix: str) -> list[StoredObject]:
        """Our copies under ``prefix`` (recognised by metadata; anything else is left alone)."""
        found: list[StoredObject] = []
        for key in self.list_keys(prefix):
            if LEDGER_FOLDER in key.split("/"):
                continue  # the ledger's markers (shared.ledger), never a copy
            obj = self.head(key)
            if obj is not None and is_ours(obj.metadata):
                found.append(obj)
        return found

    def put_marker(self, key: str) -> None:
        """An empty object (a ledger entry). Its MD5 is sent: a bucket's default retention wants one."""
        with _translated("put", key):
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"", ContentMD5=object_lock.EMPTY_BODY_MD5,
                               ContentType="application/octet-stream")

    def delete(self, key: str) -> None:
        """Delete ``key``; with Object Lock (a versioned bucket) every version of it, so the space is
        freed: a locked version makes it fail (pruning never asks for one)."""
        if self.lock is not None:
            for version_id in object_lock.versions_of(self.s3, self.bucket, key):
                object_lock.delete_version(self.s3, self.bucket, key, version_id)
            return
        with _translated("delete", key):
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def check_object_lock(self) -> None:
        """With ``OBJECT_LOCK_MODE``: the bucket must have Object Lock (``ObjectLockNotEnabled``)."""
        if self.lock is not None and not self._lock_checked:
            object_lock.check_lock_enabled(self.s3, self.bucket)
            self._lock_checked = True

    def iter_object(self, key: str, chunk: int = 1 << 20, *, start: int = 0,
                    if_match: str | None = None) -> Iterator[bytes]:
        """The stored bytes from ``start``, streamed. ``if_match`` (an ETag) fails the read
        with a ``StorageError`` when the object was replaced since it was looked at."""
        extra: dict[str, str] = {"Range": f"bytes={start}-"} if start else {}
        if if_match:
            extra["IfMatch"] = f'"{if_match}"'
        with _translated("get", key):
            body = self.s3.get_object(Bucket=self.bucket, Key=key, **extra)["Body"]
            try:
                yield from body.iter_chunks(chunk)
            finally:
                body.close()

    # --- multipart -------------------------------------------------------------------------

    def create_multipart(self, key: str, metadata: dict[str, str], storage_class: str = "STANDARD") -> str:
        """An upload of streamed parts: without retention (see ``shared.object_lock``), but with
        ``OBJECT_LOCK_MODE`` only once the bucket is known to have Object Lock."""
        self.check_object_lock()
        return self._create(key, metadata, storage_class)

    def _create(self, key: str, metadata: dict[str, str], storage_class: str, **extra: Any) -> str:
        with _translated("create multipart upload", key):
            resp = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=key, Metadata=metadata, StorageClass=storage_class,
                ContentType="application/octet-stream", **extra,
            )
        return resp["UploadId"]

    def upload_part_url(self, key: str, upload_id: str, part_number: int, expires: int = PRESIGN_SECONDS) -> str:
        with _translated("presign", key):
            return self.s3.generate_presigned_url(
                "upload_part",
                Params={"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
                ExpiresIn=expires,
            )

    def complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        """Complete with ``(part_number, etag)`` pairs; returns the object's ETag."""
        return _strip(self._complete(key, upload_id, parts).get("ETag", ""))

    def _complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> dict[str, Any]:
        body = {"Parts": [{"PartNumber": n, "ETag": f'"{_strip(e)}"'} for n, e in sorted(parts)]}
        with _translated("complete multipart upload", key):
            return self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                     MultipartUpload=body)

    def abort(self, key: str, upload_id: str) -> None:
        with _translated("abort multipart upload", key):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def _parts(self, key: str, upload_id: str) -> list[dict[str, Any]]:
        """The store's records of an open upload's parts, every page of them (``UploadGone``
        when it is no longer open)."""
        from botocore.exceptions import ClientError

        with _translated("list parts", key):
            try:
                pages = self.s3.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
                return [part for page in pages for part in page.get("Parts", [])]
            except ClientError as exc:
                if error_code(exc) == "NoSuchUpload":
                    raise UploadGone(f"list parts failed for {key!r}: NoSuchUpload") from exc
                raise

    def list_parts(self, key: str, upload_id: str) -> list[tuple[int, str, int]]:
        """``(part_number, etag, size)`` of the parts the store holds for an open upload."""
        return [(p["PartNumber"], _strip(p["ETag"]), int(p["Size"])) for p in self._parts(key, upload_id)]

    def last_written(self, upload: OpenUpload) -> datetime | None:
        """When an open upload last changed: its newest part, else its start; now, when it is gone
        since it was listed (another invocation completed or aborted it a moment ago)."""
        try:
            parts = self._parts(upload.key, upload.upload_id)
        except UploadGone:
            return self._now()
        times = [p["LastModified"] for p in parts if p.get("LastModified")]
        if upload.initiated is not None:
            times.append(upload.initiated)
        return max(times, default=None)

    def list_open_uploads(self, prefix: str = "") -> list[OpenUpload]:
        with _translated("list multipart uploads", prefix):
            pages = self.s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix)
            return [
                OpenUpload(u["Key"], u["UploadId"], u.get("Initiated"))
                for page in pages for u in page.get("Uploads", [])
            ]

    # --- publishing ------------------------------------------------------------------------

    def replace_metadata(
        self, key: str, metadata: dict[str, str], storage_class: str, size: int, *, if_match: str | None = None
    ) -> None:
        """Rewrite the object's metadata (and storage class) by copying it onto itself.

        ``if_match`` (an ETag) makes sure the object is still the one we verified. Objects
        above 5 GiB cannot be copied in one request: they are copied part by part. With
        ``OBJECT_LOCK_MODE`` this copy carries the retention, and the version it replaces goes.
        """
        retention = self.lock.copy_arguments(self._now()) if self.lock is not None else {}
        if size <= self.copy_limit:
            extra = {"CopySourceIfMatch": f'"{if_match}"'} if if_match else {}
            with _translated("replace metadata", key):
                resp = self.s3.copy_object(
                    Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
                    Metadata=metadata, MetadataDirective="REPLACE", StorageClass=storage_class,
                    ContentType="application/octet-stream", **extra, **retention,
                )
            version = resp.get("VersionId")
        else:
            version = self._multipart_copy(key, metadata, storage_class, size, if_match, retention)
        if self.lock is not None:
            object_lock.drop_other_versions(self.s3, self.bucket, key, keep=version)

    def _multipart_copy(self, key: str, metadata: dict[str, str], storage_class: str, size: int,
                        if_match: str | None, retention: dict[str, Any]) -> str | None:
        upload_id = self._create(key, metadata, storage_class, **retention)
        extra = {"CopySourceIfMatch": f'"{if_match}"'} if if_match else {}
        try:
            etags = []
            for part in iter_parts(size, max(self.copy_part_size, part_size_for(size))):
                with _translated("copy part", key):
                    resp = self.s3.upload_part_copy(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part.number,
                        CopySource={"Bucket": self.bucket, "Key": key},
                        CopySourceRange=part.range_header, **extra,
                    )
                etags.append((part.number, resp["CopyPartResult"]["ETag"]))
            return self._complete(key, upload_id, etags).get("VersionId")
        except BaseException:
            self._abort_quietly(key, upload_id)
            raise

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        try:
            self.abort(key, upload_id)
        except StorageError:
            pass  # the original error matters more; a bucket lifecycle rule cleans up leftovers
