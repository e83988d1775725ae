"""The backup API client against httpx.MockTransport fakes: paging, errors, retries, waiting."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Callable
from uuid import UUID

import httpx
import pytest

from shared.scaleway.errors import retry_hint_seconds
from shared.errors import (
    ConfigurationError,
    ExportFailed,
    ExportNotReady,
    InvalidRequest,
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
from shared.scaleway.ratelimit import RateLimiter
from shared.scaleway.client import ScalewayClient, newest_ready_by_database
from shared.settings import Settings

EVENTS = Path(__file__).parents[1] / "events" / "api"
API = "https://api.test"
PREFIX = "/serverless-sqldb/v1alpha1/regions/fr-par"
TOKEN = "0f0e0d0c-0b0a-4909-8807-060504030201"
PROJECT = "105bdce1-64c0-48ab-899d-868455867ecf"
BACKUP_ID = "0b1e3c52-6f1d-4c59-9a53-7d7c2a9f0e11"
NOW = datetime(2026, 10, 7, 9, 0, tzinfo=timezone.utc)
LINK = "https://s3.example/bucket/db/backup.custom?X-Amz-Signature=deadbeef&X-Amz-Credential=SCWX"

Handler = Callable[[httpx.Request], httpx.Response]


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def backup(**changes: object) -> dict:
    return {**event("backup_ready_no_link.json"), **changes}


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.value = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.value

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.value += seconds


@dataclass
class Harness:
    client: ScalewayClient
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)


@pytest.fixture
def harness():
    made: list[Harness] = []

    def make(handler: Handler, **options: object) -> Harness:
        requests: list[httpx.Request] = []
        sleeps: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            return handler(request)

        http = httpx.Client(base_url=API, headers={"X-Auth-Token": TOKEN},
                            transport=httpx.MockTransport(record))
        options.setdefault("limiter", RateLimiter(1e6, sleep=lambda s: None))
        options.setdefault("sleep", sleeps.append)
        options.setdefault("now", lambda: NOW)
        client = ScalewayClient(http, project_id=PROJECT, **options)
        made.append(Harness(client, requests, sleeps))
        return made[-1]

    yield make
    for h in made:
        h.client.close()


def paged_backups(count: int, *, total: bool = True) -> Handler:
    """A listing served honestly page by page."""
    rows = [backup(id=str(UUID(int=i + 1)), created_at=f"2026-10-0{1 + i % 7}T02:00:00Z")
            for i in range(count)]

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        size = int(request.url.params["page_size"])
        body: dict = {"backups": rows[(page - 1) * size: page * size]}
        if total:
            body["total_count"] = count
        return httpx.Response(200, json=body)

    return handler


# --- Paging ---------------------------------------------------------------------------------


def test_lists_every_page_and_always_sends_order_by(harness):
    h = harness(paged_backups(5), page_size=2)
    backups = h.client.list_backups()
    assert [str(b.id) for b in backups] == [str(UUID(int=i)) for i in range(1, 6)]
    assert [r.url.params["page"] for r in h.requests] == ["1", "2", "3"]
    assert {r.url.params["order_by"] for r in h.requests} == {"created_at_desc"}
    assert {r.url.params["project_id"] for r in h.requests} == {PROJECT}
    assert h.client.stats.calls == 3


def test_listing_without_total_count_stops_on_the_empty_page(harness):
    h = harness(paged_backups(4, total=False), page_size=2)
    assert len(h.client.list_backups()) == 4
    assert len(h.requests) == 3


def test_listing_stops_on_a_short_page(harness):
    h = harness(paged_backups(3, total=False), page_size=2)
    assert len(h.client.list_backups()) == 3
    assert len(h.requests) == 2


def test_listing_stops_when_the_server_ignores_the_page_number(harness):
    rows = [backup(id=str(UUID(int=i + 1))) for i in range(2)]
    h = harness(lambda r: httpx.Response(200, json={"backups": rows, "total_count": 50}),
                page_size=2)
    assert len(h.client.list_backups()) == 2
    assert len(h.requests) == 2


def capped(rows: list[dict], cap: int, *, total: str) -> Handler:
    """A server that serves at most ``cap`` rows a page, whatever was asked; ``total``: what it
    reports as total_count: ``all`` (documented), ``page`` (the page's length) or ``none``."""
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        batch = rows[(page - 1) * cap: page * cap]
        body: dict = {"backups": batch}
        if total != "none":
            body["total_count"] = len(rows) if total == "all" else len(batch)
        return httpx.Response(200, json=body)
    return handler


@pytest.mark.parametrize("total", ["all", "page", "none"])
@pytest.mark.parametrize("count", [4, 5])
def test_a_capped_page_size_and_any_total_count_still_list_everything(harness, total, count):
    # GIVEN a server capping pages at 2 rows, the newest backup of a database on the last page
    rows = [backup(id=str(UUID(int=i + 1)), created_at=f"2026-10-0{1 + i}T02:00:00Z") for i in range(count)]
    h = harness(capped(rows, 2, total=total))  # the client asks for 1000 a page

    latest = h.client.latest_ready_backups()

    assert [str(b.id) for b in latest.values()] == [str(UUID(int=count))]
    assert len(h.requests) <= 4  # three pages, and an empty one at most to be sure


def test_total_count_reporting_the_page_length_does_not_end_the_listing(harness):
    rows = [backup(id=str(UUID(int=i + 1))) for i in range(5)]
    h = harness(capped(rows, 2, total="page"), page_size=2)
    assert len(h.client.list_backups()) == 5
    assert [r.url.params["page"] for r in h.requests] == ["1", "2", "3"]  # the short third page ends it


def test_list_backups_of_one_database_sends_its_id(harness):
    h = harness(lambda r: httpx.Response(200, json={"backups": [], "total_count": 0}))
    h.client.list_backups(database_id=UUID("4dfa498a-58d0-437d-b800-7e78edc1b4a9"),
                          order_by="created_at_asc")
    params = h.requests[0].url.params
    assert params["database_id"] == "4dfa498a-58d0-437d-b800-7e78edc1b4a9"
    assert params["order_by"] == "created_at_asc"
    assert params["page_size"] == "1000"
    assert "project_id" not in params


def test_list_databases_parses_the_page_and_sends_filters(harness):
    h = harness(lambda r: httpx.Response(200, json=event("databases_page.json")))
    databases = h.client.list_databases(name="ord")
    assert [d.name for d in databases] == ["orders", "billing"]
    params = h.requests[0].url.params
    assert (params["name"], params["order_by"], params["project_id"]) == (
        "ord", "created_at_asc", PROJECT)
    assert h.requests[0].url.path == f"{PREFIX}/databases"


def test_latest_ready_backups_project_wide_takes_one_listing(harness):
    h = harness(lambda r: httpx.Response(200, json=event("backups_page.json")))
    latest = h.client.latest_ready_backups()
    assert {str(k): str(v.id) for k, v in latest.items()} == {
        "4dfa498a-58d0-437d-b800-7e78edc1b4a9": "0b1e3c52-6f1d-4c59-9a53-7d7c2a9f0e11",
        "9db5fcc8-49c2-4c74-a530-4f7e27eef3d5": "c3f1a7b9-8d2e-4f60-9a1b-2c3d4e5f6a7b",
    }
    # one listing: a first page short of what was asked may be a capped page, the next one tells
    assert [r.url.params["page"] for r in h.requests] == ["1", "2"]


def test_latest_ready_backups_per_database_lists_each(harness):
    page = event("backups_page.json")

    def handler(request: httpx.Request) -> httpx.Response:
        db = request.url.params["database_id"]
        rows = [b for b in page["backups"] if b["database_id"] == db]
        return httpx.Response(200, json={"backups": rows, "total_count": len(rows)})

    h = harness(handler)
    dbs = ["9db5fcc8-49c2-4c74-a530-4f7e27eef3d5", "6b85fc48-c420-4259-96b9-22ae284385ce"]
    latest = h.client.latest_ready_backups(database_ids=dbs)
    assert {str(k): str(v.id) for k, v in latest.items()} == {
        dbs[0]: "c3f1a7b9-8d2e-4f60-9a1b-2c3d4e5f6a7b"}
    assert [r.url.params["database_id"] for r in h.requests if r.url.params["page"] == "1"] == dbs


def test_newest_ready_ignores_the_order_the_api_used():
    rows = [backup(id=str(UUID(int=n)), created_at=f"2026-10-0{n}T02:00:00Z") for n in (2, 5, 3)]
    from shared.models import DatabaseBackup

    latest = newest_ready_by_database(DatabaseBackup.model_validate(r) for r in rows)
    assert [str(b.id) for b in latest.values()] == [str(UUID(int=5))]


# --- Errors ---------------------------------------------------------------------------------

ERROR_CASES = [
    # status, body, call, expected class, api_type
    (400, {"type": "invalid_arguments", "message": "invalid argument(s)",
           "details": [{"argument_name": "page_size", "reason": "constraint"}]},
     "list", ScalewayInvalidArguments, "invalid_arguments"),
    (401, {"type": "denied_authentication", "message": "authentication is denied",
           "method": "api_key", "reason": "not_found"}, "get", ScalewayAuthError,
     "denied_authentication"),
    (403, {"type": "permissions_denied", "message": "insufficient permissions", "details": []},
     "get", ScalewayNotFound, "permissions_denied"),
    (403, {"type": "permissions_denied", "message": "insufficient permissions", "details": []},
     "export", ScalewayNotFound, "permissions_denied"),  # the backup is not readable either: unknown id
    (403, {"type": "permissions_denied", "message": "insufficient permissions", "details": []},
     "list", ScalewayPermissionDenied, "permissions_denied"),
    (403, {"type": "quotas_exceeded", "message": "quota exceeded", "details": [{"resource": "x"}]},
     "export", ScalewayQuotaExceeded, "quotas_exceeded"),
    (404, {"type": "not_found", "message": "resource is not found",
           "resource": "serverless_sqldb_backup", "resource_id": BACKUP_ID},
     "get", ScalewayNotFound, "not_found"),
    (409, {"type": "transient_state", "message": "resource is in a transient state",
           "current_state": "exporting"}, "export", ScalewayConflict, "transient_state"),
    (412, {"type": "precondition_failed", "message": "precondition is not respected"},
     "export", ScalewayConflict, "precondition_failed"),
    (423, {"type": "locked", "message": "resource is locked"}, "export", ScalewayConflict, "locked"),
    (429, None, "get", ScalewayRateLimited, None),
    (502, b"<html>bad gateway</html>", "get", ScalewayUnavailable, None),
    (503, {"type": "out_of_stock", "message": "out of stock"}, "list", ScalewayUnavailable,
     "out_of_stock"),
]


def _call(client: ScalewayClient, kind: str) -> object:
    if kind == "list":
        return client.list_backups()
    if kind == "export":
        return client.export_backup(BACKUP_ID)
    return client.get_backup(BACKUP_ID)


@pytest.mark.parametrize("status,body,kind,cls,api_type", ERROR_CASES)
def test_each_error_answer_becomes_its_typed_error(harness, status, body, kind, cls, api_type):
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"X-Request-Id": "req-1"}
        if isinstance(body, dict):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, content=body or b"", headers=headers)

    h = harness(handler, max_attempts=1)
    with pytest.raises(cls) as caught:
        _call(h.client, kind)
    error = caught.value
    assert type(error) is cls
    assert (error.api_status, error.api_type, error.request_id) == (status, api_type, "req-1")
    assert "?" not in error.message and "page_size" not in error.message
    assert TOKEN not in error.message
    if cls is ScalewayNotFound:
        assert "not found or not allowed" in error.message


