"""``copy`` against the sandbox API and moto's S3 server: what it prints, its exit status, the
bytes it leaves in the bucket (their SHA-256 against the source's), what it asks the API for,
and the progress it reports (heard by the use case; drawn only on a terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from sandbox import blobs
from sandbox.api import SandboxServer
from shared.copying.run import run_job
from tests.fixtures.cli import ROOT, cli_settings, invoke
from tests.fixtures.cli import env, sandbox  # noqa: F401  (fixtures)
from tests.fixtures.copying import fast_clients, job_for, make_settings

UNKNOWN = "6f1c1f3e-0000-4000-8000-000000000000"


def latest_of(sandbox: SandboxServer, name: str):
    return sandbox.state.latest_backup(sandbox.state.database_named(name).id)


def test_copy_of_a_backup_by_id_leaves_the_source_bytes_and_says_their_sha256(sandbox, env, bucket):
    backup = latest_of(sandbox, "blog")
    expected = blobs.sha256_hex(backup.id, backup.size)

    result = invoke(env, "copy", backup.id, "--json")

    assert result.code == 0, result.stderr
    [row] = result.json()["copies"]
    assert (row["outcome"], row["backup_id"], row["size"], row["sha256"]) == ("copied", backup.id, backup.size, expected)
    assert row["backup_created_at"].endswith("+00:00") and row["database_name"] == "blog"
    assert bucket.objects() == [row["key"]] and bucket.sha256(row["key"]) == expected
    assert bucket.open_uploads() == [] and sandbox.stats.snapshot()["exports"] == 1


def test_copy_by_name_and_id_then_again_is_already_copied_with_the_stored_sha256(sandbox, env, bucket):
    shop, blog = latest_of(sandbox, "shop"), latest_of(sandbox, "blog")
    blog_id = sandbox.state.database_named("blog").id

    first = invoke(env, "copy", "--database", "shop", "-d", blog_id)
    again = invoke(env, "copy", "-d", "shop", "--json")

    assert first.code == 0, first.stderr
    for backup in (shop, blog):
        assert f"sha256 {blobs.sha256_hex(backup.id, backup.size)} verified" in first.stdout
    assert len(bucket.objects()) == 2 and "copying shop" in first.stderr
    [row] = again.json()["copies"]
    assert again.code == 0 and row["outcome"] == "already_copied"
    assert row["sha256"] == blobs.sha256_hex(shop.id, shop.size) == bucket.sha256(row["key"])
    assert sandbox.stats.snapshot()["exports"] == 2  # the second run exported nothing


def test_a_backup_the_api_does_not_know_exits_1_and_copies_nothing(sandbox, env, bucket):
    result = invoke(env, "copy", UNKNOWN)

    assert result.code == 1 and "[not_found_or_not_allowed]" in result.stderr
    assert bucket.keys() == [] and sandbox.stats.snapshot()["exports"] == 0


def test_an_unknown_database_exits_1_and_names_it(env, bucket):
    result = invoke(env, "copy", "-d", "nope", "--json")

    assert result.code == 1 and result.json()["not_found"] == ["nope"] and result.json()["copies"] == []
    assert "[not_found]" in result.stderr and bucket.keys() == []


def test_a_missing_bucket_exits_2_before_the_api_is_asked_anything(sandbox, env):
    result = invoke({**env, "BACKUP_BUCKET": "no-such-bucket"}, "copy", latest_of(sandbox, "shop").id)

    assert result.code == 2 and "BACKUP_BUCKET" in result.stderr and "[configuration_error]" in result.stderr
    stats = sandbox.stats.snapshot()
    assert sum(stats["requests"].values()) == 0 and stats["exports"] == 0


@pytest.mark.parametrize("args", [(), (UNKNOWN, "--database", "shop")])
def test_a_backup_id_or_databases_one_of_the_two(env, args):
    result = invoke(env, "copy", *args)
    assert result.code == 2 and "[invalid_request]" in result.stderr


def test_a_failed_copy_exits_1_with_its_reason_and_leaves_no_upload(sandbox, env, bucket):
    refused = {**env, "DOWNLOAD_HOST_ALLOWLIST": "downloads.example.com"}
    shown = invoke(refused, "copy", "-d", "shop")
    result = invoke(refused, "copy", "-d", "shop", "--json")

    assert shown.code == result.code == 1
    assert "shop: the download link's host is not in DOWNLOAD_HOST_ALLOWLIST [download_host_not_allowed]" in shown.stdout
    [row] = result.json()["copies"]
    assert (row["outcome"], row["error"]["code"], row["sha256"]) == ("failed", "download_host_not_allowed", None)
    assert bucket.objects() == [] and bucket.open_uploads() == []


def test_a_database_without_a_ready_backup_exits_1_and_says_so(env, bucket):
    result = invoke(env, "copy", "-d", "staging", "--json")  # the sandbox's staging has no backup

    assert result.code == 1 and result.json()["no_ready_backup"] == ["staging"]
    assert "[no_ready_backup]" in result.stderr and bucket.keys() == []


def test_the_copy_is_not_bound_by_the_functions_timeout(sandbox_factory, bucket):
    """With a 10 s function timeout the copy function keeps 30 s back and could not wait for a
    link at all; here the export takes its time and the copy goes on to its end."""
    sandbox = sandbox_factory(export_delay_seconds=0.5)
    env = {**cli_settings(sandbox, bucket=bucket.name, s3=bucket.endpoint), "FUNCTION_TIMEOUT_SECONDS": "10"}
    backup = latest_of(sandbox, "blog")

    result = invoke(env, "copy", backup.id, "--json")

    assert result.code == 0, result.stdout + result.stderr
    [row] = result.json()["copies"]
    assert row["outcome"] == "copied" and bucket.sha256(row["key"]) == blobs.sha256_hex(backup.id, backup.size)


# --- progress ----------------------------------------------------------------------------------


def test_the_use_case_reports_every_buffer_up_to_the_whole_size(sandbox, bucket):
    settings = make_settings(sandbox, bucket)
    job = job_for(sandbox, "blog")  # 3 MiB: three 1 MiB buffers
    heard: list[tuple[int, int]] = []

    result = run_job(job, settings, clients=fast_clients(settings), on_progress=lambda done, size: heard.append((done, size)))

    assert result.outcome == "copied" and result.size is not None
    assert heard[0] == (0, result.size) and heard[-1] == (result.size, result.size)
    assert [d for d, _ in heard] == sorted(d for d, _ in heard) and len(heard) >= 4


def test_no_progress_bar_when_stdout_is_not_a_terminal(sandbox, env):
    result = invoke(env, "copy", latest_of(sandbox, "blog").id)
    assert result.code == 0 and result.stderr.splitlines() == [line for line in result.stderr.splitlines()
                                                             if line.startswith("copying blog")]


@pytest.mark.parametrize("command", ["copy", "run"])
def test_on_a_terminal_the_bar_shows_bytes_and_rate(sandbox, env, command):
    backup = latest_of(sandbox, "blog")
    args = ("copy", backup.id) if command == "copy" else ("run", "-d", "blog")  # run: HANDOFF_MODE=inline

    screen = _on_a_terminal(env, *args)

    assert "3.1/3.1 MB" in screen and "MB/s" in screen
    assert blobs.sha256_hex(backup.id, backup.size)[:12] in screen


def _on_a_terminal(settings: dict[str, str], *args: str) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal; what it wrote there."""
    parent, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALEWAY_", "S3_", "BACKUP_", "SCW_"))}
    env.update(settings, TERM="xterm", COLUMNS="160", LINES="40")
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", *args], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=child, stderr=child)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(parent)
    assert process.wait(timeout=60) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")
