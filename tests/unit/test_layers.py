"""The structure is a test: every import arrow points down (contracts in pyproject.toml).

``lint-imports`` checks the contracts on the real tree; then, on a copy of the tree, a single
deliberately wrong import must break the contract that forbids it, so the contracts are known
to bite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = str(Path(sys.executable).parent / "lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the tree's own packages, not the installed ones
    return subprocess.run([LINT, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_every_contract_is_kept() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    assert verdict(result.stdout, "Pure decisions do no I/O") == "KEPT"


@pytest.mark.parametrize(("module", "wrong_import", "contract"), [
    ("shared/keys.py", "import sandbox.api", "The shipped code never imports the sandbox"),
    ("handlers/copy.py", "import shared.cli.main", "The shipped code never imports the sandbox, the tests or the CLI"),
    ("shared/storage.py", "import shared.copying.run", "Layers: handlers and the CLI"),
    ("shared/settings.py", "import shared.dispatch.request", "Layers: handlers and the CLI"),
    ("shared/dispatch/plan.py", "import httpx", "Pure decisions do no I/O"),
    ("shared/copying/steps.py", "import shared.copying.run", "Copying: the route, then the use case"),
    ("shared/cli/commands/copies.py", "import sandbox.api", "The shipped code never imports the sandbox"),
    ("shared/copies/listing.py", "import shared.restore.run", "Layers: handlers and the CLI"),
], ids=["library->sandbox", "handler->cli", "adapter->use-case", "settings->dispatch", "pure->httpx", "step->use-case",
        "cli-command->sandbox", "copies->restore"])
def test_a_wrong_import_breaks_its_contract(tmp_path: Path, module: str, wrong_import: str, contract: str) -> None:
    for part in ("handlers", "shared", "sandbox"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / module, "a") as source:
        source.write(f"\n{wrong_import}  # deliberately wrong\n")

    result = lint(tmp_path)

    assert result.returncode != 0
    assert verdict(result.stdout, contract) == "BROKEN", result.stdout


def verdict(report: str, contract: str) -> str:
    """KEPT or BROKEN, as the summary says it for the contract whose name starts with ``contract``."""
    summary = " ".join(report.split("Contracts", 1)[-1].split())  # names wrap over lines
    after = summary[summary.index(contract):]
    return min((w for w in ("KEPT", "BROKEN") if w in after), key=after.index)
