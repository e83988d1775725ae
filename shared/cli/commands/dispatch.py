"""``dispatch``: what the nightly dispatch does, run from here (hand-off as ``HANDOFF_MODE``
says; ``inline`` copies in this process)."""

from __future__ import annotations

from typing import Any

import typer
from typing_extensions import Annotated

from shared.cli.render import size, table, when
from shared.cli.session import DatabaseOpt, DebugOpt, JsonOpt, Session, VerboseOpt
from shared.copies import DatabaseFilter


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch)


def dispatch(database: DatabaseOpt = None,
             dry_run: Annotated[bool, typer.Option("--dry-run", help="Report the plan, change nothing.")] = False,
             force: Annotated[bool, typer.Option("--force", help="Copy even when a verified copy exists.")] = False,
             json_output: JsonOpt = False, debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Plan, export and hand off copies now, as the nightly run does."""
    from shared.dispatch.request import DispatchRequest
    from shared.dispatch.run import run_dispatch

    with Session(json_output, debug, verbose) as session:
        chosen = DatabaseFilter.from_values(database or [])
        request = DispatchRequest(database_ids=list(chosen.ids), database_names=list(chosen.names),
                                  dry_run=dry_run, force=force)
        session.store().check_bucket()  # before anything is exported, in a dry run too
        report = run_dispatch(request, settings=session.settings, requested_by="cli")
        document = report.to_dict()
        session.out.emit(document, lambda: _table(document))
        if report.status != 200 or any(d["status"] == "not_found" for d in document["databases"]):
            session.not_done()


def _table(document: dict[str, Any]) -> Any:
    from datetime import datetime

    rows = [(d["database_name"] or d["database_id"], d["status"], d["backup_id"],
             when(datetime.fromisoformat(d["created_at"]) if d["created_at"] else None), size(d["size"]),
             (d.get("error") or {}).get("message") or d["reason"]) for d in document["databases"]]
    title = f"run {document['run_id']}" + (" (dry run)" if document["dry_run"] else "")
    return table(title, ("DATABASE", "STATUS", "BACKUP", "CREATED", "SIZE", "WHY"), rows)