def test_invalid_arguments_keep_their_details(harness):
    body = {"type": "invalid_arguments", "message": "invalid argument(s)",
            "details": [{"argument_name": "database_id", "reason": "required"}]}
    h = harness(lambda r: httpx.Response(400, json=body))
    with pytest.raises(ScalewayInvalidArguments) as caught:
        h.client.list_backups()
    assert caught.value.details == {"details": body["details"]}


def test_error_messages_redact_urls_the_api_echoes(harness):
    body = {"type": "invalid_arguments", "message": f"bad link {LINK}"}
    h = harness(lambda r: httpx.Response(400, json=body))
    with pytest.raises(ScalewayInvalidArguments) as caught:
        h.client.list_backups()
    assert "X-Amz-Signature" not in caught.value.message
    assert "s3.example/bucket/db/backup.custom?<redacted>" in caught.value.message


def test_failed_calls_log_their_request_id(harness, caplog):
    h = harness(lambda r: httpx.Response(404, json={"type": "not_found", "message": "nope"},
                                         headers={"X-Request-Id": "abc-123"}))
    with caplog.at_level(logging.WARNING, logger="shared.scaleway"), pytest.raises(ScalewayNotFound):
        h.client.get_backup(BACKUP_ID)
    failed = [r for r in caplog.records if r.getMessage() == "scaleway api call failed"]
    assert [r.fields["request_id"] for r in failed] == ["abc-123"]
    assert failed[0].fields["path"] == f"{PREFIX}/backups/{BACKUP_ID}"


