"""Dispatch's watch over the copies: read the ledger once before the run, announce afterwards
what went stale, forget what recovered, and send the run's one summary.

The functions are stateless, so what the watch remembers lives in the bucket (``shared.ledger``):
one listing reads it for every database at once, a few empty objects record what was announced.
A dry run reads and reports freshness but writes nothing and sends nothing. Nothing here fails
a run: a ledger that cannot be read leaves freshness unassessed (and says so in the logs), a
notice that cannot be delivered is reported in the run's answer and tried again next run.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, is_dataclass, replace
from datetime import datetime
from typing import Any

from shared import ledger
from shared.dispatch.freshness import Watch, announcements_due, recovered
from shared.dispatch.notices import run_summary, stale_notice
from shared.dispatch.ports import LedgerIndex, Notifier
from shared.dispatch.report import DatabaseOutcome, DispatchResult
from shared.errors import BackupExportError
from shared.notify.events import NotificationEvent
from shared.observability import log_event

logger = logging.getLogger(__name__)

SENDERS = 4  # stale notices delivered side by side: a slow receiver must not hold up the others


@dataclass
class Watcher:
    store: LedgerIndex
    notifier: Notifier | None
    prefix: str
    stale_after_hours: float
    now: datetime
    dry_run: bool
    ledger: ledger.Ledger | None = None

    def open(self) -> Watch | None:
        """The watch for this run (one listing), or None when the ledger cannot be read."""
        try:
            keys = self.store.list_keys(ledger.root(self.prefix))
        except BackupExportError as exc:
            log_event(logger, "freshness not assessed: the ledger could not be read", logging.ERROR, code=exc.code)
            return None
        self.ledger = ledger.read_ledger(keys, self.prefix)
        if self.ledger.started_at is None and not self.dry_run:
            self._quietly(self.store.put_marker, ledger.started_key(self.prefix, self.now))
        return Watch(self.ledger.verified, self.ledger.started_at or self.now, self.stale_after_hours)

    def report(self, result: DispatchResult) -> DispatchResult:
        """Announce, forget, summarise: the result with what was sent."""
        if self.dry_run:
            return result
        announced, sent = self._announce(result) if self.ledger is not None else ((), [])
        self._forget(result)
        sent += self._send(run_summary(result, now=self.now))
        return replace(result, announced=announced, notifications=tuple(sent))

    def _announce(self, result: DispatchResult) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
        assert self.ledger is not None
        by_id = {o.freshness.database_id: o for o in result.databases if o.freshness is not None}
        due = announcements_due((o.freshness for o in by_id.values() if o.freshness), self.ledger.announced,
                                now=self.now, stale_after_hours=self.stale_after_hours)
        if not due or self.notifier is None:
            return (), []
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(due))) as pool:
            answers = list(pool.map(lambda f: self._announce_one(by_id[f.database_id], result.run_id), due))
        names = tuple(name for name, _ in answers if name is not None)
        return names, [line for _, lines in answers for line in lines]

    def _announce_one(self, outcome: DatabaseOutcome, run_id: str) -> tuple[str | None, list[dict[str, Any]]]:
        fresh = outcome.freshness
        assert fresh is not None and self.ledger is not None
        lines = self._send(stale_notice(outcome, fresh, run_id=run_id, now=self.now))
        if not any(line.get("delivered") for line in lines):
            return None, lines  # not remembered: the next run tries again
        self._quietly(self.store.put_marker, ledger.stale_key(self.prefix, fresh.database_id, self.now, fresh.about))
        for key in self.ledger.stale_keys.get(fresh.database_id, ()):
            self._quietly(self.store.delete, key)
        log_event(logger, "stale database announced", database_id=str(fresh.database_id), about=fresh.about)
        return fresh.database_name, lines

    def _forget(self, result: DispatchResult) -> None:
        if self.ledger is None:
            return
        for database_id in recovered(result.freshness, self.ledger.announced):
            for key in self.ledger.stale_keys.get(database_id, ()):
                self._quietly(self.store.delete, key)

    def _send(self, event: NotificationEvent) -> list[dict[str, Any]]:
        """Delivery results as plain values; a notice never fails the run."""
        if self.notifier is None:
            return []
        try:
            results = self.notifier.send(event)
        except Exception as exc:  # the notifier promises not to raise; be sure of it
            log_event(logger, "notification crashed", logging.ERROR, error=type(exc).__name__)
            return [{"event_type": event.type, "delivered": False, "error": type(exc).__name__}]
        return [{"event_type": event.type, **(asdict(r) if is_dataclass(r) and not isinstance(r, type) else dict(r))}
                for r in results]

    def _quietly(self, write: Any, key: str) -> None:
        try:
            write(key)
        except BackupExportError as exc:  # the ledger is a memory, not a duty: the next run heals it
            log_event(logger, "ledger not updated", logging.WARNING, code=exc.code)
