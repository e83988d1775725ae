"""``copies`` and ``download``: what the bucket holds, and fetching a copy back."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from typing_extensions import Annotated

from shared.cli.render import short_sha, size, table, when
from shared.cli.session import DatabaseOpt, DebugOpt, JsonOpt, Session, VerboseOpt
from shared.copies import Copy, DatabaseFilter, destination_for, download_copy, list_copies

KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="The copy's object key (see `copies`).")]


def register(app: typer.Typer) -> None:
    app.command("copies")(copies)
    app.command("download")(download)


def chosen_copies(session: Session, chosen: DatabaseFilter) -> list[Copy]:
    """Our copies of the chosen databases; a named database without any is reported (exit 1)."""
    settings = session.settings
    found = list_copies(session.store(), template=settings.backup_key_template, prefix=settings.backup_prefix,
                        databases=chosen)
    missing = [i for i in chosen.ids if not any(c.database_id == i for c in found)]
    missing += [n for n in chosen.names if not any(c.database_name == n for c in found)]
    if missing:
        session.out.note(f"not found: no copies of {', '.join(missing)} in the bucket [not_found]")
        session.not_done()
    return found


def copies(database: DatabaseOpt = None, json_output: JsonOpt = False, debug: DebugOpt = False,
           verbose: VerboseOpt = False) -> None:
    """What the bucket holds, per database: key, size, backup date, SHA-256, retention lock."""
    with Session(json_output, debug, verbose) as session:
        found = chosen_copies(session, DatabaseFilter.from_values(database or []))
        session.out.emit({"copies": [c.to_dict() for c in found]}, lambda: _copies_table(found))


def download(key: KeyArg,
             path: Annotated[Optional[Path], typer.Argument(help="File or folder (default: the key's file name here).")] = None,
             json_output: JsonOpt = False, debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Download a copy, verified against its SHA-256; an interrupted download resumes."""
    with Session(json_output, debug, verbose) as session:
        destination = destination_for(key, path)
        with session.out.progress(destination.name, None) as advance:
            done = download_copy(session.store(), key, destination, progress=advance)
        session.out.emit(done.to_dict(), lambda: _download_text(done))


def _copies_table(found: list[Copy]) -> Any:
    if not found:
        return "no copies in the bucket"
    rows = [(c.database_name, when(c.backup_created_at), size(c.size), short_sha(c.sha256) if c.verified else "unverified",
             _lock(c), c.key) for c in found]
    return table(None, ("DATABASE", "BACKUP (UTC)", "SIZE", "SHA-256", "LOCK", "KEY"), rows)


def _lock(copy: Copy) -> str:
    if not copy.lock_mode and not copy.legal_hold:
        return "-"
    until = f" until {when(copy.lock_until)}" if copy.lock_until else ""
    return (copy.lock_mode or "") + until + (" legal hold" if copy.legal_hold else "")


def _download_text(done: Any) -> str:
    if done.already_there:
        return f"{done.path} already holds this copy (sha256 {done.sha256})"
    resumed = f", resumed at {size(done.resumed_from)}" if done.resumed_from else ""
    return f"{done.path}: {size(done.size)}, sha256 {done.sha256} verified{resumed}"
