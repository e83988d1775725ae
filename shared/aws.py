"""What both S3-compatible clients (the bucket, the queue) share: their botocore settings and
how their errors are read.

Scaleway rejects the ``aws-chunked`` bodies with an ``x-amz-trailer`` checksum that boto3 >= 1.36
sends by default, so checksums are only computed when an operation requires one.
"""

from __future__ import annotations

from typing import Any


def client_config(**overrides: Any) -> Any:
    """A botocore ``Config`` for Scaleway's S3-compatible services."""
    from botocore.config import Config  # lazy: heavy, and some paths never build a client

    values: dict[str, Any] = dict(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
    )
    values.update(overrides)
    return Config(**values)


def error_code(exc: BaseException) -> str:
    """The service's error code (``NoSuchBucket``, ``AccessDenied``, ``404``), else the class name."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(exc).__name__)
