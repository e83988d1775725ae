"""The demo's restore check: where PostgreSQL is installed, a real database (``inventory``) is
filled and dumped with ``pg_dump -Fc``, the sandbox serves the archive as that database's
newest backup, the chain copies it like the others, and at the end the copy is restored from
the bucket into a fresh database whose tables must equal the source's, row for row."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table

from sandbox.postgres import SAMPLE_SQL, LocalPostgres, PostgresUnavailable

DATABASE = "inventory"


@dataclass
class DemoDrill:
    pg: LocalPostgres
    archive: Path
    source: dict[str, str]  # table -> "rows md5"

    @property
    def served(self) -> dict[str, str]:
        return {DATABASE: str(self.archive)}

    def check(self, s3: Any, bucket: str, key: str) -> tuple[bool, Table]:
        """Restore the copy at ``key`` into a fresh database; equal to the source, and the table."""
        from shared.restore import Target, Tools, restore_copy
        from shared.storage import ObjectStore

        target = self.pg.create_database(f"{DATABASE}_restored")
        tools = Tools(f"{self.pg.bin_dir}/pg_restore", f"{self.pg.bin_dir}/psql")
        restore_copy(ObjectStore(s3, bucket), key, Target.parse(self.pg.url(target)), tools=tools)
        restored = self.pg.fingerprints(target)
        table = Table(title=f"Restore check: {DATABASE}'s copy restored into a fresh database", title_justify="left")
        for column in ("table", "rows in the source", "rows restored", "content"):
            table.add_column(column)
        for name, fingerprint in sorted(self.source.items()):
            again = restored.get(name, "- -")
            same = "[green]equal[/]" if again == fingerprint else "[red]DIFFERENT[/]"
            table.add_row(name, fingerprint.split()[0], again.split()[0], same)
        return restored == self.source, table


@contextmanager
def demo_drill(wanted: bool, console: Console) -> Iterator[DemoDrill | None]:
    """A filled, dumped database while the block runs; None when not wanted or not possible."""
    if not wanted:
        yield None
        return
    try:
        pg = LocalPostgres()
        pg.__enter__()
    except PostgresUnavailable as exc:
        console.print(f"[dim]no restore check: {exc}[/]")
        yield None
        return
    try:
        with console.status(f"filling and dumping a PostgreSQL database, {DATABASE}, for the restore check..."):
            pg.create_database(DATABASE)
            pg.sql(DATABASE, SAMPLE_SQL)
            assert pg.home is not None
            archive = pg.dump(DATABASE, pg.home / f"{DATABASE}.dump")
            source = pg.fingerprints(DATABASE)
        yield DemoDrill(pg, archive, source)
    finally:
        pg.__exit__()