def test_a_success_without_json_is_an_upstream_error(harness):
    h = harness(lambda r: httpx.Response(200, content=b"<html>portal</html>"))
    with pytest.raises(ScalewayAPIError) as caught:
        h.client.get_backup(BACKUP_ID)
    assert caught.value.api_status == 200
    assert len(h.requests) == 1


def test_ids_must_be_uuids_and_never_reach_the_path(harness):
    h = harness(lambda r: httpx.Response(200, json=backup()))
    with pytest.raises(InvalidRequest):
        h.client.get_backup("../../databases")
    assert h.requests == []


# --- Retries --------------------------------------------------------------------------------


def flaky(answers: list[httpx.Response | Exception]) -> Handler:
    """Answers in order, then a backup for every later call."""
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        if queue:
            item = queue.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        return httpx.Response(200, json=backup())

    return handler


def test_retry_after_seconds_is_honoured(harness):
    h = harness(flaky([httpx.Response(429, headers={"Retry-After": "3"})]))
    assert str(h.client.get_backup(BACKUP_ID).id) == BACKUP_ID
    assert len(h.sleeps) == 1 and 3 <= h.sleeps[0] <= 3.25
    assert (h.client.stats.calls, h.client.stats.retries, h.client.stats.rate_limited) == (2, 1, 1)


