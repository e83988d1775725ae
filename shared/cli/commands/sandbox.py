"""``sandbox``: the local servers (sandbox API, moto S3) and the settings that point at them.

The only command that imports ``sandbox`` (lazily): the rest of the tool never does.
"""

from __future__ import annotations

import os
import shlex
import signal
import threading
from typing import Any, Optional

import typer
from typing_extensions import Annotated

from shared.cli.session import DebugOpt, JsonOpt, Session, VerboseOpt


def register(app: typer.Typer) -> None:
    app.command("sandbox")(sandbox)


def sandbox(config: Annotated[str, typer.Option(help="The seeded project: default or demo.")] = "default",
            serve_file: Annotated[Optional[list[str]], typer.Option(
                "--serve-file", metavar="DATABASE=PATH",
                help="Serve this file (a pg_dump -Fc archive) as DATABASE's newest backup (repeatable).")] = None,
            export_delay: Annotated[Optional[float], typer.Option(help="Seconds until an export's link appears.")] = None,
            json_output: JsonOpt = False, debug: DebugOpt = False, verbose: VerboseOpt = False) -> None:
    """Start the local sandbox API and S3 server, print the settings that point at them.

    Both listen on 127.0.0.1 and run until Ctrl-C."""
    from sandbox.operator import operator_servers

    if config not in ("default", "demo"):
        raise typer.BadParameter("default or demo", param_hint="--config")
    for spec in serve_file or []:
        name, _, path = spec.partition("=")
        if not name or not os.path.isfile(path):
            raise typer.BadParameter("DATABASE=PATH of an existing file", param_hint="--serve-file")
    with Session(json_output, debug, verbose) as session:
        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        with operator_servers(config=config, serve_files=serve_file or [], export_delay=export_delay) as servers:
            session.out.emit({"settings": servers.settings, "log_dir": str(servers.log_dir)},
                             lambda: _exports(servers.settings))
            session.out.note(f"sandbox API and S3 (moto) running, logs in {servers.log_dir}; Ctrl-C stops them")
            stopping.wait()
        session.out.note("stopped")


def _exports(settings: dict[str, Any]) -> str:
    lines = [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]
    return "\n".join(lines)
