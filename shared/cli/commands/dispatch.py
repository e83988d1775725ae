"""``run``: what the nightly dispatch does, run from here (hand-off as ``HANDOFF_MODE`` says;
``inline`` copies in this process, and the table then shows each copy's verified SHA-256).
``dispatch`` is the same command under its former name, hidden from the help."""

from __future__ import annotations

import threading
from typing import Any

import typer
from typing_extensions import Annotated

from shared.cli.render import short_sha, size, table, when
from shared.cli.session import API_POLICY, DatabaseOpt, DebugOpt, JsonOpt, Session, VerboseOpt
from shared.copies import DatabaseFilter
from shared.models import CopyJob

DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Report the plan, change nothing.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Copy even when a verified copy exists.")]


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("dispatch", hidden=True)(run)


def run(database: DatabaseOpt = None, dry_run: DryRunOpt = False, force: ForceOpt = False,
        json_output: JsonOpt = False, debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Plan, export and hand off copies now, as the nightly run does (every database unless named)."""
    from shared.dispatch.request import DispatchRequest
    from shared.dispatch.run import run_dispatch

    with Session(json_output, debug, verbose) as session:
        chosen = DatabaseFilter.from_values(database or [])
        request = DispatchRequest(database_ids=list(chosen.ids), database_names=list(chosen.names),
                                  dry_run=dry_run, force=force)
        session.store().check_bucket()  # before anything is exported, in a dry run too
        copied = _InlineCopies(session)
        report = run_dispatch(request, settings=session.settings, requested_by="cli", inline_runner=copied,
                              api_policy=API_POLICY)
        document = report.to_dict()
        for row in document["databases"]:
            row["copy"] = copied.result_for(row["database_id"])
        session.out.emit(document, lambda: _shown(document))
        if report.status != 200 or any(_not_done(d) for d in document["databases"]):
            session.not_done()


class _InlineCopies:
    """``HANDOFF_MODE=inline``: each job copied here (``shared.copying.run.run_job``, with a progress
    bar on a terminal), its result kept."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.results: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, job: CopyJob) -> Any:
        from shared.copying.run import run_job

        self.session.out.note(f"copying {job.database_name}: backup {job.backup_id} ({size(job.size)})")
        with self.session.out.progress(job.database_name, job.size) as advance:  # jobs run one after another
            result = run_job(job, self.session.settings, on_progress=advance)
        with self._lock:
            self.results[str(job.database_id)] = result.to_dict()
        return result

    def result_for(self, database_id: str | None) -> dict[str, Any] | None:
        return self.results.get(database_id or "")


def _not_done(row: dict[str, Any]) -> bool:
    return row["status"] in ("not_found", "failed") or (row["copy"] or {}).get("outcome") not in (
        None, "copied", "already_copied")


def _shown(document: dict[str, Any]) -> Any:
    from datetime import datetime

    rows = [(d["database_name"] or d["database_id"], d["status"], d["backup_id"],
             when(datetime.fromisoformat(d["created_at"]) if d["created_at"] else None), size(d["size"]),
             _why(d)) for d in document["databases"]]
    title = f"run {document['run_id']}" + (" (dry run)" if document["dry_run"] else "")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(document["summary"].items()))
    lines: list[Any] = [table(title, ("DATABASE", "STATUS", "BACKUP", "CREATED", "SIZE", "WHY"), rows),
                        counts or "no databases"]
    if document["stale"]:
        lines.append(f"stale before this run: {', '.join(document['stale'])}")
    return lines


def _why(row: dict[str, Any]) -> str:
    copy = row["copy"]
    if copy is not None:
        if copy["outcome"] == "copied":
            return f"copied here, sha256 {short_sha(copy['sha256'])} verified"
        error = copy.get("error") or {}
        return f"copy {copy['outcome']}: {error.get('message', '')}".rstrip(": ")
    return (row.get("error") or {}).get("message") or row["reason"]
