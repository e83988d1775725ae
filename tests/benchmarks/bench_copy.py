"""Copy benchmark: our streaming copy against the usual tools, same source, same sink, one table.

    .venv/bin/python tests/benchmarks/bench_copy.py --sizes 1GiB,8GiB

Source: the sandbox's presigned download link (a real server in its own process). Destination:
``sandbox.s3sink`` in its own process (computes part MD5s, keeps no bytes; moto keeps
everything in memory and is too slow for GiBs). Each copy runs as a child process measured with
``os.wait4``: CPU = user + sys of the process and the children it reaped; peak RSS = ru_maxrss
(for a shell pipeline, the largest single process of it, not the sum).

``--one-core`` pins each copying tool (with all its processes and threads) to core 0 and the
servers to core 1, with ``taskset``: the tool then has a fixed CPU budget, as on a function
(70 mvCPU at 128 MB), and the servers' work (generating bytes, the sink's MD5 of every part,
which a real object store does on its own machines) does not come out of it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
KEY, SECRET = "SCWXXXXXXXXXXXXXXXXX", "11111111-2222-3333-4444-555555555555"
BUCKET = "bench"
UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "B": 1}
TOOLS = ("ours", "ours-no-md5", "naive", "curl|aws", "rclone")


@dataclass
class Row:
    tool: str
    size: int
    seconds: float
    cpu: float
    rss_mib: float
    ok: str

    def cells(self) -> list[str]:
        gib = self.size / (1 << 30)
        return [self.tool, human(self.size), f"{self.seconds:.1f}", f"{self.size / 1e6 / self.seconds:.0f}",
                f"{self.cpu:.2f}", f"{self.cpu / gib:.2f}", f"{self.rss_mib:.0f}", self.ok]


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(KiB|MiB|GiB|B)?", text.strip())
    if not match:
        raise SystemExit(f"bad size {text!r}: use e.g. 256MiB or 8GiB")
    return int(float(match[1]) * UNITS[match[2] or "B"])


def human(size: int) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]} {unit}"
    return f"{size} B"


PIN_TOOL: list[str] = []
PIN_SERVERS: list[str] = []


def start(cmd: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([*PIN_SERVERS, *cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    """Wall seconds, CPU seconds (user+sys incl. reaped children), peak RSS MiB, exit code, stderr."""
    with tempfile.TemporaryFile() as err:
        began = time.monotonic()
        proc = subprocess.Popen([*PIN_TOOL, *cmd], env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-500:]
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, tail


def hash_floor(mib: int = 256) -> dict[str, float]:
    """CPU seconds per GiB of hashlib's MD5 and SHA-256 on this machine (1 MiB updates)."""
    block = os.urandom(1 << 20)
    out = {}
    for name in ("md5", "sha256"):
        digest = hashlib.new(name)
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(mib):
            digest.update(block)
        after = resource.getrusage(resource.RUSAGE_SELF)
        spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out[name] = spent * 1024 / mib
    return out


