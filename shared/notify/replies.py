"""Posting a message to a slash command's ``response_url``: the run's summary, from dispatch.

A response_url holds its token in the path: it is shown as ``scheme://host`` only. A post is
retried when it may pass later (connection errors, 408, 429 honouring a short ``retry-after``,
5xx), three attempts in all, and never raises: a lost summary must not fail the run it reports
(each copy still reports on its own). The client carries no credentials and follows no
redirects. Which hosts may be posted to is decided before (``REPLY_HOST_ALLOWLIST``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential_jitter

from shared.notify.formats import JSON, USERNAME
from shared.observability import log_event
from shared.retry_after import retry_after_seconds

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
MAX_WAIT = 10.0  # a longer retry-after is not waited for


@dataclass(frozen=True)
class ReplyResult:
    delivered: bool
    status: int | None  # None: no HTTP answer
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "status": self.status, "attempts": self.attempts}


class ReplyPoster:
    """Posts Slack messages (JSON) to response URLs through the given ``httpx.Client``."""

    def __init__(self, http: httpx.Client, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.http = http
        self._sleep = sleep

    @classmethod
    def create(cls, *, sleep: Callable[[float], None] = time.sleep) -> ReplyPoster:
        return cls(httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0), follow_redirects=False,
                                trust_env=False, headers={"user-agent": USERNAME}), sleep=sleep)

    def post(self, url: str, message: dict[str, Any]) -> ReplyResult:
        attempts = 0

        def attempt() -> tuple[int | None, float | None]:
            nonlocal attempts
            attempts += 1
            return self._post_once(url, message)

        status, _ = Retrying(
            stop=stop_after_attempt(MAX_ATTEMPTS), sleep=self._sleep, retry=retry_if_result(_retryable),
            wait=lambda state: _hint(state) or wait_exponential_jitter(initial=0.5, max=5)(state),
            retry_error_callback=lambda state: state.outcome.result(),
        )(attempt)
        result = ReplyResult(status is not None and 200 <= status < 300, status, attempts)
        log_event(logger, "reply posted" if result.delivered else "reply not posted",
                  logging.INFO if result.delivered else logging.WARNING,
                  target=_host(url), **result.to_dict())
        return result

    def _post_once(self, url: str, message: dict[str, Any]) -> tuple[int | None, float | None]:
        try:
            response = self.http.post(url, json=message, headers={"content-type": JSON})
        except httpx.HTTPError:  # its text may carry the URL: the status says enough
            return None, None
        return response.status_code, retry_after_seconds(response.headers.get("retry-after"))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ReplyPoster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _retryable(answer: tuple[int | None, float | None]) -> bool:
    status, wait = answer
    transient = status is None or status in (408, 429) or status >= 500
    return transient and (wait is None or wait <= MAX_WAIT)


def _host(url: str) -> str:
    """``scheme://host``: all that may be shown of a response_url."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}"
    except ValueError:
        return "<unparseable url>"


def _hint(state: Any) -> float | None:
    return state.outcome.result()[1] if state.outcome is not None else None
