"""Vendor the runtime dependencies into ``package/`` for the Scaleway Python runtime.

The runtime is Alpine Linux (musl) on x86_64 with CPython 3.11, so compiled dependencies
must come as musllinux wheels; pip is told the target platform and never builds from
source. The list is ``[project].dependencies`` of pyproject.toml: one source of truth.
A stamp holding the list's hash makes a second run a no-op.

    python scripts/package_runtime.py [--target package] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Alpine 3.x ships musl 1.2, which also runs musllinux_1_1 wheels (some projects publish only those).
PLATFORMS = ("musllinux_1_2_x86_64", "musllinux_1_1_x86_64")
PYTHON_VERSION = "3.11"
STAMP = ".packaged"


def runtime_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def pip_command(target: Path, requirements: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile",  # the runtime compiles on import; .pyc from here would be for the wrong interpreter
        "--target", str(target),
        *[arg for platform in PLATFORMS for arg in ("--platform", platform)],
        "--python-version", PYTHON_VERSION,
        "--implementation", "cp",
        "--only-binary=:all:",
        *requirements,
    ]  # fmt: skip


def build(target: Path, *, force: bool = False) -> bool:
    """Install the dependencies into ``target``; False when the stamp says it is current."""
    requirements = runtime_dependencies()
    digest = hashlib.sha256("\n".join([*PLATFORMS, PYTHON_VERSION, *requirements]).encode()).hexdigest()
    stamp = target / STAMP
    if not force and stamp.is_file() and stamp.read_text().strip() == digest:
        return False
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(pip_command(target, requirements), check=True)
    stamp.write_text(digest + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=ROOT / "package")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    built = build(args.target, force=args.force)
    print(f"{args.target}: {'built' if built else 'up to date'} for {PLATFORMS[0]}, CPython {PYTHON_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
