"""Exit codes, and the one line an error becomes.

0: done. 1: something was not done (a database or copy not found, a failed verification, the
API or the bucket failing). 2: the command line or the configuration is wrong (a bad setting,
credentials refused, a bucket that does not exist), so running it again unchanged cannot help.
"""

from __future__ import annotations

from shared.errors import (
    BackupExportError,
    ConfigurationError,
    RequestError,
    ScalewayAuthError,
    ScalewayPermissionDenied,
)
from shared.urls import redact_text

DONE = 0
NOT_DONE = 1
USAGE = 2
INTERRUPTED = 130

_USAGE_ERRORS = (ConfigurationError, RequestError, ScalewayAuthError, ScalewayPermissionDenied)


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    return USAGE if isinstance(exc, _USAGE_ERRORS) else NOT_DONE


def error_fields(exc: BaseException) -> dict[str, str]:
    """``code`` and ``message`` of an error, URLs redacted (a presigned query string is a key)."""
    if isinstance(exc, BackupExportError):
        return {"code": exc.code, "message": redact_text(exc.message)}
    if isinstance(exc, KeyboardInterrupt):
        return {"code": "interrupted", "message": "interrupted"}
    return {"code": "internal_error",
            "message": f"unexpected {type(exc).__name__}; run again with --debug to see where"}


def error_line(exc: BaseException) -> str:
    fields = error_fields(exc)
    return f"error: {fields['message']} [{fields['code']}]"
