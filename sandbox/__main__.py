"""``python -m sandbox``: run the sandbox API alone on 127.0.0.1.

The first line on stdout is one JSON object (base_url, project_id, organization_id, region,
token) so a parent process can read where to connect; it serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import Any

from sandbox.api import SandboxServer
from sandbox.readings import Readings
from sandbox.state import SandboxConfig, SandboxState


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default="", help="API token (a UUID); default derived from the seed")
    parser.add_argument("--config", choices=("default", "demo"), default="default")
    parser.add_argument("--databases", type=int, default=0, help="seed N generated databases instead")
    parser.add_argument("--export-delay", type=float, default=None, help="seconds until a link appears")
    parser.add_argument("--rate-limit", type=int, default=None, help="requests per second; 0 disables")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--serve-file", action="append", default=[], metavar="DATABASE=PATH",
                        help="serve this file (e.g. a pg_dump -Fc archive) as DATABASE's newest backup (repeatable)")
    parser.add_argument("--link-ttl", type=int, default=None, help="seconds a download link lives (default a day)")
    readings = parser.add_argument_group("undocumented behaviours of the real API (sandbox/readings.py)")
    readings.add_argument("--locked-during-export", action="store_true", help="backups show 'locked' while exporting")
    readings.add_argument("--repeat-export", type=int, choices=(200, 409, 412), default=200,
                          help="the answer to an export requested while one is under way")
    readings.add_argument("--cut-first-request", type=int, default=None, metavar="N",
                          help="cut the first download request of each file after N bytes")
    readings.add_argument("--page-size-cap", type=int, default=None, metavar="N", help="serve at most N items a page")
    readings.add_argument("--total-count-page-length", action="store_true", help="total_count is the page's length")
    readings.add_argument("--virtual-hosted-links", action="store_true", help="links on <bucket>.s3.<region>.scw.cloud")
    readings.add_argument("--ignore-range", action="store_true", help="downloads answer the whole object")
    return parser.parse_args(argv)


def serve_files(state: SandboxState, specs: list[str]) -> None:
    """Each ``DATABASE=PATH``: a new, newest backup of that database (created if absent) whose
    bytes are the file's."""
    for spec in specs:
        name, _, path = spec.partition("=")
        if not name or not path or not os.path.isfile(path):
            raise SystemExit(f"--serve-file wants DATABASE=PATH of an existing file, got {spec!r}")
        database = state.database_named(name) or state.add_database(name)
        state.add_backup(database.id, source_path=os.path.abspath(path))


def readings_of(args: argparse.Namespace) -> Readings:
    return Readings(locked_during_export=args.locked_during_export, repeat_export=args.repeat_export,
                    cut_first_request_after=args.cut_first_request, page_size_cap=args.page_size_cap,
                    total_count_is_page_length=args.total_count_page_length,
                    virtual_hosted_links=args.virtual_hosted_links, ignore_range=args.ignore_range)


def build_config(args: argparse.Namespace) -> SandboxConfig:
    overrides: dict[str, Any] = {"token": args.token, "seed": args.seed, "readings": readings_of(args)}
    if args.link_ttl is not None:
        overrides["link_ttl_seconds"] = args.link_ttl
    if args.export_delay is not None:
        overrides["export_delay_seconds"] = args.export_delay
    if args.rate_limit is not None:
        overrides["rate_limit"] = args.rate_limit or None
    if args.databases:
        return SandboxConfig.generated(args.databases, **overrides)
    factory = SandboxConfig.demo if args.config == "demo" else SandboxConfig.default
    return factory(**overrides)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    server = SandboxServer(build_config(args), port=args.port)
    serve_files(server.state, args.serve_file)
    server.start()
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    address = {
        "base_url": server.base_url,
        "project_id": server.project_id,
        "organization_id": server.organization_id,
        "region": server.region,
        "token": server.token,
    }
    print(json.dumps(address), flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
