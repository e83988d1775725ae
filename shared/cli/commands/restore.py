"""``restore``: the restore drill, a copy streamed from the bucket into ``pg_restore``."""

from __future__ import annotations

from typing import Any

import typer
from typing_extensions import Annotated

from shared.cli.commands.copies import KeyArg
from shared.cli.render import size
from shared.cli.session import DebugOpt, JsonOpt, Session, VerboseOpt


def register(app: typer.Typer) -> None:
    app.command("restore")(restore)


def restore(key: KeyArg,
            to: Annotated[str, typer.Option("--to", metavar="postgresql://USER[:PASSWORD]@HOST[:PORT]/DB",
                                            help="The database to restore into (fresh, unless --clean).")],
            clean: Annotated[bool, typer.Option(
                "--clean", help="Restore into a non-empty database: drop and recreate the archive's objects.")] = False,
            json_output: JsonOpt = False, debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Restore a copy into a PostgreSQL database, verified on the way.

    Nothing is committed unless every byte matched the copy's SHA-256."""
    from shared.restore import Target, Tools, restore_copy

    with Session(json_output, debug, verbose) as session:
        target = Target.parse(to)
        tools = Tools.find()
        with session.out.progress(f"restore into {target.display}", None) as advance:
            done = restore_copy(session.store(), key, target, clean=clean, tools=tools, progress=advance)
        session.out.emit(done.to_dict(), lambda: _text(done))


def _text(done: Any) -> str:
    return (f"restored {done.key} ({size(done.size)}, sha256 {done.sha256} verified) into {done.target}: "
            f"{done.tables} tables" + (" (--clean)" if done.clean else ""))