def test_retry_after_http_date_is_honoured():
    now = datetime(2026, 10, 7, 9, 0, 0, tzinfo=timezone.utc)
    header = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert retry_hint_seconds({"Retry-After": header}, now=now) == 7
    assert retry_hint_seconds({"Retry-After": "soon"}, now=now) is None
    assert retry_hint_seconds({"X-Ratelimit-Reset": "1"}, now=now) == 1


def test_ratelimit_reset_is_honoured_on_a_bare_429(harness):
    bare = httpx.Response(429, headers={"X-Ratelimit-Reset": "2", "x-envoy-ratelimited": "true"})
    h = harness(flaky([bare, bare]))
    h.client.get_backup(BACKUP_ID)
    assert len(h.sleeps) == 2 and all(2 <= s <= 2.25 for s in h.sleeps)
    assert h.client.stats.rate_limited == 2


def test_bare_429_and_5xx_back_off_with_jitter(harness):
    h = harness(flaky([httpx.Response(429), httpx.Response(502, content=b"oops"),
                       httpx.Response(500)]))
    assert str(h.client.get_backup(BACKUP_ID).id) == BACKUP_ID
    assert len(h.sleeps) == 3 and all(0 < s <= 10.5 for s in h.sleeps)
    assert h.client.stats.retries == 3


def test_transport_errors_are_retried(harness):
    h = harness(flaky([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                       httpx.RemoteProtocolError("cut")]))
    assert str(h.client.export_backup(BACKUP_ID).id) == BACKUP_ID
    assert [r.method for r in h.requests] == ["POST"] * 4


