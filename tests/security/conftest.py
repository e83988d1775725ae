"""Fixtures of the hostile-input tests: the served deployments (and, at the end of the run, how
many hostile requests each route got and what they were answered)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.security.fuzzing import TALLY
from tests.security.served import Hostile, hostile_topology


@pytest.fixture(scope="package")
def hostile(moto_server: str) -> Iterator[Hostile]:
    with hostile_topology(moto_server) as running:
        yield running


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY:
        terminalreporter.section("hostile requests")
        for line in TALLY.lines():
            terminalreporter.write_line(line)
