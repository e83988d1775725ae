"""Entry point of the ``sdb-backup-export`` console script (``shared.cli.app`` holds the commands)."""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit status (0 done, 1 not done, 2 usage or configuration)."""
    from typer.main import get_command

    from shared.cli.app import app

    try:
        get_command(app).main(args=list(argv) if argv is not None else None, prog_name="sdb-backup-export",
                              standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
