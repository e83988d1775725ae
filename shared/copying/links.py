"""Keeping a download link alive across a copy, whatever its lifetime (a day or five seconds).

``LinkKeeper`` hands the engine the link for each part:
- a link is used for a part only while it is still valid for that part
  (``download_url_expires_at`` against the measured time per part, plus a margin), except a link
  just obtained, which is the freshest there can be and is used for at least one part;
- once a link has lived half its life, a new export is requested while the copy goes on with the
  old link, and the new link is taken as soon as the API shows it (checked at most once a
  second), so a slow export overlaps the transfer instead of stopping it;
- a link that will not last the next part, or that the store refuses (403/404/410), is replaced
  before going on, waiting for the new one within the invocation's budget. A link refused again
  and again without a part copied in between gives up (``MAX_REFUSALS``).
"""

from __future__ import annotations

import logging
from typing import Callable

from shared.clock import Clock
from shared.copying.ports import BackupSource
from shared.errors import BackupExportError, DownloadLinkExpired
from shared.models import CopyJob, DatabaseBackup
from shared.observability import log_event
from shared.scaleway.exports import LINK_MARGIN, seconds_left

logger = logging.getLogger(__name__)

MAX_REFUSALS = 3  # refused links in a row, without a part copied in between
POLL_SECONDS = 1.0  # how often the API is asked for the new link while the old one still serves


class LinkKeeper:
    def __init__(self, api: BackupSource, job: CopyJob, clock: Clock, *, deadline: Callable[[], float],
                 check: Callable[[DatabaseBackup], None]) -> None:
        """``deadline()``: the latest moment (``clock.monotonic``) a wait may last; ``check(backup)``
        raises when a backup the API shows must not be used (another database, a host off the allowlist)."""
        self.api, self.job, self.clock = api, job, clock
        self._deadline, self._check = deadline, check
        self.backup: DatabaseBackup | None = None
        self.exports = 0  # exports requested by this keeper after the first link
        self._lifetime = 0.0  # the current link's remaining life when it was obtained
        self._parts = 0  # parts started on the current link
        self._pending = False  # a new export was requested and its link is not taken yet
        self._last_poll = 0.0
        self._refusals = 0
        self._dead: set[str] = set()

    @property
    def url(self) -> str:
        return self.backup.download_url or "" if self.backup else ""

    def first(self) -> DatabaseBackup:
        """The first usable link (an export is requested if the API shows none)."""
        return self._adopt(self._wait(requested=False))

    def for_next_part(self, seconds_per_part: float) -> str:
        """The link to fetch the next part with (the engine's ``link``)."""
        self._take_pending()
        left = self._left()
        if not (left > seconds_per_part + LINK_MARGIN or (self._parts == 0 and left > LINK_MARGIN)):
            self._replace("it would expire during the next part")
        elif not self._pending and left < self._lifetime / 2:
            self._request()
        self._parts += 1
        return self.url

    def refused(self, url: str) -> None:
        """The store refused ``url``: replace it before going on."""
        self._refusals = 1 if self._parts > 1 else self._refusals + 1
        if self._refusals > MAX_REFUSALS:
            raise DownloadLinkExpired("the download link was refused again and again, even fresh from the API")
        self._dead.add(url)
        self._replace("the store refused it")

    # --- inside -----------------------------------------------------------------------------

    def _left(self) -> float:
        return seconds_left(self.backup, self.clock.now()) if self.backup else 0.0

    def _request(self) -> None:
        """Ask for the next link early; if the API refuses, the old link serves on (and is replaced
        the usual way when it must be)."""
        log_event(logger, "export requested ahead of the link's expiry", backup_id=str(self.job.backup_id),
                  seconds_left=round(self._left(), 1))
        try:
            self.api.request_export(self.job.backup_id, region=self.job.region)
        except BackupExportError as exc:
            log_event(logger, "early export refused", logging.WARNING, error=exc.code)
            self._lifetime = 0.0  # no second early request for this link
            return
        self.exports += 1
        self._pending = True

    def _take_pending(self) -> None:
        """While a requested export is under way: take its link once the API shows it."""
        if not self._pending or self.clock.monotonic() - self._last_poll < POLL_SECONDS:
            return
        self._last_poll = self.clock.monotonic()
        shown = self.api.get_backup(self.job.backup_id, region=self.job.region)
        link = shown.download_url
        if link and link != self.url and link not in self._dead and seconds_left(shown, self.clock.now()) > LINK_MARGIN:
            self._adopt(shown)

    def _replace(self, why: str) -> None:
        log_event(logger, "download link replaced", backup_id=str(self.job.backup_id), reason=why)
        self._dead.add(self.url)
        requested = self._pending
        if not requested:
            self.exports += 1
        self._adopt(self._wait(requested=requested))

    def _wait(self, *, requested: bool) -> DatabaseBackup:
        return self.api.wait_for_download_url(self.job.backup_id, deadline=self._deadline(), region=self.job.region,
                                              refused=frozenset(self._dead), requested=requested)

    def _adopt(self, backup: DatabaseBackup) -> DatabaseBackup:
        self._check(backup)
        self.backup, self._parts, self._pending = backup, 0, False
        self._lifetime = seconds_left(backup, self.clock.now())
        return backup
