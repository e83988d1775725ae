"""Delivering a notice to every target that wants it, without ever failing the copy it reports.

Delivery retries 429, 408, 5xx and connection errors with backoff, honouring ``retry-after``;
other 4xx are final and 410 means the endpoint is gone. For the generic format the ``webhook-id``
and body are the same on every attempt, while the timestamp and signature are made afresh per
attempt: receivers reject timestamps more than five minutes old, and a retry-after can push an
attempt past that. A target is only ever shown as ``scheme://host`` (``shared.targets``).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

import httpx
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_exponential_jitter

from shared.notify.events import NotificationEvent
from shared.notify.formats import USERNAME, render
from shared.observability import log_event
from shared.retry_after import retry_after_seconds
from shared.targets import NotifyTarget

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)
_ERROR_CODE = re.compile(r"^[a-z_]{1,60}$")  # receivers' short error codes (Slack's "invalid_payload")


# --- Delivery --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    target: str  # scheme://host only
    format: str
    delivered: bool
    status: int | None
    attempts: int
    error: str | None = None  # endpoint_gone, rejected, redirected, rate_limited, server_error, ...


@dataclass(frozen=True)
class _Answer:
    status: int | None  # None: no HTTP answer (connection error, timeout)
    retry_after: float | None = None
    detail: str | None = None

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in (408, 429) or self.status >= 500


def retry_after_hint(response: httpx.Response, now: datetime) -> float | None:
    """``retry-after`` (seconds or an HTTP date); else Discord's JSON ``retry_after`` on a 429."""
    hint = retry_after_seconds(response.headers.get("retry-after"), now)
    if hint is not None or response.headers.get("retry-after"):
        return hint
    if response.status_code == 429 and "json" in response.headers.get("content-type", ""):
        try:
            value = response.json().get("retry_after")
        except (ValueError, AttributeError):
            return None
        return retry_after_seconds(str(value)) if isinstance(value, (int, float)) else None
    return None


def _error_code(answer: _Answer) -> str | None:
    status = answer.status
    if status is None:
        return answer.detail or "connection_error"
    if 200 <= status < 300:
        return None
    if status == 410:
        return "endpoint_gone"
    if status == 429:
        return "rate_limited"
    if status < 400:
        return "redirected"
    return "server_error" if answer.retryable else "rejected"


class Notifier:
    """Posts one event to every subscribed target. ``send`` never raises."""

    def __init__(
        self, http: httpx.Client, targets: list[NotifyTarget], *, sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 4, clock: Callable[[], float] = time.time, max_wait: float = 60.0,
    ) -> None:
        self.http = http
        self.targets = targets
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._clock = clock
        self._max_wait = max_wait  # a longer retry-after is not waited for: the copy has a deadline
        self._backoff = wait_exponential_jitter(initial=1, max=30)

    @classmethod
    def from_settings(cls, settings: Settings, extra: list[NotifyTarget] | None = None) -> Notifier:
        targets = list(settings.notify_targets) + list(extra or [])
        # No credentials, no redirects (a redirect could carry the body elsewhere), no .netrc.
        http = httpx.Client(timeout=httpx.Timeout(settings.notify_timeout_seconds, connect=5.0), follow_redirects=False,
                            trust_env=False, headers={"user-agent": USERNAME})
        return cls(http, targets)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, event: NotificationEvent) -> list[DeliveryResult]:
        return [self._deliver(event, target) for target in self.targets if target.wants(event.type)]

    def _deliver(self, event: NotificationEvent, target: NotifyTarget) -> DeliveryResult:
        attempts = 0

        def attempt() -> _Answer:
            nonlocal attempts
            attempts += 1
            return self._post(event, target)

        failure: str | None = None
        try:
            answer = Retrying(
                stop=stop_after_attempt(self._max_attempts), wait=self._wait, sleep=self._sleep,
                retry=retry_if_result(self._should_retry), retry_error_callback=lambda s: s.outcome.result(),
            )(attempt)
        except Exception as exc:  # a notice must never fail the copy that it reports
            answer, failure = _Answer(status=None, detail="internal_error"), type(exc).__name__
        error = _error_code(answer)
        result = DeliveryResult(target=target.host, format=target.format, delivered=error is None,
                                status=answer.status, attempts=attempts, error=error)
        self._log(event, result, answer, failure)
        return result

    def _post(self, event: NotificationEvent, target: NotifyTarget) -> _Answer:
        secret = target.secret.get_secret_value() if target.secret else None
        headers, body = render(event, target.format, secret=secret, timestamp=int(self._clock()))
        try:
            response = self.http.post(target.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return _Answer(status=None, detail="timeout")
        except httpx.TransportError:  # its text may carry the URL: keep only the kind
            return _Answer(status=None, detail="connection_error")
        text = response.text.strip()[:60]
        return _Answer(status=response.status_code, retry_after=retry_after_hint(response, datetime.fromtimestamp(self._clock(), timezone.utc)),
                       detail=text if _ERROR_CODE.match(text) else None)

    def _should_retry(self, answer: _Answer) -> bool:
        return answer.retryable and (answer.retry_after is None or answer.retry_after <= self._max_wait)

    def _wait(self, state: RetryCallState) -> float:
        answer = state.outcome.result() if state.outcome else None
        if answer is not None and answer.retry_after is not None:
            return answer.retry_after
        return self._backoff(state)

    def _log(self, event: NotificationEvent, result: DeliveryResult, answer: _Answer, exc_type: str | None) -> None:
        level = logging.INFO if result.delivered else logging.ERROR if exc_type else logging.WARNING
        message = "notification delivered" if result.delivered else "notification not delivered"
        if result.error == "endpoint_gone":
            message = "notification endpoint gone (410): remove this target"
        log_event(logger, message, level, event_type=event.type, event_id=event.id, target=result.target,
                  format=result.format, status=result.status, attempts=result.attempts, error=result.error,
                  detail=answer.detail if answer.status is not None else None, exc_type=exc_type)
