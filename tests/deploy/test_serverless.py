"""serverless.yml resolves, packages, and passes the Scaleway plugin's deploy-time checks."""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from shared.dispatch.request import DispatchRequest
from shared.settings import load_settings
from tests.deploy.serverless_cli import CLEARED, ROOT, run_serverless

ZIP_LIMIT = 100 * 1024 * 1024  # the platform's limit on zipped code


@functools.cache  # one `serverless print` for the tests that read it (none changes what it returns)
def _resolved() -> dict:
    result = run_serverless("print", "--format", "json")
    assert result.returncode == 0, result.stdout
    return json.loads(result.stdout[result.stdout.index("{") :])


def test_print_resolves_the_deployment():
    config = _resolved()
    provider, functions = config["provider"], config["functions"]
    assert provider["name"] == "scaleway" and provider["runtime"] == "python311"
    assert provider["scwRegion"] == "fr-par"
    assert provider["env"]["HANDOFF_MODE"] == "queue"
    assert provider["env"]["BACKUP_BUCKET"] == "sdb-backups-test"
    assert provider["env"]["QUEUE_URL"].endswith("/project-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee/sdb-backup-export-jobs")
    assert all(isinstance(v, str) for v in provider["env"].values())
    assert provider["secret"]["SCALEWAY_SECRET_KEY"] == "11111111-2222-3333-4444-555555555555"
    assert provider["env"]["SCALEWAY_PROJECT_ID"] == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    assert provider["secret"]["NOTIFY_TARGETS"] == "[]"
    # Queue deliveries carry no bearer token: only dispatch checks HTTP_AUTH_TOKENS.
    assert "HTTP_AUTH_TOKENS" not in provider["secret"] and "HTTP_AUTH_TOKENS" not in provider["env"]
    assert functions["dispatch"]["secret"]["HTTP_AUTH_TOKENS"] == "dummy-token-0123456789"
    assert "HTTP_AUTH_TOKENS" not in functions["copy"].get("secret", {})

    dispatch, copy = functions["dispatch"], functions["copy"]
    assert dispatch["handler"] == "handlers/dispatch.handle"
    assert copy["handler"] == "handlers/copy.handle"
    for function in (dispatch, copy):
        assert function["privacy"] == "private" and function["sandbox"] == "v2"
    schedule = next(e["schedule"] for e in dispatch["events"] if "schedule" in e)
    assert schedule["rate"] == "0 3 * * *"
    DispatchRequest.model_validate(schedule["input"])  # the cron body is a valid request
    assert copy["events"][0]["sqs"]["queue"] == "sdb-backup-export-jobs"
    # The public chat-ops entry point runs dispatch's code with no unauthenticated schedule path.
    hooks = functions["hooks"]
    assert hooks["handler"] == "handlers/dispatch.handle" and hooks["privacy"] == "public"
    assert hooks["env"]["CRON_WITHOUT_TOKEN"] == "false" and not hooks.get("events")
    assert hooks["secret"]["HTTP_AUTH_TOKENS"] == "dummy-token-0123456789"
    # The copy's own deadline matches the platform's timeout for it (one value in custom:).
    assert provider["env"]["FUNCTION_TIMEOUT_SECONDS"] == copy["timeout"].removesuffix("s") == "900"


def test_slash_commands_reach_dispatch_through_their_own_queue():
    config = _resolved()
    provider, functions = config["provider"], config["functions"]
    dispatch, hooks, copy = functions["dispatch"], functions["hooks"], functions["copy"]
    commands = hooks["env"]["COMMAND_QUEUE_URL"]
    assert commands.endswith("/project-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee/sdb-backup-export-commands")
    assert commands != provider["env"]["QUEUE_URL"]
    # hooks sends commands; dispatch's trigger delivers them and dispatch runs them, never queuing them again
    assert [e["sqs"]["queue"] for e in dispatch["events"] if "sqs" in e] == ["sdb-backup-export-commands"]
    assert commands.rsplit("/", 1)[1] == "sdb-backup-export-commands"
    for env in (provider["env"], dispatch.get("env", {}), copy.get("env", {})):
        assert "COMMAND_QUEUE_URL" not in env
    assert dispatch["timeout"] == "300s"  # the command queue's visibility timeout (README) stays above it
    assert provider["env"]["SLACK_ALLOWED_USER_IDS"] == ""  # checked by hooks and again by dispatch


