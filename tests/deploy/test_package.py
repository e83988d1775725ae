"""``make package``: every compiled module in package/ is built for the Scaleway runtime.

The runtime is Alpine Linux (musl libc) on x86_64 with CPython 3.11: a glibc (manylinux)
or other-version build imports fine on a developer's machine and fails on the platform.
"""

from __future__ import annotations

import re
import tomllib
from email.parser import HeaderParser
from pathlib import Path

import pytest

from tests.deploy.serverless_cli import ROOT

_RUNTIME_TAG = re.compile(
    r"(py3|py2\.py3|py3\d*|cp3\d*)-none-any"  # pure Python
    r"|cp311-(cp311|abi3)-musllinux_1_[12]_x86_64"  # compiled for CPython 3.11 on musl
    r"|cp3\d+-abi3-musllinux_1_[12]_x86_64"  # stable ABI from an older CPython 3
)
_SO_SUFFIX = re.compile(r"\.(cpython-311-x86_64-linux-musl|abi3)\.so$")
_ELF_X86_64 = 0x3E


def tag_fits_runtime(tag: str) -> bool:
    return _RUNTIME_TAG.fullmatch(tag) is not None


def wheel_tags(dist_info: Path) -> list[str]:
    headers = HeaderParser().parsestr((dist_info / "WHEEL").read_text())
    return headers.get_all("Tag") or []


def so_problems(path: Path) -> list[str]:
    """Why this shared object would not load on the runtime (empty when it would)."""
    problems = []
    if not _SO_SUFFIX.search(path.name):
        problems.append("suffix is not cpython-311-x86_64-linux-musl or abi3")
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or int.from_bytes(data[18:20], "little") != _ELF_X86_64:
        problems.append("not an x86_64 ELF object")
    if b"libc.so.6" in data:
        problems.append("linked against glibc")
    return problems


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("py3-none-any", True),
        ("cp311-cp311-musllinux_1_2_x86_64", True),
        ("cp311-cp311-musllinux_1_1_x86_64", True),
        ("cp38-abi3-musllinux_1_2_x86_64", True),
        ("py2-none-any", False),
        ("cp311-cp311-manylinux_2_17_x86_64", False),
        ("cp312-cp312-musllinux_1_2_x86_64", False),
        ("cp311-cp311-musllinux_1_2_aarch64", False),
    ],
)
def test_tag_check_tells_runtime_wheels_apart(tag: str, fits: bool):
    assert tag_fits_runtime(tag) is fits


def test_every_wheel_targets_the_runtime(runtime_package: Path):
    dist_infos = sorted(runtime_package.glob("*.dist-info"))
    assert dist_infos, "package/ holds no distributions"
    tags = {d.name: wheel_tags(d) for d in dist_infos}
    # A wheel lists every tag it fits; one of them must be the runtime's.
    assert {name: t for name, t in tags.items() if not any(map(tag_fits_runtime, t))} == {}


def test_every_compiled_module_is_musl_x86_64_cpython_311(runtime_package: Path):
    shared_objects = sorted(runtime_package.rglob("*.so"))
    assert any("pydantic_core" in str(p) for p in shared_objects)  # there is something to check
    problems = {str(p.relative_to(runtime_package)): so_problems(p) for p in shared_objects}
    assert {name: why for name, why in problems.items() if why} == {}


def test_package_holds_exactly_the_pinned_runtime_dependencies(runtime_package: Path):
    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    installed = {}
    for dist_info in runtime_package.glob("*.dist-info"):
        meta = HeaderParser().parsestr((dist_info / "METADATA").read_text())
        installed[_normal(meta["Name"])] = meta["Version"]
    for requirement in pinned:
        name, version = requirement.split("==")
        assert installed.get(_normal(name)) == version, requirement
    assert "functions-framework" not in installed and "moto" not in installed  # dev tools stay out


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_package_holds_exactly_the_pinned_closure(runtime_package: Path):
    """Every distribution shipped, transitive ones included, is the version constraints/runtime.txt pins."""
    lines = (ROOT / "constraints" / "runtime.txt").read_text().splitlines()
    pinned = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    installed = {}
    for dist_info in runtime_package.glob("*.dist-info"):
        meta = HeaderParser().parsestr((dist_info / "METADATA").read_text())
        installed[_normal(meta["Name"])] = meta["Version"]
    assert installed == {_normal(name): version for name, version in pinned.items()}
