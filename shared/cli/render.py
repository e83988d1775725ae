"""How results reach the terminal: one JSON document on stdout (``--json``: ISO 8601 times,
sizes in bytes, the same field names every time) or rich tables; notes, progress bars and
errors on stderr, so stdout stays what a script reads."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

from rich.console import Console, RenderableType
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from shared.models import as_utc
from shared.units import human_size

PIPE_WIDTH = 240  # tables written to a pipe or file are not cut to 80 columns
Advance = Callable[[int, int], None]  # (bytes done, total)


class Renderer:
    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.out = Console(width=None if sys.stdout.isatty() else PIPE_WIDTH, highlight=False)
        self.err = Console(stderr=True, width=None if sys.stderr.isatty() else PIPE_WIDTH, highlight=False)

    def emit(self, document: dict[str, Any], human: Callable[[], RenderableType | Sequence[RenderableType]]) -> None:
        """The result: ``document`` as JSON, or what ``human`` builds from it."""
        if self.json_mode:
            sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
            sys.stdout.flush()
            return
        shown = human()
        for part in shown if isinstance(shown, (list, tuple)) else [shown]:
            self._print(part)

    def _print(self, part: RenderableType) -> None:
        if self.out.is_terminal:
            self.out.print(part)
            return
        with self.out.capture() as captured:  # to a pipe or file: no padding after the last column
            self.out.print(part)
        sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """A line on stderr about what is going on (never part of the result)."""
        self.err.print(text, markup=False, highlight=False, soft_wrap=True)

    def error(self, line: str, fields: dict[str, str]) -> None:
        self.err.print(line, markup=False, highlight=False, soft_wrap=True)
        if self.json_mode:
            sys.stdout.write(json.dumps({"error": fields}, indent=2) + "\n")
            sys.stdout.flush()

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Advance]:
        """A bar with bytes, rate and time left on stderr when both stdout and stderr are a terminal;
        silent with --json or when either is a pipe or a file (a script is reading)."""
        if self.json_mode or not (self.out.is_terminal and self.err.is_terminal):
            yield lambda done, total: None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=self.err, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda done, total: bar.update(task, completed=done, total=total)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    shown = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        shown.add_row(*("-" if cell is None else str(cell) for cell in row))
    return shown


def size(value: int | None) -> str:
    return "-" if value is None else human_size(value)


def when(moment: datetime | None) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def short_sha(sha: str | None) -> str:
    return f"{sha[:12]}…" if sha else "-"


def iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None
