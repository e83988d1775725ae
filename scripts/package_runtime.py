"""Vendor the runtime dependencies into ``package/`` for the Scaleway Python runtime.

The runtime is Alpine Linux (musl) on x86_64 with CPython 3.11, so compiled dependencies
must come as musllinux wheels; pip is told the target platform and never builds from
source. The list is ``[project].dependencies`` of pyproject.toml: one source of truth; their
whole closure is pinned by ``constraints/runtime.txt`` so every build ships the same versions.
A stamp holding the inputs' hash makes a second run a no-op.

    python scripts/package_runtime.py [--target package] [--force]
    python scripts/package_runtime.py --update-constraints   # after changing the dependencies
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Alpine 3.x ships musl 1.2, which also runs musllinux_1_1 wheels (some projects publish only those).
PLATFORMS = ("musllinux_1_2_x86_64", "musllinux_1_1_x86_64")
PYTHON_VERSION = "3.11"
STAMP = ".packaged"
CONSTRAINTS = ROOT / "constraints" / "runtime.txt"
_HEADER = """\
# The runtime's whole dependency closure, pinned: `make package` installs with `-c` this file,
# so the zip is the same on every build. After changing [project].dependencies, regenerate it:
#   python scripts/package_runtime.py --update-constraints
"""


def runtime_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def pip_command(target: Path, requirements: list[str], constraints: Path | None = CONSTRAINTS) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile",  # the runtime compiles on import; .pyc from here would be for the wrong interpreter
        "--target", str(target),
        *[arg for platform in PLATFORMS for arg in ("--platform", platform)],
        "--python-version", PYTHON_VERSION,
        "--implementation", "cp",
        "--only-binary=:all:",
        *(["--constraint", str(constraints)] if constraints else []),
        *requirements,
    ]  # fmt: skip


def build(target: Path, *, force: bool = False, constraints: Path | None = CONSTRAINTS) -> bool:
    """Install the dependencies into ``target``; False when the stamp says it is current."""
    requirements = runtime_dependencies()
    pins = constraints.read_text() if constraints else "unconstrained"
    digest = hashlib.sha256("\n".join([*PLATFORMS, PYTHON_VERSION, *requirements, pins]).encode()).hexdigest()
    stamp = target / STAMP
    if not force and stamp.is_file() and stamp.read_text().strip() == digest:
        return False
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(pip_command(target, requirements, constraints), check=True)
    stamp.write_text(digest + "\n")
    return True


def installed_versions(target: Path) -> dict[str, str]:
    """``name -> version`` of every distribution in ``target`` (names normalised)."""
    versions = {}
    for dist_info in target.glob("*.dist-info"):
        meta = HeaderParser().parsestr((dist_info / "METADATA").read_text())
        versions[re.sub(r"[-_.]+", "-", meta["Name"]).lower()] = meta["Version"]
    return versions


def update_constraints(target: Path) -> None:
    """Resolve the newest closure of the pinned dependencies and write it down."""
    build(target, force=True, constraints=None)
    pins = "".join(f"{name}=={version}\n" for name, version in sorted(installed_versions(target).items()))
    CONSTRAINTS.write_text(_HEADER + pins)
    build(target, force=True)  # and stamp the package as built from the new file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=ROOT / "package")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--update-constraints", action="store_true",
                        help="re-resolve the closure without constraints and rewrite constraints/runtime.txt")
    args = parser.parse_args(argv)
    if args.update_constraints:
        update_constraints(args.target)
        print(f"{CONSTRAINTS.relative_to(ROOT)}: rewritten from {args.target}")
        return 0
    built = build(args.target, force=args.force)
    print(f"{args.target}: {'built' if built else 'up to date'} for {PLATFORMS[0]}, CPython {PYTHON_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