class Bench:
    def __init__(self, sink_url: str, sandbox: dict[str, Any], workdir: Path) -> None:
        self.sink = sink_url
        self.sandbox = sandbox
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SCW_", "RCLONE_"))}
        self.env.update(SCW_CONFIG_PATH=str(workdir / "no-scw.yaml"), PYTHONUNBUFFERED="1")
        (workdir / "aws.cfg").write_text("[default]\ns3 =\n  multipart_chunksize = 16MB\n")

    def command(self, tool: str, size: int, key: str) -> tuple[list[str], dict[str, str]]:
        backup = self.sandbox["backups"][str(size)]
        link = backup["link"]
        if tool.startswith("ours"):
            return self._ours(backup, size, key, verify_md5=tool == "ours"), self.env
        if tool == "naive":
            return [PY, str(HERE / "copy_tool.py"), "naive", link, self.sink, BUCKET, key], self.env
        if tool == "curl|aws":
            env = {**self.env, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "fr-par",
                   "AWS_CONFIG_FILE": str(self.workdir / "aws.cfg"),
                   "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                   "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"}
            aws = shutil.which("aws") or "/root/.pyenv/shims/aws"
            line = (f"set -o pipefail; curl -sS --fail {shlex.quote(link)} | {aws} s3 cp - s3://{BUCKET}/{key} "
                    f"--expected-size {size} --endpoint-url {self.sink} --only-show-errors")
            return ["bash", "-c", line], env
        if tool == "rclone":
            return ["rclone", "copyurl", link, f":s3:{BUCKET}/{key}", "--s3-provider=Other",
                    f"--s3-endpoint={self.sink}", f"--s3-access-key-id={KEY}", f"--s3-secret-access-key={SECRET}",
                    "--s3-region=fr-par", "--s3-chunk-size=16M", "--s3-no-check-bucket", "--s3-force-path-style",
                    "-q"], self.env
        raise SystemExit(f"unknown tool {tool}")

    def _ours(self, backup: dict[str, Any], size: int, key: str, *, verify_md5: bool) -> list[str]:
        job = {"run_id": "bench", "backup_id": backup["backup_id"], "database_id": backup["database_id"],
               "database_name": backup["name"], "project_id": self.sandbox["project_id"], "region": "fr-par",
               "backup_created_at": backup["created_at"], "size": size, "object_key": key,
               "deadline": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}
        settings = {"scw_secret_key": self.sandbox["token"], "scw_api_url": self.sandbox["base_url"],
                    "scw_default_project_id": self.sandbox["project_id"], "backup_bucket": BUCKET,
                    "s3_endpoint_url": self.sink, "s3_region": "fr-par", "s3_access_key": KEY, "s3_secret_key": SECRET,
                    "download_host_allowlist": ["127.0.0.1"], "function_timeout_seconds": 7200,
                    "verify_part_md5": verify_md5, "handoff_mode": "inline", "notify_targets": "[]",
                    "log_level": "WARNING"}
        job_file, settings_file = self.workdir / f"{key.replace('/', '_')}.job.json", self.workdir / "settings.json"
        job_file.write_text(json.dumps(job))
        settings_file.write_text(json.dumps(settings))
        return [PY, str(HERE / "copy_tool.py"), "ours", str(job_file), str(settings_file)]

    def stored_size(self, key: str) -> int | None:
        import httpx

        response = httpx.head(f"{self.sink}/{BUCKET}/{key}")
        return int(response.headers["content-length"]) if response.status_code == 200 else None

    def run(self, tool: str, size: int) -> Row:
        key = f"{tool.replace('|', '-')}/{size}.dump"
        cmd, env = self.command(tool, size, key)
        seconds, cpu, rss, code, err = measure(cmd, env)
        stored = self.stored_size(key)
        ok = "ok" if code == 0 and stored == size else f"FAILED rc={code} stored={stored} {err.strip()[-160:]}"
        return Row(tool, size, seconds, cpu, rss, ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1GiB,8GiB")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--one-core", action="store_true", help="each tool on core 0, the servers on core 1")
    args = parser.parse_args()
    if args.one_core:
        PIN_TOOL[:], PIN_SERVERS[:] = ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    tools = [t for t in args.tools.split(",") if t]
    floor = hash_floor()
    print(f"hashlib floor on this machine: md5 {floor['md5']:.2f} CPU-s/GiB, sha256 {floor['sha256']:.2f} "
          f"CPU-s/GiB, both {floor['md5'] + floor['sha256']:.2f}", flush=True)
    sink, sink_url = start([PY, "-m", "sandbox.s3sink", "--port", "0"])
    sandbox_proc, line = start([PY, str(HERE / "bench_servers.py"), ",".join(map(str, sizes))])
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench = Bench(sink_url, json.loads(line), Path(tmp))
            for size in sizes:
                for tool in tools:
                    rows.append(bench.run(tool, size))
                    print("  " + " | ".join(rows[-1].cells()), file=sys.stderr, flush=True)
    finally:
        for proc in (sandbox_proc, sink):
            proc.terminate()
            proc.wait(timeout=10)
    header = ["tool", "size", "seconds", "MB/s", "CPU-s", "CPU-s/GiB", "peak RSS MiB", "check"]
    table = [header] + [r.cells() for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))


if __name__ == "__main__":
    main()
