"""Deployment checks' fixtures: the runtime package and the serverless zip, built once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.deploy.serverless_cli import ROOT, ZIP_NAME, run_serverless


@pytest.fixture(scope="session")
def runtime_package() -> Path:
    """``package/`` built by the same script as ``make package`` (a no-op when current)."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package_runtime.py")], check=True, cwd=ROOT, timeout=600)
    return ROOT / "package"


@pytest.fixture(scope="session")
def packaged(runtime_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the zip ``serverless package`` built, once per test run.

    The CLI always writes to ``.serverless/``; the zip is copied out so later runs (and
    ``deploy --package`` pointing here) see this very artifact.
    """
    result = run_serverless("package", timeout=300)
    assert result.returncode == 0, result.stdout
    out = tmp_path_factory.mktemp("serverless-package")
    shutil.copy(ROOT / ".serverless" / ZIP_NAME, out / ZIP_NAME)
    return out


@pytest.fixture(scope="session")
def service_zip(packaged: Path) -> Iterator[zipfile.ZipFile]:
    with zipfile.ZipFile(packaged / ZIP_NAME) as archive:
        yield archive


@pytest.fixture
def service_copy(tmp_path: Path) -> Path:
    """A throw-away service folder (serverless.yml copied, code and node_modules linked)."""
    shutil.copy(ROOT / "serverless.yml", tmp_path / "serverless.yml")
    for name in ("handlers", "shared", "node_modules"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp_path
