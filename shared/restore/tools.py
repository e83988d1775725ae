"""The PostgreSQL client programs, found on PATH or under ``/usr/lib/postgresql/*/bin`` (the
newest version first: an archive written by a newer ``pg_dump`` needs a ``pg_restore`` at
least as new), and how their errors are read."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading
from typing import IO

from shared.errors import ToolNotFound

DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
_PREFIX = re.compile(r"^(pg_restore|psql|pg_dump)(: error)?:\s*", re.IGNORECASE)


def find_tool(name: str, *, search: str | None = None) -> str:
    """The path of ``name``: in ``search`` (a folder) if given, else on PATH, else the newest
    Debian install. ``ToolNotFound`` (a configuration error) when it is nowhere."""
    if search is not None:
        candidate = os.path.join(search, name)
        if os.access(candidate, os.X_OK):
            return candidate
        raise ToolNotFound(f"{name} is not in {search}")
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(glob.glob(DEBIAN_GLOB), key=_version, reverse=True):
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise ToolNotFound(f"{name} not found: install the PostgreSQL client programs "
                       f"(Debian: apt-get install postgresql-client)")


def _version(folder: str) -> tuple[int, ...]:
    parts = folder.rstrip("/").split("/")[-2]
    return tuple(int(p) for p in parts.split(".") if p.isdigit()) or (0,)


def error_line(stderr: str, fallback: str) -> str:
    """The tool's first error message, without its program-name prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    chosen = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")
    return _PREFIX.sub("", chosen) or fallback


class Collector:
    """Reads a child's output pipe on a thread, so the child never blocks on a full pipe
    while we are busy writing to its stdin."""

    def __init__(self, pipe: IO[bytes] | None, limit: int = 8 << 20) -> None:
        self._chunks: list[bytes] = []
        self._limit = limit
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True) if pipe else None
        if self._thread is not None:
            self._thread.start()

    def _read(self, pipe: IO[bytes]) -> None:
        size = 0
        for block in iter(lambda: pipe.read(65536), b""):
            if size < self._limit:  # keep a bounded amount; go on draining the rest
                self._chunks.append(block)
                size += len(block)
        pipe.close()

    def text(self) -> str:
        if self._thread is not None:
            self._thread.join()
        return b"".join(self._chunks).decode("utf-8", "replace")


class PipedTool:
    """A child program fed on stdin chunk by chunk, its output collected on threads."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env)
        self._stdout, self._stderr = Collector(self.process.stdout), Collector(self.process.stderr)
        self.stopped_reading = False  # the child closed its input (done, or failed)

    def feed(self, chunk: bytes) -> None:
        if self.stopped_reading:
            return
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.stopped_reading = True

    def finish(self) -> tuple[int, str, str]:
        """End of input: wait for the child; its exit status, stdout and stderr."""
        try:
            assert self.process.stdin is not None
            self.process.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass
        status = self.process.wait()
        return status, self._stdout.text(), self._stderr.text()

    def kill(self) -> None:
        """Stop a child that must not finish (its transaction then rolls back) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.finish()
