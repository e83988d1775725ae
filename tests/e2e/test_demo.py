"""``make demo`` itself, as a user runs it: exit code, what it prints, nothing left running."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    # The default seed's small backups keep this quick; the real demo copies a few hundred MB.
    argv = [sys.executable, "-m", "sandbox.demo", "--sandbox-config", "default", "--timeout", "120", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)


def _children_left(output: str) -> list[str]:
    """Processes still running whose command line names the run's log folder or ports."""
    ports = set(re.findall(r"127\.0\.0\.1:(\d+)", output))
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in listing if "functions_framework" in line and any(f"--port {p}" in line for p in ports)]


@pytest.mark.parametrize("mode", [[], ["--inline"]], ids=["queue", "inline"])
def test_demo_copies_verifies_and_cleans_up(mode: list[str]):
    result = _demo("--database", "shop", "--database", "blog", *mode)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dispatch answered 200" in result.stdout
    assert result.stdout.count("sha256 ok") == 2
    assert result.stdout.count("backup.copied") == 2
    assert "all copies verified" in result.stdout
    assert "Freshness: each database's newest verified copy" in result.stdout  # the table it ends with
    assert "backup.run_summary" in result.stdout and "STALE" not in result.stdout
    assert _children_left(result.stdout) == []


def test_the_stopped_copies_scenario_shows_the_stale_notice_and_the_missing_heartbeat():
    result = _demo("--database", "shop", "--database", "blog", "--stop-copies", "blog")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "handed off, and lost by the queue" in out and out.count("sha256 ok") == 1  # shop's copy only
    assert "backup.stale" in out and "blog's stopped copies were noticed" in out
    freshness = out[out.index("Freshness: each database's newest verified copy"):]
    blog_row = next(line for line in freshness.splitlines() if "blog" in line)
    shop_row = next(line for line in freshness.splitlines() if "shop" in line)
    assert "STALE" in blog_row and "MISSING" in blog_row
    assert "fresh" in shop_row and "received" in shop_row
    assert _children_left(out) == []


def test_demo_driven_by_a_slash_command_answers_first_then_copies():
    result = _demo("--slack", "copy shop blog")
    assert result.returncode == 0, result.stdout + result.stderr
    answered = result.stdout.index("hooks answered 200")
    assert answered < result.stdout.index("posted on the response_url") < result.stdout.index("sha256 ok")
    assert "Copy started: 2 databases." in result.stdout and "*shop*: copy started" in result.stdout
    assert result.stdout.count("sha256 ok") == 2 and result.stdout.count("backup.copied") == 2
    assert "posts on the command's response_url: 3" in result.stdout  # the summary, then each copy
    assert _children_left(result.stdout) == []


def test_demo_exits_non_zero_when_nothing_could_be_copied():
    result = _demo("--database", "no-such-database")
    assert result.returncode == 1
    assert "no copy was started" in result.stdout
    assert "something failed" in result.stdout
    assert _children_left(result.stdout) == []


def test_demo_ends_with_a_restore_check_where_postgresql_runs():
    from sandbox.postgres import unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(f"{reason}; the demo's restore check needs a real PostgreSQL server")

    result = _demo("--database", "inventory", "--inline")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Restore check" in result.stdout and "sha256 ok" in result.stdout
    assert result.stdout.count("equal") == 2 and "DIFFERENT" not in result.stdout
    assert _children_left(result.stdout) == []
