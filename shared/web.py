"""The Scaleway Functions HTTP event, read safely, and responses rendered in one place.

Both handlers use these: ``parse_event`` turns the platform's event dict into a
``Request`` (case-insensitive headers, decoded body, size limit), ``json_response``
renders a result, ``error_response`` is the one mapping from our errors to HTTP.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from shared.errors import (
    BackupExportError,
    InvalidJSON,
    PayloadTooLarge,
    RequestError,
    Unauthorized,
    UnsupportedMediaType,
)
from shared.observability import log_event

logger = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


def parse_event(event: Mapping[str, Any] | None, *, max_body: int) -> Request:
    """Read the platform's event. Raises ``PayloadTooLarge`` or ``RequestError``."""
    if not isinstance(event, Mapping):
        raise RequestError("the event is not an HTTP event")
    method = str(event.get("httpMethod") or event.get("method") or "POST").upper()
    path = str(event.get("path") or "/")
    raw_headers = event.get("headers") or {}
    headers = {str(k).lower(): str(v) for k, v in raw_headers.items()} if isinstance(raw_headers, Mapping) else {}
    body_field = event.get("body") or ""
    if not isinstance(body_field, str):
        body_field = json.dumps(body_field)
    # base64 is 4/3 of the bytes: refuse before decoding anything large
    if len(body_field) > max_body * 4 // 3 + 4:
        raise PayloadTooLarge(f"the body is larger than {max_body} bytes")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body_field, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RequestError("the body is marked base64 but is not valid base64") from exc
    else:
        body = body_field.encode("utf-8")
    if len(body) > max_body:
        raise PayloadTooLarge(f"the body is larger than {max_body} bytes")
    return Request(method=method, path=path, headers=headers, body=body)


def parse_json_object(request: Request, *, allow_empty: bool = True) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` when allowed."""
    ctype = request.content_type
    if request.body.strip() and ctype and ctype not in ("application/json", "text/plain"):
        raise UnsupportedMediaType("send the body as application/json")
    if not request.body.strip():
        if allow_empty:
            return {}
        raise InvalidJSON("the body is empty; a JSON object is required")
    try:
        value = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJSON("the body is not valid JSON") from exc
    except RecursionError:  # nesting deeper than the interpreter's limit: no request of ours nests so
        raise InvalidJSON("the body nests too deeply") from None
    if not isinstance(value, dict):
        raise InvalidJSON("the body must be a JSON object")
    return value


def check_bearer(request: Request, tokens: list[str], *, basic: bool = False) -> None:
    """Constant-time check of ``Authorization: Bearer <token>`` against any configured token.

    With ``basic``, ``Authorization: Basic`` whose password is a token is accepted too (the
    user name is ignored): alert senders offer basic auth as well as a bearer token."""
    scheme, _, supplied = (request.header("authorization") or "").partition(" ")
    supplied = supplied.strip()
    if basic and scheme.lower() == "basic":
        try:
            supplied = base64.b64decode(supplied, validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, ValueError):
            supplied = ""
    elif scheme.lower() != "bearer":
        supplied = ""
    ok = False
    for token in tokens:  # compare against every token so timing does not reveal which matched
        ok |= bool(supplied) and hmac.compare_digest(supplied.encode(), token.encode())
    if not ok:
        raise Unauthorized("missing or invalid credentials")


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **(headers or {})},
        "body": json.dumps(body, default=str),
    }


def error_response(exc: BaseException) -> dict[str, Any]:
    """The one place where errors become HTTP answers."""
    if isinstance(exc, BackupExportError):
        level = logging.WARNING if exc.status < 500 else logging.ERROR
        log_event(logger, "request failed", level, code=exc.code, status=exc.status, error=exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return json_response(exc.status, exc.to_dict(), headers)
    logger.exception("unexpected error")
    return json_response(500, {"error": {"code": "internal_error", "message": "internal error"}})
