"""Each CLI command against the sandbox API and moto's S3 server, checking output, exit status
and effects (exports requested, bytes written). In this process through Typer's CliRunner
(``invoke``), as one subprocess start per call would dominate the run; the CLI as a real
process is tested in ``test_cli_process.py`` and the restore drill."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import blobs
from sandbox.api import SandboxServer
from shared.copying.run import run_job
from shared.restore.tools import find_tool
from tests.fixtures.cli import invoke
from tests.fixtures.cli import env, sandbox  # noqa: F401  (fixtures)
from tests.fixtures.copying import Bucket, fast_clients, job_for, make_settings

NO_TOKEN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def copied(sandbox: SandboxServer, bucket: Bucket) -> dict[str, str]:
    """Database name -> key of a verified copy of its latest backup (shop, blog)."""
    settings = make_settings(sandbox, bucket)
    keys = {}
    for name in ("shop", "blog"):
        job = job_for(sandbox, name)
        sandbox.state.export(str(job.backup_id))  # its link is there when the copy asks
        assert run_job(job, settings, clients=fast_clients(settings)).outcome == "copied"
        keys[name] = job.object_key
    return keys


def latest_of(sandbox: SandboxServer, name: str):
    return sandbox.state.latest_backup(sandbox.state.database_named(name).id)


# --- reading the API ---------------------------------------------------------------------------


def test_backups_by_name_and_id_say_which_have_a_verified_copy(sandbox, env, copied):
    blog = sandbox.state.database_named("blog")

    result = invoke(env, "backups", "--database", "shop", "-d", blog.id, "--json")

    assert result.code == 0, result.stderr
    rows = result.json()["backups"]
    assert {r["database_name"] for r in rows} == {"shop", "blog"} and result.json()["not_found"] == []
    verified = {r["backup_id"] for r in rows if r["verified_copy"]}
    assert verified == {latest_of(sandbox, "shop").id, latest_of(sandbox, "blog").id}
    shop = sandbox.state.database_named("shop")
    assert len(rows) == len(sandbox.state.backups(blog.id)) + len(sandbox.state.backups(shop.id))


def test_an_unknown_database_is_not_found_and_exit_1(env):
    result = invoke(env, "backups", "--database", "nope", "--json")
    assert result.code == 1
    assert result.json()["not_found"] == ["nope"] and "[not_found]" in result.stderr


def test_wrong_token_is_one_line_and_exit_2(sandbox, env):
    result = invoke({**env, "SCALEWAY_SECRET_KEY": NO_TOKEN}, "backups")
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and "[scaleway_authentication_denied]" in result.stderr
    assert NO_TOKEN not in result.stderr


# --- export -----------------------------------------------------------------------------------


def test_export_wait_says_the_link_is_ready_and_never_shows_it(sandbox, env):
    backup = latest_of(sandbox, "blog")

    result = invoke(env, "export", backup.id, "--wait", "--json")

    assert result.code == 0, result.stderr
    assert result.json()["download_ready"] is True and result.json()["backup_id"] == backup.id
    assert sandbox.stats.snapshot()["exports"] == 1
    assert "X-Amz-Signature" not in result.stdout + result.stderr


def test_export_checks_the_bucket_first(sandbox, env):
    result = invoke({**env, "BACKUP_BUCKET": "no-such-bucket"}, "export", latest_of(sandbox, "shop").id)
    assert result.code == 2 and "BACKUP_BUCKET" in result.stderr
    assert sandbox.stats.snapshot()["exports"] == 0


@pytest.mark.parametrize("backup_id,code,error", [
    ("6f1c1f3e-0000-4000-8000-000000000000", 1, "not_found_or_not_allowed"),
    ("not-a-uuid", 2, "invalid_request"),
])
def test_export_of_a_wrong_backup_id(env, backup_id, code, error):
    result = invoke(env, "export", backup_id)
    assert result.code == code and f"[{error}]" in result.stderr


# --- the bucket -------------------------------------------------------------------------------


def test_copies_lists_what_the_bucket_holds(sandbox, env, copied):
    listed = invoke(env, "copies", "--json")
    table = invoke(env, "copies")

    assert listed.code == table.code == 0, listed.stderr
    shop = next(c for c in listed.json()["copies"] if c["database_name"] == "shop")
    backup = latest_of(sandbox, "shop")
    assert (shop["key"], shop["size"], shop["backup_id"]) == (copied["shop"], backup.size, backup.id)
    assert shop["sha256"] == blobs.sha256_hex(backup.id, backup.size) and shop["verified"] is True
    assert copied["shop"] in table.stdout and copied["blog"] in table.stdout


def test_copies_of_a_database_without_any_is_not_found(env, copied):
    result = invoke(env, "copies", "--database", "staging", "--json")
    assert result.code == 1 and result.json()["copies"] == [] and "staging" in result.stderr


def test_verify_passes_then_fails_once_a_copy_changed(sandbox, env, bucket, copied):
    first = invoke(env, "verify", "--json")
    backup = latest_of(sandbox, "shop")
    changed = bytearray(blobs.read(backup.id, backup.size))
    changed[-1] ^= 0xFF
    bucket.s3.put_object(Bucket=bucket.name, Key=copied["shop"], Body=bytes(changed),
                         Metadata=bucket.metadata(copied["shop"]))

    second = invoke(env, "verify", "--json")
    table = invoke(env, "verify", "-d", "shop")

    assert first.code == 0 and first.json()["summary"] == {"verified": 2, "failed": 0}, first.stderr
    assert second.code == 1 and second.json()["summary"] == {"verified": 1, "failed": 1}
    failed = next(r for r in second.json()["results"] if not r["ok"])
    assert (failed["key"], failed["problem"]) == (copied["shop"], "checksum_mismatch")
    assert table.code == 1 and "FAILED: checksum_mismatch" in table.stdout


def test_verify_of_a_missing_key_fails(env, copied):
    result = invoke(env, "verify", "no/such/key.dump", copied["blog"], "--json")
    assert result.code == 1
    assert [r["problem"] for r in result.json()["results"]] == ["not_found", None]


def test_verify_takes_keys_or_databases_not_both(env, copied):
    result = invoke(env, "verify", copied["blog"], "--database", "blog")
    assert result.code == 2 and "[invalid_request]" in result.stderr


def test_restore_check_says_why_bytes_are_not_a_dump(env, copied):
    try:
        find_tool("pg_restore")
    except Exception:
        pytest.skip("pg_restore not installed (Debian: apt-get install postgresql-client)")

    result = invoke(env, "verify", "--restore-check", "-d", "blog", "--json")

    assert result.code == 1
    [entry] = result.json()["results"]
    assert entry["problem"] == "not_a_valid_dump" and entry["archive"]["valid"] is False
    assert "file header" in entry["archive"]["error"]  # the sandbox's bytes start like one, then are noise
    assert entry["sha256"] == entry["expected_sha256"]  # the stream itself was read whole and matched


def test_download_writes_the_copy_where_asked_and_resumes(sandbox, env, copied, tmp_path: Path):
    backup = latest_of(sandbox, "blog")
    good = blobs.read(backup.id, backup.size)
    name = copied["blog"].rsplit("/", 1)[-1]
    (tmp_path / f"{name}.part").write_bytes(good[: 1 << 20])

    resumed = invoke(env, "download", copied["blog"], "--json", cwd=tmp_path)
    elsewhere = invoke(env, "download", copied["blog"], str(tmp_path / "copy.dump"))

    assert resumed.code == 0, resumed.stderr
    assert resumed.json()["resumed_from"] == 1 << 20 and (tmp_path / name).read_bytes() == good
    assert elsewhere.code == 0 and "verified" in elsewhere.stdout and (tmp_path / "copy.dump").read_bytes() == good


def test_download_of_a_missing_key_is_not_found(env, tmp_path: Path):
    result = invoke(env, "download", "no/such.dump", str(tmp_path))
    assert result.code == 1 and "[not_found]" in result.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [("restore", "k.dump", "--to", "mysql://db/x"), ("restore", "k.dump")])
def test_restore_usage_errors_exit_2(env, args):
    assert invoke(env, *args).code == 2
