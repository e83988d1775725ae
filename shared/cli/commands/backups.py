"""``backups`` and ``export``: what the backup API holds, and asking it for a link."""

from __future__ import annotations

import time
from typing import Any

import typer
from typing_extensions import Annotated

from shared.cli.render import iso, size, table, when
from shared.cli.session import DatabaseOpt, DebugOpt, JsonOpt, Session, VerboseOpt
from shared.copies import DatabaseFilter
from shared.copies.backups import BackupRow, backups_with_copies, select
from shared.dispatch.plan import KeyLayout, Selection
from shared.models import DatabaseBackup


def register(app: typer.Typer) -> None:
    app.command("backups")(backups)
    app.command("export")(export)


def backups(database: DatabaseOpt = None, json_output: JsonOpt = False, debug: DebugOpt = False,
            verbose: VerboseOpt = False) -> None:
    """Backups of every database (or those named): status, size, and whether a verified copy is stored."""
    with Session(json_output, debug, verbose) as session:
        chosen = DatabaseFilter.from_values(database or [])
        settings = session.settings
        api = session.api()
        selection = select(api, chosen)
        layout = KeyLayout(settings.backup_key_template, settings.backup_prefix,
                           settings.scw_default_project_id or "", settings.region)
        rows = backups_with_copies(api, session.store_if_configured(), layout, selection.databases,
                                   every=chosen.empty)
        missing = missing_names(selection)
        session.out.emit({"backups": [r.to_dict() for r in rows], "not_found": missing}, lambda: _backups_table(rows))
        report_missing(session, missing, "no such database in the project")


def export(backup_id: Annotated[str, typer.Argument(help="The backup's id.")],
           wait: Annotated[bool, typer.Option("--wait", help="Wait until the download link is ready.")] = False,
           timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 600.0,
           json_output: JsonOpt = False, debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Ask the API to export a backup (after checking that the bucket exists)."""
    with Session(json_output, debug, verbose) as session:
        session.store().check_bucket()  # an export is the first step of a copy: not without a bucket
        api = session.api()
        backup = api.export_backup(backup_id)
        if wait and not backup.download_url:
            with session.out.err.status("waiting for the download link..."):
                backup = api.wait_for_download_url(backup_id, deadline=time.monotonic() + timeout,
                                                   requested=True)
        document = {"backup_id": str(backup.id), "database_id": str(backup.database_id), "status": backup.status,
                    "export_requested": True, "download_ready": bool(backup.download_url),
                    "download_url_expires_at": iso(backup.download_url_expires_at)}
        session.out.emit(document, lambda: _export_text(backup))


def missing_names(selection: Selection) -> list[str]:
    return [str(i) for i in selection.missing_ids] + list(selection.missing_names)


def report_missing(session: Session, missing: list[str], why: str) -> None:
    """Named databases that were not found: a note, and exit 1."""
    if missing:
        session.out.note(f"not found: {', '.join(missing)} ({why}) [not_found]")
        session.not_done()


def _backups_table(rows: list[BackupRow]) -> Any:
    shown = [(r.database.name, r.backup.id, r.backup.status, when(r.backup.created_at), size(r.backup.size),
              _copy_cell(r.verified_copy)) for r in rows]
    return table(None, ("DATABASE", "BACKUP", "STATUS", "CREATED", "SIZE", "VERIFIED COPY"), shown)


def _copy_cell(verified: bool | None) -> str:
    return "unknown (no BACKUP_BUCKET)" if verified is None else ("yes" if verified else "no")


def _export_text(backup: DatabaseBackup) -> str:
    if backup.download_url:
        return f"backup {backup.id}: download link ready until {when(backup.download_url_expires_at)}"
    return f"backup {backup.id}: export requested; its download link appears in a few minutes"