def test_persistent_failures_stop_after_max_attempts(harness):
    h = harness(lambda r: httpx.Response(503), max_attempts=4)
    with pytest.raises(ScalewayUnavailable):
        h.client.get_backup(BACKUP_ID)
    assert len(h.requests) == 4 and len(h.sleeps) == 3


def test_retry_after_beyond_the_budget_gives_up_at_once(harness):
    h = harness(lambda r: httpx.Response(429, headers={"Retry-After": "120"}),
                max_retry_seconds=60)
    with pytest.raises(ScalewayRateLimited):
        h.client.get_backup(BACKUP_ID)
    assert len(h.requests) == 1 and h.sleeps == []


def test_total_retry_time_is_bounded(harness):
    h = harness(lambda r: httpx.Response(429, headers={"Retry-After": "4"}),
                max_retry_seconds=10, max_attempts=100)
    with pytest.raises(ScalewayRateLimited):
        h.client.get_backup(BACKUP_ID)
    assert sum(h.sleeps) <= 10 and len(h.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_other_4xx_are_never_retried(harness, status):
    h = harness(lambda r: httpx.Response(status, json={"type": "x", "message": "no"}))
    with pytest.raises(ScalewayAPIError):
        h.client.get_backup(BACKUP_ID)
    assert len(h.requests) == 1 and h.sleeps == []


# --- Rate limiter ---------------------------------------------------------------------------


def test_limiter_never_exceeds_50_starts_in_any_second():
    clock = FakeClock()
    limiter = RateLimiter(48.0, clock=clock.now, sleep=clock.sleep)
    starts = [limiter.acquire() for _ in range(300)]
    busiest = max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)
    assert busiest <= 49
    assert starts[-1] - starts[0] == pytest.approx(299 / 48)


def test_limiter_gives_threads_the_full_rate_without_overlap():
    clock = FakeClock()  # never advances: every slot is a reservation ahead of "now"
    limiter = RateLimiter(48.0, clock=clock.now, sleep=lambda s: None)
    slots: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(12):
            slot = limiter.acquire()
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert len(slots) == 96
    assert gaps == pytest.approx([1 / 48] * 95)


def test_client_calls_go_through_the_limiter(harness):
    clock = FakeClock()
    limiter = RateLimiter(10.0, clock=clock.now, sleep=clock.sleep)
    h = harness(lambda r: httpx.Response(200, json=backup()), limiter=limiter)
    for _ in range(5):
        h.client.get_backup(BACKUP_ID)
    assert clock.sleeps == pytest.approx([0.1] * 4)


# --- Waiting for the download link ----------------------------------------------------------


class ExportApi:
    """A backup whose export takes ``polls_needed`` GETs, under one reading of the undocumented API.

    ``locked``: the backup shows ``locked`` while its export is prepared (else ``ready`` without
    a link); ``repeat``: the answer to an export request while one is under way (200, 409, 412);
    ``keep_old``: the old link stays visible until the new one replaces it; ``lifetime``: how long
    a new link lives, by ``download_url_expires_at``, on a wall clock that moves with the sleeps.
    """

    def __init__(self, clock: "FakeClock", *, polls_needed: int = 2, status: str = "ready",
                 locked: bool = False, repeat: int = 200, keep_old: bool = False, link: str | None = None,
                 link_expires: datetime | None = None, exporting: bool = False,
                 lifetime: timedelta = timedelta(hours=24)) -> None:
        self.clock, self.polls_needed, self.status = clock, polls_needed, status
        self.locked, self.repeat, self.keep_old, self.lifetime = locked, repeat, keep_old, lifetime
        self.link, self.link_expires = link, link_expires
        self.exporting, self.polls_since_export, self.exports, self.serial = exporting, 0, 0, 0

    def now(self) -> datetime:
        return NOW + timedelta(seconds=self.clock.value - 1000.0)

    def body(self) -> dict:
        expires = self.link_expires.isoformat().replace("+00:00", "Z") if self.link else None
        status = "locked" if self.locked and self.exporting else self.status
        return backup(status=status, download_url=self.link, download_url_expires_at=expires)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.exports += 1
            if self.exporting and self.repeat != 200:
                kind = "transient_state" if self.repeat == 409 else "precondition_failed"
                return httpx.Response(self.repeat, json={"type": kind, "message": "export in progress"})
            if (self.locked and self.exporting) or self.status != "ready":
                return httpx.Response(409, json={"type": "transient_state", "message": "locked"})
            self.exporting, self.polls_since_export = True, 0
            if not self.keep_old:
                self.link = None
            return httpx.Response(200, json=self.body())
        if self.exporting:
            self.polls_since_export += 1
            if self.polls_since_export >= self.polls_needed:
                self.serial += 1
                self.exporting = False
                self.link = LINK.replace("deadbeef", f"new{self.serial}")
                self.link_expires = self.now() + self.lifetime
        return httpx.Response(200, json=self.body())