@pytest.mark.parametrize("name", ["dispatch", "hooks", "copy"])
def test_each_function_s_settings_load_as_deployed(name, monkeypatch):
    config = _resolved()
    function = config["functions"][name]
    env = {**config["provider"]["env"], **config["provider"]["secret"], **function.get("env", {}),
           **function.get("secret", {})}
    for variable in os.environ:
        if variable.startswith(CLEARED):
            monkeypatch.delenv(variable)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("SCW_CONFIG_PATH", os.devnull)

    settings = load_settings()  # a bad or missing setting would be one ConfigurationError here

    assert settings.handoff_mode == "queue" and (settings.command_queue_url is not None) == (name == "hooks")
    assert settings.cron_without_token == (name != "hooks")


def test_the_functions_depend_on_no_reserved_scw_variable():
    # Scaleway reserves SCW_* environment variables for the platform's own configuration.
    config = _resolved()
    names = set(config["provider"]["env"]) | set(config["provider"]["secret"])
    for function in config["functions"].values():
        names |= set(function.get("env", {})) | set(function.get("secret", {}))
    assert not [n for n in names if n.upper().startswith("SCW_")]
    assert {"SCALEWAY_SECRET_KEY", "SCALEWAY_ACCESS_KEY", "SCALEWAY_PROJECT_ID", "SCALEWAY_REGION"} <= names


def test_the_file_holds_no_secret_value():
    raw = yaml.safe_load((ROOT / "serverless.yml").read_text())
    secrets = {**raw["provider"]["secret"]}
    for function in raw["functions"].values():
        secrets.update(function.get("secret", {}))
    assert {"SCALEWAY_SECRET_KEY", "S3_SECRET_KEY", "QUEUE_SECRET_KEY", "HTTP_AUTH_TOKENS", "NOTIFY_TARGETS"} <= set(secrets)
    for name, value in secrets.items():
        assert re.fullmatch(r"\$\{env:[A-Z0-9_]+(, *(env:[A-Z0-9_]+|'\[\]'))*\}", value), name
    assert raw["provider"]["scwToken"].startswith("${env:")


def test_zip_ships_code_and_dependencies_only(service_zip, packaged: Path):
    names = service_zip.namelist()
    assert {"handlers/dispatch.py", "handlers/copy.py", "shared/settings.py", "shared/models.py"} <= set(names)
    assert any(n.startswith("package/pydantic_core/") and n.endswith(".so") for n in names)
    assert any(n.startswith("package/httpx/") for n in names)
    unwanted = ("tests/", "sandbox/", "node_modules/", ".venv/", "docs/", "scripts/", ".serverless/")
    assert not [n for n in names if n.startswith(unwanted)]
    assert "handlers/local.py" not in names
    assert not [n for n in names if n.startswith("shared/cli/")]  # the CLI is installed with pip
    ours = [n for n in names if n.startswith(("handlers/", "shared/")) and n.endswith(".py")]
    assert ours and not [n for n in ours if "sandbox" in _imports(service_zip.read(n))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert (packaged / "sdb-backup-export.zip").stat().st_size < ZIP_LIMIT


def _imports(source: bytes) -> set[str]:
    """Top-level modules a file imports (what would break at run time if absent from the zip)."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_deploy_validation_passes_then_the_api_is_refused(packaged: Path):
    # --package reuses the zip built above (no second packaging); the plugin's validation runs before any API call.
    result = run_serverless("deploy", "--package", str(packaged))
    assert result.returncode != 0
    assert "ECONNREFUSED 127.0.0.1:9" in result.stdout
    assert "does not exist" not in result.stdout
    assert "is invalid" not in result.stdout


def _deploy_variant(service_copy: Path, old: str, new: str) -> str:
    path = service_copy / "serverless.yml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    result = run_serverless("deploy", cwd=service_copy)
    assert result.returncode != 0
    assert "ECONNREFUSED" not in result.stdout  # stopped before any API call
    return result.stdout


def test_missing_handler_file_fails_validation(service_copy: Path):
    output = _deploy_variant(service_copy, "handler: handlers/copy.handle", "handler: handlers/kopy.handle")
    assert "Handler file defined for function copy does not exist (handlers/kopy.handle" in output


def test_step_cron_syntax_fails_validation(service_copy: Path):
    output = _deploy_variant(service_copy, 'rate: "0 3 * * *"', 'rate: "*/5 * * * *"')
    assert "Trigger Schedule is invalid: */5 * * * *" in output


def test_non_string_env_value_fails_validation(service_copy: Path):
    output = _deploy_variant(service_copy, "HANDOFF_MODE: queue", "HANDOFF_MODE: 3")
    assert "Variable HANDOFF_MODE: variable is invalid, environment variables may only be strings" in output
