"""``copy``: copy backups now, in this process, through the copy function's own use case
(``shared.copying.run.run_job``): export, stream into the bucket, verify, notify, stamp, prune.
A copy here is never handed over: one longer than the function's timeout goes on to its end."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Optional

import typer
from rich.text import Text
from typing_extensions import Annotated

from shared.cli.commands.backups import report_missing
from shared.cli.render import iso, size, table
from shared.cli.session import DatabaseOpt, DebugOpt, JsonOpt, Session, VerboseOpt
from shared.copies import DatabaseFilter
from shared.copies.jobs import ChosenJobs, job_for_backup, jobs_for_databases, run_id
from shared.errors import InvalidRequest
from shared.models import CopyJob

ForceOpt = Annotated[bool, typer.Option("--force", help="Copy again even when a verified copy is stored.")]
DONE_OUTCOMES = ("copied", "already_copied")


def register(app: typer.Typer) -> None:
    app.command("copy")(copy)


def copy(backup_id: Annotated[Optional[str], typer.Argument(metavar="[BACKUP_ID]", help="The backup to copy.")] = None,
         database: DatabaseOpt = None, force: ForceOpt = False, json_output: JsonOpt = False,
         debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Copy a backup (or each named database's newest ready one) now, and show its verified SHA-256."""
    with Session(json_output, debug, verbose) as session:
        if bool(backup_id) == bool(database):
            raise InvalidRequest("name a BACKUP_ID or --database, one of the two")
        store = session.store()
        store.check_bucket()  # before anything is exported
        if session.settings.object_lock_mode:
            store.check_object_lock()  # a copy could not get its retention
        chosen = _chosen(session, backup_id, DatabaseFilter.from_values(database or []), force)
        rows = [_copy_one(session, store, job) for job in chosen.jobs]
        document = {"copies": rows, "not_found": list(chosen.not_found),
                    "no_ready_backup": list(chosen.no_ready_backup), "summary": _summary(rows)}
        session.out.emit(document, lambda: _shown(rows))
        report_missing(session, list(chosen.not_found), "no such database in the project")
        if chosen.no_ready_backup:
            session.out.note(f"no ready backup: {', '.join(chosen.no_ready_backup)} [no_ready_backup]")
        if chosen.no_ready_backup or any(r["outcome"] not in DONE_OUTCOMES for r in rows):
            session.not_done()


def _chosen(session: Session, backup_id: str | None, databases: DatabaseFilter, force: bool) -> ChosenJobs:
    api, now, run = session.api(), datetime.now(timezone.utc), run_id()
    if backup_id:
        return ChosenJobs((job_for_backup(api, backup_id, session.settings, now=now, run=run, force=force),))
    return jobs_for_databases(api, databases, session.settings, now=now, run=run, force=force)


def _copy_one(session: Session, store: Any, job: CopyJob) -> dict[str, Any]:
    from shared.copying.engine import Transfer, transfer_clients
    from shared.copying.run import CopyClients, run_job

    settings = session.settings
    session.out.note(f"copying {job.database_name}: backup {job.backup_id} ({size(job.size)})")
    download, upload = transfer_clients()
    clients = CopyClients(session.api(), store, Transfer(download, upload, verify_md5=settings.verify_part_md5))
    try:
        with session.out.progress(job.database_name, job.size) as advance:
            result = run_job(job, settings, clients=clients, remaining_time=lambda: math.inf, on_progress=advance)
    finally:
        download.close()
        upload.close()
    sha = result.sha256 or (_stamped_sha(store, job.object_key) if result.outcome == "already_copied" else None)
    return {"database_id": str(job.database_id), "database_name": job.database_name, "backup_id": str(job.backup_id),
            "backup_created_at": iso(job.backup_created_at), "bucket": store.bucket, "key": job.object_key,
            "outcome": result.outcome, "size": result.size or job.size, "sha256": sha, "parts": result.parts,
            "seconds": result.seconds, "throughput_mb_s": result.throughput_mb_s,
            "error": result.error.to_dict() if result.error else None}


def _stamped_sha(store: Any, key: str) -> str | None:
    """The SHA-256 stamped on the copy already stored (written only once it was verified)."""
    from shared.keys import META_SHA256

    found = store.head(key)
    return found.metadata.get(META_SHA256) if found else None


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return counts


def _shown(rows: list[dict[str, Any]]) -> Any:
    if not rows:
        return "nothing copied"
    shown = [(r["database_name"], r["backup_id"], r["outcome"], size(r["size"]), _rate(r), r["key"]) for r in rows]
    lines: list[Any] = [table(None, ("DATABASE", "BACKUP", "OUTCOME", "SIZE", "RATE", "KEY"), shown)]
    for r in rows:
        if r["sha256"]:
            lines.append(f"{r['database_name']}: sha256 {r['sha256']} verified")
        elif r["error"]:
            lines.append(Text(f"{r['database_name']}: {r['error']['message']} [{r['error']['code']}]"))
    return lines


def _rate(row: dict[str, Any]) -> str:
    return f"{row['throughput_mb_s']:g} MB/s" if row["throughput_mb_s"] else "-"

