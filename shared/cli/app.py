"""The ``sdb-backup-export`` command: one Typer app, one module per command group.

A new group is a module under ``shared.cli.commands`` with ``register(app)``, listed here.
Every command takes ``--json``, ``--debug`` and ``--verbose`` and runs inside a
``shared.cli.session.Session`` (settings, clients, logging, errors and exit codes).
"""

from __future__ import annotations

import typer

from shared.cli.commands import backups, copies, copy, dispatch, prune, restore, sandbox, status, verify

app = typer.Typer(
    name="sdb-backup-export",
    help="Verified off-site copies of Scaleway Serverless SQL Database backups: see, copy, verify, "
         "download and restore them. Reads the same settings as the functions (environment, then the scw "
         "config file). Exit status: 0 done, 1 something not done, 2 usage or configuration.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # errors are one line (a traceback only with --debug)
    context_settings={"help_option_names": ["-h", "--help"]},
)

for group in (status, backups, copy, copies, verify, restore, dispatch, prune, sandbox):
    group.register(app)
