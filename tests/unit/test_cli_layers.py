"""The library never imports the sandbox or the CLI; only the CLI's ``sandbox`` command may
import the sandbox (lazily, to start it)."""

from __future__ import annotations

import grimp

ALLOWED = {("shared.cli.commands.sandbox", "sandbox.operator")}


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("shared", "handlers", "sandbox", include_external_packages=False)


def test_only_the_sandbox_command_imports_the_sandbox():
    graph = _graph()
    found = {(importer, imported) for importer in graph.modules if importer.split(".")[0] in ("shared", "handlers")
             for imported in graph.find_modules_directly_imported_by(importer) if imported.split(".")[0] == "sandbox"}
    assert found <= ALLOWED


def test_nothing_outside_the_cli_imports_the_cli():
    graph = _graph()
    outside = [m for m in graph.modules if not m.startswith("shared.cli") and m.split(".")[0] in ("shared", "handlers")]
    offenders = {(m, imported) for m in outside for imported in graph.find_modules_directly_imported_by(m)
                 if imported.startswith("shared.cli")}
    assert offenders == set()
