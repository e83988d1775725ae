"""Child processes for the local topology: started in their own process group, logged to a
file each, waited for until they answer, and always stopped (the whole group, then SIGKILL
if it lingers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import httpx

from shared.errors import BackupExportError

ROOT = Path(__file__).resolve().parents[1]


class ProcessFailed(BackupExportError):
    """A local server did not start, or died."""

    code = "local_process_failed"


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the process group, SIGKILL after ``grace`` seconds."""
        if not self.running():
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def first_line(self, timeout: float = 20.0) -> str:
        """The first complete line the child printed (e.g. the sandbox's address)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            if "\n" in text:
                return text.split("\n", 1)[0]
            self._check_alive()
            time.sleep(0.05)
        raise ProcessFailed(f"{self.name} printed nothing in {timeout:.0f}s", details=self.log_tail())

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        """Until ``url`` answers any HTTP status (the server is up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                httpx.get(url, timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise ProcessFailed(f"{self.name} did not answer on {url} in {timeout:.0f}s", details=self.log_tail())

    def _check_alive(self) -> None:
        if not self.running():
            raise ProcessFailed(f"{self.name} exited with code {self.process.returncode}", details=self.log_tail())


def _die_with_parent() -> None:
    """In the child, before it runs: SIGKILL it when the thread that started it dies (Linux).

    A test process killed outright never runs its clean-up; without this, servers in their own
    process group would outlive it. Children are started from the thread that owns them."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the ``with`` blocks still stop every child


class Children:
    """Starts children; ``stop_all`` (or leaving the ``with`` block) stops them newest first."""

    def __init__(self, log_dir: Path | None = None) -> None:
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="sdb-backup-export-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.started: list[Child] = []

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stopped as a whole, spared our Ctrl-C
                preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log_path)
        self.started.append(child)
        return child

    def start_python(self, name: str, args: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
        return self.start(name, [sys.executable, *args], env)

    def stop_all(self) -> None:
        while self.started:
            self.started.pop().stop()

    def __enter__(self) -> "Children":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()