@pytest.fixture
def waiting(harness):
    """``waiting(**ExportApi options)`` -> (harness, api, clock): time moves only when the client sleeps."""
    def make(**options: object) -> tuple[Harness, ExportApi, FakeClock]:
        clock = FakeClock()
        api = ExportApi(clock, **options)
        h = harness(api, sleep=clock.sleep, clock=clock.now, now=api.now)
        return h, api, clock
    return make


def test_wait_exports_then_polls_until_the_link_appears(waiting):
    h, api, clock = waiting(polls_needed=3)
    ready = h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 60)
    assert ready.download_url.startswith("https://s3.example/") and api.exports == 1
    assert [r.method for r in h.requests] == ["GET", "POST", "GET", "GET", "GET"]
    assert clock.sleeps == [0.5, 0.75, 1.125]


def test_wait_raises_export_failed_on_error(waiting):
    h, _, _ = waiting(status="error")
    with pytest.raises(ExportFailed):
        h.client.wait_for_download_url(BACKUP_ID, deadline=1e12)


@pytest.mark.parametrize("repeat", [200, 409, 412])
def test_a_backup_locked_during_its_export_is_only_polled(waiting, repeat):
    # GIVEN dispatch exported the backup, which the API shows locked until the link is there
    h, api, clock = waiting(locked=True, exporting=True, repeat=repeat, polls_needed=4)
    ready = h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 60)
    assert ready.status == "ready" and ready.download_url and api.exports == 0
    assert {r.method for r in h.requests} == {"GET"}


@pytest.mark.parametrize("repeat", [409, 412])
def test_a_repeat_export_answered_409_or_412_means_keep_polling(waiting, repeat):
    # GIVEN an export under way, the backup still ready without a link, and repeats refused
    h, api, clock = waiting(exporting=True, repeat=repeat, polls_needed=3)
    ready = h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 60)
    assert ready.download_url and api.exports == 1  # asked once, told "in progress", then only polled
    assert [r.method for r in h.requests].count("POST") == 1


def test_an_export_requested_by_the_caller_is_not_requested_again(waiting):
    h, api, clock = waiting(exporting=True, polls_needed=2)
    assert h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 60, requested=True).download_url
    assert api.exports == 0


def test_wait_exports_again_when_the_link_expired(waiting):
    h, api, clock = waiting(link=LINK.replace("deadbeef", "old"), link_expires=NOW - timedelta(hours=1))
    ready = h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 60)
    assert "new1" in ready.download_url
    assert api.exports == 1


def test_wait_treats_a_link_about_to_expire_as_expired(waiting):
    h, api, clock = waiting(link=LINK, link_expires=NOW + timedelta(seconds=30))
    ready = h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 60, min_link_validity=60)
    assert ready.download_url_expires_at == api.link_expires and api.exports == 1


def test_a_refused_link_shown_until_the_new_one_is_ready_is_exported_over_once(waiting):
    # GIVEN the store refused the link, and the API keeps showing it until the new export ends
    old = LINK.replace("deadbeef", "old")
    h, api, clock = waiting(link=old, link_expires=NOW + timedelta(hours=20), keep_old=True, polls_needed=4)
    ready = h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 60, refused={old})
    assert ready.download_url != old and api.exports == 1


