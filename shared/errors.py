"""One error hierarchy for the whole tool.

Every class carries the HTTP status our functions answer with and a stable machine code.
Adapters translate library errors (httpx, botocore) into these with ``raise ... from exc``;
``handlers`` map them to a response in exactly one place (``shared.web.error_response``).
Messages never echo secrets, presigned query strings or raw request input.
"""

from __future__ import annotations

from typing import Any


class BackupExportError(Exception):
    """Base of every error this tool raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    retryable: bool = False

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


# --- Inbound requests (what callers of our functions got wrong) -------------------------------


class RequestError(BackupExportError):
    status = 400
    code = "bad_request"


class InvalidJSON(RequestError):
    code = "invalid_json"


class InvalidRequest(RequestError):
    """The body parsed but did not validate (unknown fields, bad UUIDs, wrong types)."""

    status = 422
    code = "invalid_request"


class Unauthorized(RequestError):
    status = 401
    code = "unauthorized"


class RouteNotFound(RequestError):
    status = 404
    code = "not_found"


class MethodNotAllowed(RequestError):
    status = 405
    code = "method_not_allowed"


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(RequestError):
    status = 415
    code = "unsupported_media_type"


# --- Configuration ------------------------------------------------------------------------------


class ConfigurationError(BackupExportError):
    status = 500
    code = "configuration_error"


class ObjectLockNotEnabled(ConfigurationError):
    """``OBJECT_LOCK_MODE`` is set but the bucket has no Object Lock (only a new bucket can get it)."""

    code = "object_lock_not_enabled"


# --- The Scaleway API (upstream) ----------------------------------------------------------------


class ScalewayAPIError(BackupExportError):
    """An error answered by (or while reaching) the Scaleway API.

    ``api_status`` is the HTTP status the API gave (None for transport errors), ``api_type``
    the ``type`` field of its JSON error body, ``request_id`` its ``X-Request-Id``.
    """

    status = 502
    code = "scaleway_api_error"

    def __init__(
        self,
        message: str,
        *,
        api_status: int | None = None,
        api_type: str | None = None,
        request_id: str | None = None,
        details: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.api_status = api_status
        self.api_type = api_type
        self.request_id = request_id
        self.retry_after = retry_after  # seconds the API asked us to wait, when it said so


class ScalewayInvalidArguments(ScalewayAPIError):
    code = "scaleway_invalid_arguments"


class ScalewayUnknownRegion(ScalewayInvalidArguments):
    """400 ``invalid_arguments`` on ``region``: the caller named a region the product is not in."""

    status = 422
    code = "unknown_region"


class ScalewayAuthError(ScalewayAPIError):
    """401 ``denied_authentication``: our own credentials are wrong."""

    code = "scaleway_authentication_denied"


class ScalewayNotFound(ScalewayAPIError):
    """404 ``not_found``, or the 403 ``permissions_denied`` the API answers for unknown ids."""

    status = 404
    code = "not_found_or_not_allowed"


class ScalewayPermissionDenied(ScalewayAPIError):
    code = "scaleway_permissions_denied"


class ScalewayQuotaExceeded(ScalewayAPIError):
    code = "scaleway_quotas_exceeded"


class ScalewayConflict(ScalewayAPIError):
    """409 ``transient_state``, 412 ``precondition_failed``, 423 ``locked``."""

    status = 409
    code = "scaleway_conflict"
    retryable = True


class ScalewayRateLimited(ScalewayAPIError):
    status = 503
    code = "scaleway_rate_limited"
    retryable = True


class ScalewayUnavailable(ScalewayAPIError):
    """5xx answers, connection and read errors, timeouts."""

    status = 503
    code = "scaleway_unavailable"
    retryable = True


# --- The export and copy flow -------------------------------------------------------------------


class ExportFailed(BackupExportError):
    """The backup or its export is in ``error``: waiting longer will not help."""

    status = 502
    code = "export_failed"


class ExportNotReady(BackupExportError):
    """The download link did not appear within this invocation's budget: try again later."""

    status = 503
    code = "export_not_ready"
    retryable = True


class DeadlineExceeded(BackupExportError):
    """The job's deadline passed before the copy could finish."""

    status = 504
    code = "deadline_exceeded"


class DownloadHostNotAllowed(BackupExportError):
    status = 502
    code = "download_host_not_allowed"


class DownloadRedirected(BackupExportError):
    """The download link answered a redirect: it is never followed (the link is the credential)."""

    status = 502
    code = "download_redirected"


class DownloadError(BackupExportError):
    """The download link answered badly or the connection broke."""

    status = 502
    code = "download_failed"
    retryable = True


class DownloadLinkExpired(DownloadError):
    """403 on the link, or its expiry passed: export again."""

    code = "download_link_expired"


class IntegrityError(BackupExportError):
    """Sizes, part ETags or checksums disagree: nothing was published."""

    status = 502
    code = "integrity_check_failed"


class PartDigestMismatch(IntegrityError):
    """The store's ETag for one part is not the MD5 of the bytes sent: the bytes changed on the
    way. The part is sent again (its re-upload replaces it), as often as any failed part."""


class CopyInProgress(BackupExportError):
    """Another invocation is writing this backup's upload right now: deliver the job again later."""

    status = 503
    code = "copy_in_progress"
    retryable = True


class StorageError(BackupExportError):
    """Object storage refused or failed an operation."""

    status = 502
    code = "storage_error"
    retryable = True


class UploadGone(StorageError):
    """The multipart upload named is no longer open (completed or aborted meanwhile)."""


class CopyNotFound(BackupExportError):
    """No object at that key in the bucket."""

    status = 404
    code = "not_found"


class DestinationExists(BackupExportError):
    """A download would overwrite a different file."""

    status = 409
    code = "destination_exists"


# --- Restoring a copy ---------------------------------------------------------------------------


class ToolNotFound(ConfigurationError):
    """A PostgreSQL client program (pg_restore, psql) is not installed."""

    code = "tool_not_found"


class RestoreRefused(BackupExportError):
    """The target database already holds tables and ``--clean`` was not given."""

    status = 409
    code = "target_not_empty"


class RestoreFailed(BackupExportError):
    """pg_restore or psql failed; nothing was committed (the restore is one transaction)."""

    status = 502
    code = "restore_failed"


class HandoffError(BackupExportError):
    """The job could not be handed to the copy function."""

    status = 502
    code = "handoff_failed"
    retryable = True


class NotificationError(BackupExportError):
    status = 502
    code = "notification_failed"
