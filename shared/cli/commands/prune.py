"""``prune``: retention now, for every database the bucket holds copies of (or those named).

The plan is the one the copy applies after each verified copy
(``shared.copying.pruning.preview_pruning``): what goes, and which rules keep each other copy. A
dry run shows it; a real run deletes what it says. A copy under Object Lock is kept, never an error.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import typer
from typing_extensions import Annotated

from shared.cli.commands.copies import chosen_copies
from shared.cli.render import size, table, when
from shared.cli.session import DatabaseOpt, DebugOpt, JsonOpt, Session, VerboseOpt
from shared.copies import DatabaseFilter
from shared.copying.retention import RetentionPlan
from shared.errors import StorageError

NO_RULE = "no_pruning_rule"


def register(app: typer.Typer) -> None:
    app.command("prune")(prune)


def prune(database: DatabaseOpt = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be deleted, delete nothing.")] = False,
          json_output: JsonOpt = False, debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Apply the retention rules (KEEP_*) now: delete the copies no rule keeps."""
    from shared.copying.pruning import preview_pruning

    with Session(json_output, debug, verbose) as session:
        settings = session.settings
        store = session.store()
        store.check_bucket()
        now = datetime.now(timezone.utc)
        results = []
        for database_id, name in _databases(chosen_copies(session, DatabaseFilter.from_values(database or []))):
            plan = preview_pruning(store, settings, database_name=name, database_id=database_id, now=now)
            results.append(_apply(store, database_id, name, plan, dry_run))
        document = {"dry_run": dry_run, "databases": results, "summary": _summary(results)}
        session.out.emit(document, lambda: _shown(document))
        if document["summary"]["failed"]:
            session.not_done()


def _databases(copies: list[Any]) -> list[tuple[str, str]]:
    """(id, name) of each database with a copy, as the copies' own metadata names it."""
    pairs = {(c.database_id, c.database_name) for c in copies if c.database_id and c.database_name}
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


def _apply(store: Any, database_id: str, name: str, plan: RetentionPlan, dry_run: bool) -> dict[str, Any]:
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    for copy in () if dry_run else plan.delete:
        try:
            store.delete(copy.key)
            deleted.append(copy.key)
        except StorageError as exc:
            failed.append({"key": copy.key, "code": exc.code, "message": exc.message})
    return {"database_id": database_id, "database_name": name, **plan.to_dict(), "deleted": deleted, "failed": failed}


def _summary(results: list[dict[str, Any]]) -> dict[str, int]:
    def count(field: str) -> int:
        return sum(len(r[field]) for r in results)

    return {"kept": count("keep"), "to_delete": count("delete"), "deleted": count("deleted"), "failed": count("failed")}


def _shown(document: dict[str, Any]) -> Any:
    results, summary = document["databases"], document["summary"]
    if not results:
        return "no copies in the bucket"
    rows = [row for r in results for row in _rows(r, document["dry_run"])]
    lines: list[Any] = [table(None, ("DATABASE", "BACKUP (UTC)", "SIZE", "ACTION", "WHY", "KEY"), rows)]
    if all(NO_RULE in k["reasons"] for r in results for k in r["keep"]):
        lines.append("no pruning rule is set (KEEP_LAST, KEEP_DAYS, KEEP_DAILY, ...): nothing is ever pruned")
    freed = sum(c["size"] for r in results for c in r["delete"] if document["dry_run"] or c["key"] in r["deleted"])
    if document["dry_run"]:
        lines.append(f"dry run: {summary['to_delete']} would be deleted ({size(freed)}), {summary['kept']} kept")
    else:
        lines.append(f"{summary['deleted']} deleted ({size(freed)}), {summary['kept']} kept, {summary['failed']} failed")
    return lines


def _rows(result: dict[str, Any], dry_run: bool) -> list[tuple[Any, ...]]:
    """One row per copy, newest first: kept (and why) or deleted."""
    failed = {f["key"]: f["code"] for f in result["failed"]}
    entries = [(kept, "keep", ", ".join(kept["reasons"])) for kept in result["keep"]]
    entries += [(gone, "would delete" if dry_run else f"FAILED: {failed[gone['key']]}" if gone["key"] in failed
                 else "deleted", "no rule keeps it") for gone in result["delete"]]
    entries.sort(key=lambda e: (e[0]["created_at"], e[0]["key"]), reverse=True)  # ISO 8601 in UTC: sortable
    return [(result["database_name"], when(datetime.fromisoformat(c["created_at"])), size(c["size"]), action, why,
             c["key"]) for c, action, why in entries]
