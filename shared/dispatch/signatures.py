"""Signatures of chat-ops callers, checked on the raw body before anything parses it.

- Slack signs ``"v0:{timestamp}:{body}"`` with the app's signing secret (``X-Slack-Signature:
  v0=<hex>``, ``X-Slack-Request-Timestamp``); ``slack_sdk``'s verifier does the HMAC and the
  5-minute window, this module gives each refusal its own message.
- Grafana's webhook contact point, when given an HMAC secret, sends the hex HMAC-SHA256 of
  the body, or of ``"{timestamp}:{body}"`` when a timestamp header is configured. Grafana's
  docs and code disagree on the header's name, so the names are settings.

Every refusal is ``Unauthorized`` (401): the caller learns which check failed, never a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Callable

from slack_sdk.signature import Clock, SignatureVerifier

from shared.errors import Unauthorized
from shared.web import Request

MAX_SKEW_SECONDS = 300
_STAMP = re.compile(r"[0-9]{1,13}")


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def _timestamp(value: str | None, header: str, now: float) -> int:
    # ASCII digits only, seconds or milliseconds: str.isdigit() also takes "²" and "١", and a
    # thousand-digit number overflows the comparison with the clock
    if value is None or not _STAMP.fullmatch(value.strip()):
        raise Unauthorized(f"the {header} header is missing or not a number")
    stamp = int(value.strip())
    if stamp > 10**11:  # milliseconds
        stamp //= 1000
    if abs(now - stamp) > MAX_SKEW_SECONDS:
        raise Unauthorized(f"the {header} header is more than {MAX_SKEW_SECONDS} s away from now")
    return stamp


def verify_slack(request: Request, secret: str | None, *, clock: Callable[[], float] = time.time) -> None:
    """Refuse a request Slack did not sign with ``secret`` in the last five minutes."""
    if not secret:
        raise Unauthorized("Slack commands are not enabled here (no SLACK_SIGNING_SECRET)")
    now = clock()
    timestamp = request.header("x-slack-request-timestamp")
    _timestamp(timestamp, "X-Slack-Request-Timestamp", now)
    signature = request.header("x-slack-signature")
    if not signature or not signature.startswith("v0="):
        raise Unauthorized("the X-Slack-Signature header is missing or not a v0 signature")
    try:
        request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise Unauthorized("the signature does not match the body") from None
    verifier = SignatureVerifier(secret, clock=_FixedClock(now))
    if not verifier.is_valid(body=request.body, timestamp=timestamp, signature=signature):
        raise Unauthorized("the signature does not match the body")


def grafana_signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    message = (timestamp.encode() + b":" + body) if timestamp is not None else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_grafana(request: Request, secret: str, *, signature_headers: list[str],
                   timestamp_header: str | None, clock: Callable[[], float] = time.time) -> None:
    """Refuse a request whose Grafana HMAC is missing, stale or wrong."""
    supplied = next((request.header(name) for name in signature_headers if request.header(name)), None)
    if not supplied:
        raise Unauthorized(f"the signature header ({', '.join(signature_headers)}) is missing")
    timestamp = None
    if timestamp_header:
        timestamp = (request.header(timestamp_header) or "").strip() or None
        _timestamp(timestamp, timestamp_header, clock())
    supplied = supplied.strip().lower().removeprefix("sha256=")
    expected = grafana_signature(secret, request.body, timestamp)
    if not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise Unauthorized("the signature does not match the body")
