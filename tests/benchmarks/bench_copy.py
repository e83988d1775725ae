"""Copy benchmark: our streaming copy against the usual tools, same source, two real S3 servers, one table each.

    .venv/bin/python tests/benchmarks/bench_copy.py --sizes 1GiB,8GiB [--runs 3] [--destinations sink,seaweedfs]

Source: the sandbox's presigned download link (a real server in its own process). Destinations
(``destinations.py``): ``sink`` (MD5s every part, keeps no bytes) and ``seaweedfs`` (keeps every
byte and computes ETags; each copy is checked against the source's digests). Tools: see
``copy_commands.py``. Every figure is the median of ``--runs`` runs, each a child process
measured with ``os.wait4`` (``measuring.py``); tools take turns within each round, so a noisy
moment falls on all of them. The hash floor (hashlib's MD5 and SHA-256, what the copy's two
checks cost before a byte moves) is measured before and after the copies, in the same run.

``--one-core`` pins each copying tool (with all its processes and threads) to core 0 and the
servers to core 1, with ``taskset``: the tool then has a fixed CPU budget, as on a function
(70 mvCPU at 128 MB), and the servers' work does not come out of it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from copy_commands import PY, ROOT, TOOLS, Commands, missing  # noqa: E402
from destinations import DESTINATIONS, Destination, Expected  # noqa: E402
from measuring import GiB, Row, hash_floor, human, measure, parse_size, print_table  # noqa: E402

OVERHEAD_TARGET = 0.4  # CPU-s/GiB above the hash floor, at 8 GiB
RSS_TARGET = 96  # MiB at 8 GiB


def start_sandbox(sizes: list[int], pin: list[str]) -> tuple[subprocess.Popen[str], dict]:
    proc = subprocess.Popen([*pin, PY, str(HERE / "bench_servers.py"), ",".join(map(str, sizes))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def run_matrix(dest: Destination, commands: Commands, sizes: list[int], tools: list[str], runs: int,
               expected: dict[int, Expected], pin: list[str]) -> list[Row]:
    rows = []
    for size in sizes:
        results: dict[str, tuple[list, list]] = {tool: ([], []) for tool in tools}
        for round_ in range(runs):
            for tool in tools:
                key = commands.key_for(tool, size, round_)
                cmd, env = commands.command(tool, size, key, dest)
                run = measure(cmd, env, ROOT, pin)
                check = dest.check(tool, key, expected[size])
                if run.code != 0:
                    check = f"FAILED rc={run.code} {' '.join(run.stderr.split())[-160:]}"
                dest.clear(key)
                results[tool][0].append(run)
                results[tool][1].append(check)
                print(f"  {dest.name} {tool} {human(size)} run {round_ + 1}: {run.seconds:.1f} s, "
                      f"{run.cpu / (size / GiB):.2f} CPU-s/GiB, {run.rss_mib:.0f} MiB, {check}", file=sys.stderr,
                      flush=True)
        rows += [Row(dest.name, tool, size, runs_, checks) for tool, (runs_, checks) in results.items()]
    return rows


def summary(rows: list[Row], floor: dict[str, float]) -> None:
    both = floor["md5"] + floor["sha256"]
    print(f"\nhash floor: MD5 {floor['md5']:.2f} + SHA-256 {floor['sha256']:.2f} = {both:.2f} CPU-s/GiB "
          "(hashlib, 1 MiB updates; median of the measures before and after the copies)")
    by = {(r.destination, r.tool, r.size): r for r in rows}
    for (dest, tool, size), row in by.items():
        if tool != "ours":
            continue
        line = f"{dest}, {human(size)}: ours {row.cpu_per_gib:.2f} - {both:.2f} = {row.cpu_per_gib - both:.2f}"
        no_md5 = by.get((dest, "ours-no-md5", size))
        if no_md5:
            line += f"; ours-no-md5 {no_md5.cpu_per_gib:.2f} - {floor['sha256']:.2f} = " \
                    f"{no_md5.cpu_per_gib - floor['sha256']:.2f}"
        bytes_only = by.get((dest, "ours-no-hash", size))
        if bytes_only:
            line += f"; of it, moving the bytes (ours-no-hash): {bytes_only.cpu_per_gib:.2f}"
        line += f"; peak RSS {row.rss_mib:.0f} MiB"
        print("overhead above the floor, " + line)
    print(f"targets at 8 GiB: overhead above the floor <= {OVERHEAD_TARGET} CPU-s/GiB, peak RSS <= {RSS_TARGET} MiB")


def skipped(tool: str) -> bool:
    why = missing(tool)
    if why:
        print(f"{tool}: skipped, {why}", flush=True)
    return why is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1GiB,8GiB")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--destinations", default=",".join(DESTINATIONS))
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and size; figures are medians")
    parser.add_argument("--one-core", action="store_true", help="each tool on core 0, the servers on core 1")
    args = parser.parse_args()
    pin_tool, pin_servers = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if args.one_core else ([], [])
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    tools = [tool for tool in filter(None, args.tools.split(",")) if not skipped(tool)]
    floors = [hash_floor()]
    sandbox, info = start_sandbox(sizes, pin_servers)
    rows: list[Row] = []
    try:
        expected = {size: Expected(size) for size in sizes}
        if any(DESTINATIONS[d].keeps_bytes for d in args.destinations.split(",")):
            print("digesting the source once, to check what each copy stored...", file=sys.stderr, flush=True)
            expected = {size: Expected.of(info["backups"][str(size)]["backup_id"], size) for size in sizes}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SCW_", "RCLONE_"))}
        with tempfile.TemporaryDirectory() as tmp:
            env.update(SCW_CONFIG_PATH=str(Path(tmp) / "no-scw.yaml"), PYTHONUNBUFFERED="1")
            commands = Commands(info, env, Path(tmp))
            for name in args.destinations.split(","):
                dest = DESTINATIONS[name](pin_servers)
                try:
                    rows += run_matrix(dest, commands, sizes, tools, args.runs, expected, pin_tool)
                finally:
                    dest.close()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    floors.append(hash_floor())
    for name in args.destinations.split(","):
        kept = "keeps the bytes: each copy checked against the source" if DESTINATIONS[name].keeps_bytes \
            else "keeps no bytes: each copy's size checked"
        print_table(f"into {name} ({kept}):", [r for r in rows if r.destination == name])
    summary(rows, {k: statistics.median(f[k] for f in floors) for k in ("md5", "sha256")})
    sys.exit(0 if all(r.ok for r in rows) else 1)


if __name__ == "__main__":
    main()
