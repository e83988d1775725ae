"""``verify``: read copies back and check them; with ``--restore-check`` the same stream also
goes through ``pg_restore --list``, which says what the archive holds or why it is not one."""

from __future__ import annotations

from typing import Any, Optional

import typer
from typing_extensions import Annotated

from shared.cli.commands.copies import chosen_copies
from shared.cli.render import size, table
from shared.cli.session import DatabaseOpt, DebugOpt, JsonOpt, Session, VerboseOpt
from shared.copies import Copy, DatabaseFilter, Verification, verify_copy, verify_key
from shared.errors import InvalidRequest


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)


def verify(keys: Annotated[Optional[list[str]], typer.Argument(metavar="KEY", help="Copies to verify.")] = None,
           database: DatabaseOpt = None,
           restore_check: Annotated[bool, typer.Option(
               "--restore-check", help="Also read each copy with pg_restore --list.")] = False,
           json_output: JsonOpt = False, debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Re-read copies as a stream and check their size and SHA-256 (all copies unless named)."""
    with Session(json_output, debug, verbose) as session:
        if keys and database:
            raise InvalidRequest("name keys or --database, not both")
        store = session.store()
        tools = _pg_restore() if restore_check else None
        targets: list[Any] = list(keys) if keys else chosen_copies(session, DatabaseFilter.from_values(database or []))
        results = [_one(session, store, target, tools) for target in targets]
        failed = [r for r in results if not r["ok"]]
        document = {"results": results, "summary": {"verified": len(results) - len(failed), "failed": len(failed)}}
        session.out.emit(document, lambda: _summary(results, restore_check))
        if failed:
            session.not_done()


def _pg_restore() -> str:
    from shared.restore.tools import find_tool

    return find_tool("pg_restore")  # before any reading: a missing tool is a setup problem (exit 2)


def _one(session: Session, store: Any, target: str | Copy, pg_restore: str | None) -> dict[str, Any]:
    check = _listing(pg_restore)
    try:
        result = _read(session, store, target, check.feed if check else None)
    except BaseException:
        if check:
            check.abort()
        raise
    entry = result.to_dict()
    if check is None:
        return entry
    if result.size is None:  # nothing was read: there is no archive to speak of
        check.abort()
        entry["archive"] = None
        return entry
    archive = check.finish()
    entry["archive"] = archive.to_dict()
    if result.ok and not archive.valid:
        entry.update(ok=False, problem="not_a_valid_dump", message=archive.error)
    return entry


def _read(session: Session, store: Any, target: str | Copy, tee: Any) -> Verification:
    key, total = (target, None) if isinstance(target, str) else (target.key, target.size)
    with session.out.progress(key.rsplit("/", 1)[-1], total) as advance:
        progress = _counter(advance, total)
        if isinstance(target, str):
            return verify_key(store, target, tee=tee, progress=progress)
        return verify_copy(store, target, tee=tee, progress=progress)


def _listing(pg_restore: str | None) -> Any:
    if pg_restore is None:
        return None
    from shared.restore import ListingCheck

    return ListingCheck(pg_restore)


def _counter(advance: Any, total: int | None) -> Any:
    done = 0

    def step(n: int) -> None:
        nonlocal done
        done += n
        advance(done, total)
    return step


def _summary(results: list[dict[str, Any]], restore_check: bool) -> Any:
    if not results:
        return "nothing to verify"
    columns = ["RESULT", "SIZE", "KEY"] + (["ARCHIVE"] if restore_check else [])
    rows = [["ok" if r["ok"] else f"FAILED: {r['problem']}", size(r["size"]), r["key"],
             *([_archive_cell(r)] if restore_check else [])] for r in results]
    failed = sum(1 for r in results if not r["ok"])
    lines = [f"{r['key']}: {r['message']}" for r in results if not r["ok"] and r.get("message")]
    return [table(None, columns, rows), *lines, f"{len(results) - failed} verified, {failed} failed"]


def _archive_cell(result: dict[str, Any]) -> str:
    archive = result.get("archive")
    if not archive:
        return "-"
    if not archive["valid"]:
        return f"not a valid dump: {archive['error']}"
    return f"{len(archive['tables'])} tables, {len(archive['indexes'])} indexes, {len(archive['data'])} data"