def test_a_five_second_link_is_caught_alive(waiting):
    # GIVEN links that live 5 s and take a while to appear: polls must come often enough to see one alive
    h, api, clock = waiting(polls_needed=6, lifetime=timedelta(seconds=5))
    ready = h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 120)
    assert (ready.download_url_expires_at - api.now()).total_seconds() > 1
    assert api.exports == 1 and max(clock.sleeps) <= 4.0


def test_wait_gives_up_at_the_deadline(waiting):
    h, api, clock = waiting(polls_needed=10**6)
    with pytest.raises(ExportNotReady):
        h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 40, max_interval=15)
    assert sum(clock.sleeps) == pytest.approx(40)
    assert max(clock.sleeps) <= 15
    assert api.exports == 1


def test_a_403_on_export_names_the_missing_permission(harness):
    denied = {"type": "permissions_denied", "message": "insufficient permissions", "details": []}
    h = harness(lambda r: httpx.Response(403, json=denied) if r.method == "POST" else httpx.Response(200, json=backup()))
    with pytest.raises(ScalewayPermissionDenied) as caught:
        h.client.wait_for_download_url(BACKUP_ID, deadline=1e12)
    assert "ServerlessSQLDatabaseReadWrite" in caught.value.message
    assert caught.value.code == "scaleway_permissions_denied" and not caught.value.retryable


def test_an_unknown_region_is_the_callers_mistake_not_an_outage(harness):
    refused = {"type": "invalid_arguments", "message": "invalid argument(s)",
               "details": [{"argument_name": "region", "reason": "constraint", "help_message": "unknown"}]}
    h = harness(lambda r: httpx.Response(400, json=refused))
    with pytest.raises(ScalewayUnknownRegion) as caught:
        h.client.list_backups(region="xx-yyy")
    assert (caught.value.status, caught.value.code) == (422, "unknown_region")


# --- Where the token goes -------------------------------------------------------------------


def test_token_only_goes_to_the_api_host(waiting):
    h, _, clock = waiting(polls_needed=1)
    ready = h.client.wait_for_download_url(BACKUP_ID, deadline=clock.now() + 60)
    assert ready.download_url.startswith("https://s3.example/")
    assert {r.url.host for r in h.requests} == {"api.test"}
    assert all(r.headers["X-Auth-Token"] == TOKEN for r in h.requests)


def test_redirects_to_another_host_are_not_followed(harness):
    h = harness(lambda r: httpx.Response(302, headers={"Location": "https://evil.example/x"}))
    with pytest.raises(ScalewayAPIError) as caught:
        h.client.get_backup(BACKUP_ID)
    assert caught.value.api_status == 302
    assert {r.url.host for r in h.requests} == {"api.test"}


def test_absolute_urls_to_other_hosts_are_refused(harness):
    h = harness(lambda r: httpx.Response(200, json={}))
    with pytest.raises(ConfigurationError) as caught:
        h.client._session.call("GET", "https://evil.example/steal?token=1")
    assert h.requests == []
    assert "token=1" not in str(caught.value)


def test_a_client_without_base_url_is_refused():
    with httpx.Client() as http, pytest.raises(ConfigurationError):
        ScalewayClient(http)


def test_from_settings_binds_the_token_to_the_api_url(monkeypatch, tmp_path):
    monkeypatch.setenv("SCW_CONFIG_PATH", str(tmp_path / "absent.yaml"))
    settings = Settings(scw_secret_key=TOKEN, scw_api_url="http://127.0.0.1:9/",
                        scw_default_project_id=PROJECT, api_rate_limit=20)
    with ScalewayClient.from_settings(settings) as client:
        http = client._session.http
        assert str(http.base_url) == "http://127.0.0.1:9"
        assert http.headers["X-Auth-Token"] == TOKEN
        assert client.project_id == PROJECT
        assert client._session.limiter.rate == 20


def test_from_settings_without_a_secret_is_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SCW_CONFIG_PATH", str(tmp_path / "absent.yaml"))
    monkeypatch.delenv("SCW_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError):
        ScalewayClient.from_settings(Settings())
