"""What the copy benchmark measures and how it prints it: one child process per copy, medians, tables.

A copy runs as a child process measured with ``os.wait4``: CPU = user + sys of the process and
the children it reaped; peak RSS = ru_maxrss (for a shell pipeline, the largest single process
of it, not the sum). The hash floor is hashlib's MD5 and SHA-256 on this machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "B": 1}
GiB = 1 << 30


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


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float  # user + sys seconds
    rss_mib: float
    code: int
    stderr: str


def measure(cmd: Sequence[str], env: dict[str, str], cwd: Path, pin: Sequence[str] = ()) -> Run:
    """Run ``cmd`` to its end; its wall time, CPU (incl. reaped children), peak RSS, exit code."""
    with tempfile.TemporaryFile() as err:
        began = time.monotonic()
        proc = subprocess.Popen([*pin, *cmd], env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-500:]
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, tail)


def hash_floor(mib: int = 256, repeats: int = 3) -> dict[str, float]:
    """CPU seconds per GiB of hashlib's MD5 and SHA-256 here (1 MiB updates), median of ``repeats``."""
    block = os.urandom(1 << 20)
    out = {}
    for name in ("md5", "sha256"):
        spent = []
        for _ in range(repeats):
            digest = hashlib.new(name)
            before = resource.getrusage(resource.RUSAGE_SELF)
            for _ in range(mib):
                digest.update(block)
            after = resource.getrusage(resource.RUSAGE_SELF)
            spent.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        out[name] = statistics.median(spent) * 1024 / mib
    return out


@dataclass(frozen=True)
class Row:
    """The median of a tool's runs at one size into one destination."""

    destination: str
    tool: str
    size: int
    runs: list[Run]
    checks: list[str]  # "ok" or what was wrong, per run

    def _median(self, field: str) -> float:
        return statistics.median(getattr(r, field) for r in self.runs)

    @property
    def cpu_per_gib(self) -> float:
        return self._median("cpu") / (self.size / GiB)

    @property
    def rss_mib(self) -> float:
        return max(r.rss_mib for r in self.runs)

    @property
    def ok(self) -> bool:
        return all(c == "ok" for c in self.checks)

    def cells(self) -> list[str]:
        seconds = self._median("seconds")
        speeds = sorted(self.size / 1e6 / r.seconds for r in self.runs)
        spread = f"{speeds[0]:.0f}-{speeds[-1]:.0f}" if len(speeds) > 1 else ""
        check = "ok" if self.ok else next(c for c in self.checks if c != "ok")
        return [self.tool, human(self.size), str(len(self.runs)), f"{seconds:.1f}", f"{self.size / 1e6 / seconds:.0f}",
                spread, f"{self.cpu_per_gib:.2f}", f"{self.rss_mib:.0f}", check]


HEADER = ["tool", "size", "runs", "seconds", "MB/s", "MB/s range", "CPU-s/GiB", "peak RSS MiB", "check"]


def print_table(title: str, rows: list[Row]) -> None:
    table = [HEADER] + [r.cells() for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    print(f"\n{title}")
    for index, row in enumerate(table):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("-+-".join("-" * width for width in widths))
