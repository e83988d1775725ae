"""Local servers never outlive the process that started them, even one killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STARTS_A_CHILD = """
import sys, threading
from sandbox.processes import Children
child = Children().start("sleeper", ["sleep", "300"])
print(child.process.pid, flush=True)
threading.Event().wait()
"""


def dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")  # a zombie has stopped running; its new parent reaps it when it will


def test_a_child_dies_with_a_parent_killed_by_sigkill() -> None:
    parent = subprocess.Popen([sys.executable, "-c", STARTS_A_CHILD], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert not dead(child)

    os.kill(parent.pid, signal.SIGKILL)  # no clean-up runs in the parent
    parent.wait()

    deadline = time.monotonic() + 10
    while not dead(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dead(child)
