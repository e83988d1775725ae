"""``status``: how fresh each database's off-site copy is, read exactly as dispatch reads it
(``shared.dispatch.run.read_freshness``, a dry run: nothing is exported, written or sent)."""

from __future__ import annotations

from typing import Any

import typer

from shared.cli.commands.backups import report_missing
from shared.cli.render import iso, size, table, when
from shared.cli.session import API_POLICY, DatabaseOpt, DebugOpt, JsonOpt, Session, VerboseOpt
from shared.copies import DatabaseFilter
from shared.dispatch.freshness import Freshness


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(database: DatabaseOpt = None, json_output: JsonOpt = False, debug: DebugOpt = False,
           verbose: VerboseOpt = False) -> None:
    """Per database: its latest backup, its newest verified copy and that copy's age, stale or not.

    Exit status 1 when a database is stale (or a named one does not exist)."""
    from shared.dispatch.run import read_freshness

    with Session(json_output, debug, verbose) as session:
        chosen = DatabaseFilter.from_values(database or [])
        session.store().check_bucket()  # the copies' ledger is in it: a missing bucket is a setting
        found = sorted(read_freshness(session.settings, database_names=chosen.names, database_ids=chosen.ids,
                                      api_policy=API_POLICY), key=lambda f: (f.database_name, str(f.database_id)))
        missing = _missing(chosen, found)
        stale = [f for f in found if f.stale]
        document = {"databases": [_row(f) for f in found], "stale": [f.database_name for f in stale],
                    "not_found": missing}
        hours = session.settings.stale_after_hours
        session.out.emit(document, lambda: _shown(found, hours))
        report_missing(session, missing, "no such database in the project")
        if stale:
            session.out.note(f"stale: {', '.join(f.database_name for f in stale)} (no verified copy of a backup "
                             f"newer than {_hours(hours)}) [stale]")
            session.not_done()


def _missing(chosen: DatabaseFilter, found: list[Freshness]) -> list[str]:
    ids = {str(f.database_id) for f in found}
    names = {f.database_name for f in found}
    return [i for i in chosen.ids if i not in ids] + [n for n in chosen.names if n not in names]


def _row(fresh: Freshness) -> dict[str, Any]:
    latest = fresh.latest_backup
    return {
        "database_id": str(fresh.database_id),
        "database_name": fresh.database_name,
        "latest_backup": {"backup_id": str(latest.id), "created_at": iso(latest.created_at), "size": latest.size}
        if latest else None,
        **fresh.to_dict(),
    }


def _shown(found: list[Freshness], stale_after_hours: float) -> Any:
    if not found:
        return "no databases"
    rows = [(f.database_name, _latest(f), _copy(f), _age(f), _state(f)) for f in found]
    stale = sum(1 for f in found if f.stale)
    return [table(None, ("DATABASE", "LATEST BACKUP", "NEWEST VERIFIED COPY", "AGE", "STATE"), rows),
            f"{stale} stale of {len(found)} (a copy is stale after {_hours(stale_after_hours)}: STALE_AFTER_HOURS)"]


def _latest(fresh: Freshness) -> str:
    latest = fresh.latest_backup
    return f"{when(latest.created_at)}, {size(latest.size)}" if latest else "no ready backup"


def _copy(fresh: Freshness) -> str:
    last, latest = fresh.last_copy, fresh.latest_backup
    if last is not None:
        return when(last.created_at) + (" (the latest)" if latest and str(latest.id) == last.backup_id else "")
    return f"none, watched since {when(fresh.watching_since)}"


def _age(fresh: Freshness) -> str:
    return "-" if fresh.age_hours is None else _hours(fresh.age_hours)


def _state(fresh: Freshness) -> str:
    if fresh.stale:
        return "STALE"
    return "fresh" if fresh.last_copy is not None else "no copy yet"


def _hours(hours: float) -> str:
    return f"{hours:.1f} h"
