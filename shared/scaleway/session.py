"""One path for every request to the Scaleway API.

A client-side rate limiter, one request that never follows redirects (the token must not
travel to another host), typed errors from ``shared.scaleway.errors`` and tenacity retries with
jittered exponential backoff on 429, 5xx and transport errors, honouring ``Retry-After`` /
``X-Ratelimit-Reset``. Other 4xx answers are never retried: asking again changes nothing.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from shared.scaleway.errors import error_from_answer, error_from_transport, retry_hint_seconds
from shared.errors import (
    ConfigurationError,
    ScalewayAPIError,
    ScalewayRateLimited,
    ScalewayUnavailable,
)
from shared.observability import log_event
from shared.urls import redact_url
from shared.scaleway.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

_RETRYABLE = (ScalewayRateLimited, ScalewayUnavailable)
_MAX_PAGES = 1000  # a million objects at 1000 a page: far beyond any project
Model = TypeVar("Model", bound=BaseModel)


@dataclass
class ClientStats:
    """Counters shared by every thread using one client."""

    calls: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers met
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, calls: int = 0, retries: int = 0, rate_limited: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.retries += retries
            self.rate_limited += rate_limited


class ApiSession:
    _backoff = staticmethod(wait_exponential_jitter(initial=0.5, max=10, jitter=0.5))

    def __init__(
        self,
        http: httpx.Client,
        *,
        limiter: RateLimiter,
        max_retry_seconds: float = 60.0,
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not http.base_url.host:
            raise ConfigurationError("the API client must be bound to the API base URL")
        self.http = http
        self.limiter = limiter
        self.max_retry_seconds = max_retry_seconds
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._clock = clock
        self.stats = ClientStats()

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             body: Any = None, on_id: bool = False, permission: str | None = None) -> Any:
        """One API call with retries; returns the decoded JSON answer. ``on_id``: the call names
        one resource; ``permission``: the permission set it needs (a 403 then names it)."""
        started = self._clock()

        def stop(state: RetryCallState) -> bool:
            spent = max(state.idle_for, self._clock() - started)
            return (state.attempt_number >= self.max_attempts
                    or spent + state.upcoming_sleep > self.max_retry_seconds)

        retrying = Retrying(
            retry=retry_if_exception_type(_RETRYABLE), wait=self._wait, stop=stop,
            sleep=self._sleep, before_sleep=self._count_retry, reraise=True,
        )
        clean = {k: str(v) for k, v in (params or {}).items() if v is not None}
        return retrying(self._attempt, method, path, clean, body, (on_id, permission))

    def paged(self, path: str, key: str, params: dict[str, Any], model: type[Model],
              page_size: int) -> list[Model]:
        """Every page of a listing, parsed (``next_page_needed`` decides when it ends)."""
        items: list[Model] = []
        seen: set[Any] = set()
        largest = 0  # the longest page so far: what the server serves, whatever we asked
        for page in range(1, _MAX_PAGES + 1):
            data = self.call("GET", path, params={**params, "page": page, "page_size": page_size})
            data = data if isinstance(data, dict) else {}
            batch = data.get(key) or []
            fresh = [m for m in (parse(model, raw) for raw in batch) if m.id not in seen]
            seen.update(m.id for m in fresh)
            items.extend(fresh)
            total = data.get("total_count")
            if not next_page_needed(got=len(batch), fresh=len(fresh), listed=len(items), largest=largest,
                                    total=total if isinstance(total, int) else None):
                break
            largest = max(largest, len(batch))
        else:
            log_event(logger, "listing stopped at the page limit", logging.WARNING, path=path)
        return items

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = getattr(exc, "retry_after", None)
        if hint is not None:  # the server said how long; jitter keeps threads apart
            return hint + random.uniform(0, 0.25)
        return self._backoff(state)

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.add(retries=1)

    def _attempt(self, method: str, path: str, params: dict[str, str], body: Any,
                 target: tuple[bool, str | None]) -> Any:
        request = self.http.build_request(method, path, params=params or None, json=body)
        self._check_host(request.url)
        self.limiter.acquire()
        self.stats.add(calls=1)
        try:
            response = self.http.send(request, follow_redirects=False)
        except httpx.TransportError as exc:
            error = error_from_transport(exc, method=method, path=path)
            self._log_failure(error, method, path)
            raise error from exc
        if not response.is_success:
            raise self._failure(response, method, path, target)
        try:
            return response.json()
        except ValueError:
            error = ScalewayAPIError(
                f"Scaleway API {method} {path} answered {response.status_code} without JSON",
                api_status=response.status_code, request_id=response.headers.get("x-request-id"))
            self._log_failure(error, method, path)
            raise error from None

    def _failure(self, response: httpx.Response, method: str, path: str,
                 target: tuple[bool, str | None]) -> ScalewayAPIError:
        on_id, permission = target
        error = error_from_answer(response.status_code, response.headers, response.content,
                                  method=method, path=path, on_id=on_id, permission=permission)
        if response.status_code == 429:
            self.stats.add(rate_limited=1)
        if response.status_code in (429, 503):
            error.retry_after = retry_hint_seconds(response.headers)
        self._log_failure(error, method, path)
        return error

    def _check_host(self, url: httpx.URL) -> None:
        base = self.http.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise ConfigurationError(f"refusing to send the API token to {redact_url(str(url))}")

    def _log_failure(self, error: ScalewayAPIError, method: str, path: str) -> None:
        log_event(logger, "scaleway api call failed", logging.WARNING, method=method, path=path,
                  api_status=error.api_status, api_type=error.api_type,
                  request_id=error.request_id, error=error.code)


def next_page_needed(*, got: int, fresh: int, listed: int, largest: int, total: int | None) -> bool:
    """Pure: whether a listing needs its next page. ``got``: items on this page (``fresh`` of them
    new), ``listed``: new items so far, ``largest``: the longest earlier page (0 on the first).

    A page with nothing new ends it (an empty page, or a server ignoring ``page``). ``total_count``
    only settles it when it cannot be the page's own length: a server may report that instead of
    the number of matches. Otherwise a page shorter than an earlier one is the last; the first
    page, even short of what was asked, is not known to be (the server may cap ``page_size``):
    the next page tells.
    """
    if not fresh:
        return False
    if total is not None and listed < total:
        return True
    if total is not None and total != got:  # a real count of all matches, and it is reached
        return False
    return largest == 0 or got >= largest


def parse(model: type[Model], data: Any) -> Model:
    """Validate one API object; a shape we cannot read is an upstream error, not a crash."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ScalewayAPIError(
            f"Scaleway API answered an unexpected {model.__name__} shape "
            f"({exc.error_count()} errors)"
        ) from None
