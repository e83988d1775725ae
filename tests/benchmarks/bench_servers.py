"""Benchmark helper: a sandbox API serving one backup per requested size, in its own process.

Prints one JSON line (base_url, token, project_id, and per size the backup's ids), then serves
until its stdin closes (the benchmark parent holds the pipe).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sandbox.api import SandboxServer  # noqa: E402
from sandbox.state import DatabaseSpec, SandboxConfig  # noqa: E402


def main() -> None:
    sizes = [int(s) for s in sys.argv[1].split(",")]
    specs = [DatabaseSpec(f"bench-{size}", sizes=(size,), backups=1) for size in sizes]
    config = SandboxConfig(databases=specs, export_delay_seconds=0.0, rate_limit=None)
    with SandboxServer(config) as server:
        backups = {}
        for size in sizes:
            db = server.state.database_named(f"bench-{size}")
            backup = server.state.latest_backup(db.id)
            link = server.link_for(backup, server.state.export(backup.id))
            backups[str(size)] = {"backup_id": backup.id, "database_id": db.id, "name": db.name,
                                  "created_at": backup.created_at.isoformat(), "link": link}
        print(json.dumps({"base_url": server.base_url, "token": server.token, "project_id": server.project_id,
                          "backups": backups}), flush=True)
        sys.stdin.read()  # until the parent closes the pipe


if __name__ == "__main__":
    main()
