"""Scaleway API error answers -> the typed errors of ``shared.errors``.

Pure functions over status, headers and body bytes, so they are tested with the recorded
bodies directly. Bodies may be JSON (``type``, ``message`` and per-type fields), bare
(the 429 the gateway sends has no body at all) or HTML from a proxy: every shape yields
a typed error. Messages carry the method, the path (never a query string) and the API's
short message; never the token or the input.
"""

from __future__ import annotations

import json
from datetime import datetime
from http import HTTPStatus
from typing import Any, Mapping

import httpx

from shared.errors import (
    ScalewayAPIError,
    ScalewayAuthError,
    ScalewayConflict,
    ScalewayInvalidArguments,
    ScalewayNotFound,
    ScalewayPermissionDenied,
    ScalewayQuotaExceeded,
    ScalewayRateLimited,
    ScalewayUnavailable,
    ScalewayUnknownRegion,
)
from shared.retry_after import retry_after_seconds
from shared.urls import redact_text

# Fields of Scaleway error bodies worth keeping (see the API's error table).
_DETAIL_FIELDS = (
    "details",
    "resource",
    "resource_id",
    "current_state",
    "precondition",
    "help_message",
    "method",
    "reason",
    "limit",
    "reset_seconds",
)
_MAX_MESSAGE = 200


def parse_error_body(content: bytes) -> dict[str, Any]:
    """The JSON object of an error body, or ``{}`` for empty, bare or non-JSON bodies."""
    if not content:
        return {}
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def _names_region(body: dict[str, Any]) -> bool:
    details = body.get("details")
    return isinstance(details, list) and any(
        isinstance(d, dict) and d.get("argument_name") == "region" for d in details)


def _error_class(status: int, body: dict[str, Any], on_id: bool, permission: str | None) -> type[ScalewayAPIError]:
    if body.get("type") == "quotas_exceeded":
        return ScalewayQuotaExceeded
    if status == 401:
        return ScalewayAuthError
    if status == 403 and permission:  # the resource was just read: only the permission can be missing
        return ScalewayPermissionDenied
    if status == 404 or (status == 403 and on_id):
        # The API answers unknown or deleted ids with 403 permissions_denied since 2025.
        return ScalewayNotFound
    if status == 403:
        return ScalewayPermissionDenied
    if status == 400:
        return ScalewayUnknownRegion if _names_region(body) else ScalewayInvalidArguments
    if status in (409, 412, 423):
        return ScalewayConflict
    if status == 429:
        return ScalewayRateLimited
    if status >= 500:
        return ScalewayUnavailable
    return ScalewayAPIError


def error_from_answer(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    method: str,
    path: str,
    on_id: bool = False,
    permission: str | None = None,
) -> ScalewayAPIError:
    """Build the typed error for one non-2xx answer. ``on_id``: the call named one resource;
    ``permission``: the permission set the call needs, named by the error a 403 becomes."""
    headers = httpx.Headers(headers)
    body = parse_error_body(content)
    api_type = body.get("type") if isinstance(body.get("type"), str) else None
    cls = _error_class(status, body, on_id, permission)
    api_message = body.get("message") if isinstance(body.get("message"), str) else ""
    summary = redact_text(api_message)[:_MAX_MESSAGE] or _bare_reason(status)
    if cls is ScalewayNotFound:
        summary = f"not found or not allowed ({summary})"
    elif cls is ScalewayPermissionDenied and permission:
        summary = f"{summary}; the API key needs {permission}"
    elif cls is ScalewayUnknownRegion:
        summary = f"{summary}; the region is not one where the product is offered"
    where = redact_text(path.split("?", 1)[0])
    message = f"Scaleway API {method} {where} answered {status}: {summary}"
    details = {k: body[k] for k in _DETAIL_FIELDS if body.get(k) not in (None, [], {})}
    return cls(
        message,
        api_status=status,
        api_type=api_type,
        request_id=headers.get("x-request-id"),
        details=details or None,
    )


def error_from_transport(
    exc: httpx.TransportError, *, method: str, path: str
) -> ScalewayUnavailable:
    """Connection, read and timeout errors: the API could not be reached or did not answer."""
    where = redact_text(path.split("?", 1)[0])
    return ScalewayUnavailable(f"Scaleway API {method} {where} failed: {type(exc).__name__}")


def _bare_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "unexpected answer"


def retry_hint_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` (seconds or HTTP date), else
    ``X-Ratelimit-Reset`` (seconds until the window resets). None when neither is usable."""
    headers = httpx.Headers(headers)
    hint = retry_after_seconds(headers.get("retry-after"), now)
    if hint is None:  # "1" or "1, 1;w=1": the first figure is the seconds until the reset
        hint = retry_after_seconds((headers.get("x-ratelimit-reset") or "").split(",")[0])
    return hint
