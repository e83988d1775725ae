"""LinkKeeper against a fake API on a fake clock: which link each part gets, and when new ones are asked for."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Collection
from uuid import UUID

import pytest

from shared.clock import Clock
from shared.copying.links import LinkKeeper
from shared.errors import DownloadLinkExpired
from shared.models import CopyJob, DatabaseBackup

START = datetime(2026, 10, 7, 9, 0, tzinfo=timezone.utc)
BACKUP = UUID("0b1e3c52-6f1d-4c59-9a53-7d7c2a9f0e11")
DATABASE = UUID("4dfa498a-58d0-437d-b800-7e78edc1b4a9")


class Time:
    def __init__(self) -> None:
        self.seconds = 0.0

    def clock(self) -> Clock:
        return Clock(now=lambda: START + timedelta(seconds=self.seconds), monotonic=lambda: self.seconds,
                     sleep=self.pass_)

    def pass_(self, seconds: float) -> None:
        self.seconds += seconds


class FakeApi:
    """Exports take ``export_seconds``; each new link lives ``lifetime`` seconds."""

    def __init__(self, time: Time, lifetime: float, export_seconds: float = 2.0) -> None:
        self.time, self.lifetime, self.export_seconds = time, lifetime, export_seconds
        self.links: list[tuple[str, float]] = [("link-1", lifetime)]  # (url, expiry in seconds)
        self.requests: list[float] = []  # when an export was requested
        self.waits: list[set[str]] = []
        self.ready_at: float | None = None

    def backup(self) -> DatabaseBackup:
        if self.ready_at is not None and self.time.seconds >= self.ready_at:
            self.links.append((f"link-{len(self.links) + 1}", self.time.seconds + self.lifetime))
            self.ready_at = None
        url, expiry = self.links[-1]
        return DatabaseBackup(id=BACKUP, status="ready", database_id=DATABASE, download_url=url,
                              download_url_expires_at=START + timedelta(seconds=expiry))

    def get_backup(self, backup_id: Any, *, region: str | None = None) -> DatabaseBackup:
        return self.backup()

    def request_export(self, backup_id: Any, *, region: str | None = None) -> DatabaseBackup | None:
        self.requests.append(self.time.seconds)
        self.ready_at = self.time.seconds + self.export_seconds
        return self.backup()

    def wait_for_download_url(self, backup_id: Any, *, deadline: float, region: str | None = None,
                              refused: Collection[str] = (), requested: bool = False) -> DatabaseBackup:
        """As the client does: a usable link is returned, else an export is requested (unless it was)."""
        def usable() -> bool:
            shown = self.backup()
            left = (shown.download_url_expires_at - START).total_seconds() - self.time.seconds
            return shown.download_url not in refused and left > 1.0

        self.waits.append(set(refused))
        if not usable() and not requested:
            self.request_export(backup_id)
        while not usable():
            self.time.pass_(0.5)
        return self.backup()


def keeper(time: Time, api: FakeApi) -> LinkKeeper:
    job = CopyJob(run_id="r", backup_id=BACKUP, database_id=DATABASE, database_name="shop",
                  project_id=DATABASE, region="fr-par", backup_created_at=START, object_key="k",
                  deadline=START + timedelta(hours=1))
    return LinkKeeper(api, job, time.clock(), deadline=lambda: 1e9, check=lambda backup: None)


def copy_parts(links: LinkKeeper, time: Time, count: int, seconds_each: float) -> list[str]:
    used = []
    for _ in range(count):
        used.append(links.for_next_part(seconds_each))
        time.pass_(seconds_each)
    return used


def test_a_long_lived_link_serves_every_part_and_no_export_is_asked_for() -> None:
    time = Time()
    api = FakeApi(time, lifetime=86400)
    links = keeper(time, api)
    links.first()
    assert copy_parts(links, time, 50, 1.0) == ["link-1"] * 50
    assert api.requests == [] and links.exports == 0


def test_past_half_its_life_a_new_export_is_asked_for_while_the_old_link_serves() -> None:
    # GIVEN 20 s links, exports that take 2 s, parts of 1 s
    time = Time()
    api = FakeApi(time, lifetime=20)
    links = keeper(time, api)
    links.first()

    used = copy_parts(links, time, 30, 1.0)

    # THEN one export at half-life, its link taken as soon as it showed, and no part waited
    assert api.requests[0] == pytest.approx(11.0) and api.waits == [set()]  # only the first link was waited for
    assert used[:12] == ["link-1"] * 12 and used[14] == "link-2"
    assert all((api.links[int(url[5:]) - 1][1] - start) > 1.0 for start, url in enumerate(used))


def test_a_five_second_link_is_replaced_before_a_part_it_would_not_last() -> None:
    # GIVEN 5 s links, exports that take 3 s, parts of 1.5 s: a link lasts a few parts at most
    time = Time()
    api = FakeApi(time, lifetime=5, export_seconds=3)
    links = keeper(time, api)
    links.first()
    lived = []

    for _ in range(12):
        url = links.for_next_part(1.5)
        lived.append(dict(api.links)[url] - time.seconds)  # what the link had left as the part began
        time.pass_(1.5)

    # THEN every part began on a link that outlived it, and new links were asked for as needed
    assert min(lived) > 1.5 and links.exports >= 3


def test_a_fresh_link_is_used_for_one_part_even_if_the_part_outlasts_it() -> None:
    # GIVEN links that live 3 s and parts that take 10 s: no link can last a part
    time = Time()
    api = FakeApi(time, lifetime=3, export_seconds=0.5)
    links = keeper(time, api)
    links.first()

    used = copy_parts(links, time, 3, 10.0)

    assert used == ["link-1", "link-2", "link-3"]  # one export per part, never a loop of exports
    assert len(api.requests) == 2 and api.requests == sorted(set(api.requests))


def test_a_refused_link_is_replaced_and_refusals_without_progress_give_up() -> None:
    time = Time()
    api = FakeApi(time, lifetime=86400)
    links = keeper(time, api)
    links.first()
    links.for_next_part(1.0)
    links.refused("link-1")
    assert links.url == "link-2" and api.waits[1:] == [{"link-1"}]
    links.refused("link-2")
    links.refused("link-3")
    with pytest.raises(DownloadLinkExpired):
        links.refused("link-4")
