"""Operator CLI: ``sdb-backup-export latest`` and ``sdb-backup-export dispatch``.

Both read the same settings as the functions (environment, then the ``scw`` config file).
``dispatch`` runs the dispatch use case here, handing jobs off as ``HANDOFF_MODE`` says
(``inline`` copies in this process).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from shared.errors import BackupExportError
from shared.units import human_size


def latest_rows(databases: Sequence, latest: dict) -> list[tuple[str, str, str, str, str]]:
    """One row per database: name, status, latest ready backup id, its date and size."""
    rows = []
    for db in sorted(databases, key=lambda d: d.name):
        backup = latest.get(db.id)
        rows.append((
            db.name, db.status,
            str(backup.id) if backup else "-",
            backup.created_at.strftime("%Y-%m-%d %H:%M UTC") if backup and backup.created_at else "-",
            (human_size(backup.size) if backup.size is not None else "-") if backup else "no ready backup",
        ))
    return rows


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cmd_latest(args: argparse.Namespace) -> int:
    from shared.scaleway.client import ScalewayClient
    from shared.settings import load_settings

    settings = load_settings()
    with ScalewayClient.from_settings(settings) as api:
        databases = api.list_databases()
        latest = api.latest_ready_backups()
    rows = latest_rows(databases, latest)
    if args.json:
        keys = ("database", "status", "backup_id", "created_at", "size")
        print(json.dumps([dict(zip(keys, row)) for row in rows], indent=2))
    else:
        print(format_table(("DATABASE", "STATUS", "LATEST READY BACKUP", "CREATED", "SIZE"), rows))
    return 0


def cmd_dispatch(args: argparse.Namespace) -> int:
    from shared.dispatch.run import run_dispatch
    from shared.dispatch.request import DispatchRequest
    from shared.settings import load_settings

    request = DispatchRequest(database_names=args.database or [], dry_run=args.dry_run, force=args.force)
    report = run_dispatch(request, settings=load_settings(), requested_by="cli")
    print(json.dumps(report.to_dict(), indent=2, default=str))
    return 0 if report.status == 200 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdb-backup-export", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    latest = sub.add_parser("latest", help="print the latest ready backup of every database")
    latest.add_argument("--json", action="store_true", help="print JSON instead of a table")
    latest.set_defaults(func=cmd_latest)
    dispatch = sub.add_parser("dispatch", help="plan, export and hand off copies now")
    dispatch.add_argument("--database", action="append", metavar="NAME", help="only this database (repeatable)")
    dispatch.add_argument("--dry-run", action="store_true", help="report the plan, change nothing")
    dispatch.add_argument("--force", action="store_true", help="copy even when a verified copy exists")
    dispatch.set_defaults(func=cmd_dispatch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from shared.observability import configure_logging

    args = build_parser().parse_args(argv)
    configure_logging("WARNING", stream=sys.stderr)
    try:
        return args.func(args)
    except BackupExportError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
