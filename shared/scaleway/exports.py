"""Waiting for an export's download link: one state machine for every reading of the API.

The API does not say what a backup looks like while its export is prepared, nor how long a link
lives. A client must work whichever it is: the backup stays ``ready`` with no link, or turns
``locked`` (or a status this code does not know, such as the sister product's ``exporting``)
until the link appears; a second export request meanwhile is accepted, or answered 409
``transient_state`` or 412 ``precondition_failed``; the link may live a day or a few seconds.

So: an export is requested only when the backup is ``ready`` and shows no usable link, and then
not again until a new link has appeared (a new link that is already dead calls for one more); a
409/412/423 answer to that request means an export is under way. While the backup is ``locked``,
exporting, or shows no link or one given up on after a request, the client only polls, quickly
enough to see a short-lived link while it is alive.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Collection, Literal
from uuid import UUID

from shared.errors import ExportFailed, ExportNotReady, ScalewayConflict
from shared.models import BACKUP_ERROR, BACKUP_READY, DatabaseBackup, as_utc
from shared.observability import log_event

if TYPE_CHECKING:
    from shared.scaleway.client import ScalewayClient

logger = logging.getLogger("shared.scaleway.client")

LINK_MARGIN = 1.0  # seconds a link must still live to be worth starting a request on
Move = Literal["use", "request", "poll", "fail"]


def seconds_left(backup: DatabaseBackup, now: datetime) -> float:
    """How long the backup's link still lives by ``download_url_expires_at`` (inf when not said)."""
    expires = backup.download_url_expires_at
    return math.inf if expires is None else (as_utc(expires) - now).total_seconds()


def next_move(backup: DatabaseBackup, *, now: datetime, min_validity: float, dead: Collection[str],
              spent: bool) -> Move:
    """Pure: what to do about the backup as the API shows it.

    ``dead``: links given up on (refused by the store, or replaced on purpose); ``spent``: an
    export was requested and no new link has appeared since.
    """
    if backup.status == BACKUP_ERROR:
        return "fail"
    link = backup.download_url or None
    if link and link not in dead and seconds_left(backup, now) > min_validity:
        return "use"
    if backup.status != BACKUP_READY:  # locked, exporting, or unknown: an export is under way
        return "poll"
    return "poll" if spent else "request"


def request_export(client: "ScalewayClient", backup_id: UUID | str, *, region: str | None = None) -> DatabaseBackup | None:
    """Ask for an export; None when the API answers that one is under way (409, 412, 423)."""
    try:
        return client.export_backup(backup_id, region=region)
    except ScalewayConflict as exc:
        log_event(logger, "export already under way", backup_id=str(backup_id), api_status=exc.api_status)
        return None


class LinkWait:
    """One wait for a usable link (``ScalewayClient.wait_for_download_url``), on the client's clocks."""

    def __init__(self, client: "ScalewayClient", backup_id: UUID | str, *, region: str | None,
                 min_validity: float, dead: Collection[str], requested: bool,
                 initial_interval: float, max_interval: float, sleep: Callable[[float], None],
                 clock: Callable[[], float], now: Callable[[], datetime]) -> None:
        self.client, self.backup_id, self.region = client, backup_id, region
        self.min_validity, self.dead = min_validity, set(dead)
        self.spent = requested
        self.seen: set[str] = set()
        self.interval, self.max_interval = initial_interval, max_interval
        self._sleep, self._clock, self._now = sleep, clock, now

    def run(self, deadline: float) -> DatabaseBackup:
        backup = self.client.get_backup(self.backup_id, region=self.region)
        if self.spent and backup.download_url:  # asked for by the caller already: this link is not its answer
            self.seen.add(backup.download_url)
        while True:
            self._note(backup)
            move = next_move(backup, now=self._now(), min_validity=self.min_validity, dead=self.dead,
                             spent=self.spent)
            if move == "use":
                return backup
            if move == "fail":
                raise ExportFailed(f"backup {backup.id} is in error: it cannot be exported")
            if move == "request":
                backup = self._request(backup)
                continue
            self._pause(deadline, backup)
            backup = self.client.get_backup(self.backup_id, region=self.region)

    def _note(self, backup: DatabaseBackup) -> None:
        """A link not seen before is the answer to the export requested last."""
        link = backup.download_url
        if link and link not in self.seen:
            self.seen.add(link)
            self.spent = False

    def _request(self, shown: DatabaseBackup) -> DatabaseBackup:
        self.spent = True
        log_event(logger, "export requested", backup_id=str(shown.id),
                  reason="link expired or refused" if shown.download_url else "no link")
        answered = request_export(self.client, self.backup_id, region=self.region)
        return answered if answered is not None else shown

    def _pause(self, deadline: float, backup: DatabaseBackup) -> None:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise ExportNotReady(f"download link of backup {backup.id} not ready in time")
        lived = seconds_left(backup, self._now()) if backup.download_url else math.inf
        if 0 < lived < math.inf:  # links this short-lived must be seen while they are alive
            self.max_interval = max(0.25, min(self.max_interval, lived / 4))
        self._sleep(min(self.interval, self.max_interval, remaining))
        self.interval = min(self.interval * 1.5, self.max_interval)
