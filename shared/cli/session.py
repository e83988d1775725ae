"""What every command shares: its options, its settings and clients, its logging, and the
one place an error becomes a line on stderr and an exit code.

    with Session(json_output, debug, verbose) as session:
        ...  # session.settings, session.api(), session.store(), session.out

Leaving the block ends the command: ``typer.Exit`` with ``session.exit_code``, or with the
error's exit code after printing it (its traceback too with ``--debug``).
"""

from __future__ import annotations

import logging
import sys
import traceback
from functools import cached_property
from typing import TYPE_CHECKING, Any, Optional

import typer
from typing_extensions import Annotated

from shared.cli.exits import DONE, NOT_DONE, error_fields, error_line, exit_code
from shared.cli.render import Renderer
from shared.errors import ScalewayUnavailable
from shared.urls import redact_url

if TYPE_CHECKING:
    from shared.scaleway.client import ScalewayClient
    from shared.settings import Settings
    from shared.storage import ObjectStore

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout: ISO 8601 times, sizes in bytes.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show an error's traceback.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="JSON log lines on stderr.")]
DatabaseOpt = Annotated[Optional[list[str]], typer.Option(
    "--database", "-d", metavar="NAME|ID", help="Only this database, by name or id (repeatable).")]

# A terminal waits for an answer: a few quick retries, each one said, instead of a minute of silence.
API_ATTEMPTS = 3
API_RETRY_SECONDS = 8.0
API_POLICY: dict[str, Any] = {"max_attempts": API_ATTEMPTS, "max_retry_seconds": API_RETRY_SECONDS}  # also for the use cases' clients
S3_ATTEMPTS = 2
_RETRYABLE_CODES = {"scaleway_unavailable", "scaleway_rate_limited"}


class Session:
    def __init__(self, json_output: bool = False, debug: bool = False, verbose: bool = False) -> None:
        self.out = Renderer(json_output)
        self.debug, self.verbose = debug, verbose
        self.exit_code = DONE
        self._closers: list[Any] = []
        self._handlers: list[logging.Handler] = []

    def __enter__(self) -> "Session":
        self._install_logging()
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        self._close()
        if exc is None:
            raise typer.Exit(self.exit_code)
        if isinstance(exc, (typer.Exit, typer.Abort, SystemExit)) or _is_click_error(exc):
            return False
        if self.debug:
            traceback.print_exception(exc, file=sys.stderr)
        self.out.error(error_line(exc) + self._hint(exc), error_fields(exc))
        raise typer.Exit(exit_code(exc)) from None

    def not_done(self) -> None:
        """The command ran, but something it was asked to do was not done: exit 1."""
        self.exit_code = NOT_DONE

    # --- settings and clients, built on first use --------------------------------------------

    @cached_property
    def settings(self) -> "Settings":
        from shared.settings import load_settings

        return load_settings()

    def api(self) -> "ScalewayClient":
        from shared.scaleway.client import ScalewayClient

        client = ScalewayClient.from_settings(self.settings, **API_POLICY)
        self._closers.append(client)
        return client

    def store(self) -> "ObjectStore":
        from shared.storage import ObjectStore

        store = ObjectStore.from_settings(self.settings, max_attempts=S3_ATTEMPTS)
        self._closers.append(store)
        return store

    def store_if_configured(self) -> "ObjectStore | None":
        return self.store() if self.settings.backup_bucket else None

    # --- internals -------------------------------------------------------------------------

    def _hint(self, exc: BaseException) -> str:
        if isinstance(exc, ScalewayUnavailable) and exc.api_status is None and "settings" in self.__dict__:
            return f"; is the API reachable at {redact_url(self.settings.scw_api_url)} (SCALEWAY_API_URL)?"
        return ""

    def _install_logging(self) -> None:
        from shared.observability import configure_logging

        root = logging.getLogger()
        if self.verbose:
            configure_logging("INFO", stream=sys.stderr)
            return
        handlers: list[logging.Handler] = [logging.NullHandler(), _RetryNotes(self.out)]
        for handler in handlers:  # NullHandler: no stray log text on stderr
            root.addHandler(handler)
        self._handlers = handlers
        root.setLevel(logging.WARNING)

    def _close(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer.close()
            except Exception:  # noqa: BLE001 - closing must not hide the command's own outcome
                pass
        for handler in self._handlers:
            logging.getLogger().removeHandler(handler)


class _RetryNotes(logging.Handler):
    """Turns the API client's "call failed" log records into notes while it retries."""

    def __init__(self, out: Renderer) -> None:
        super().__init__(logging.WARNING)
        self.out = out
        self.attempts: dict[tuple[Any, Any], int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None) or {}
        if not record.name.startswith("shared.scaleway") or fields.get("error") not in _RETRYABLE_CODES:
            return
        call = (fields.get("method"), fields.get("path"))
        self.attempts[call] = attempt = self.attempts.get(call, 0) + 1
        self.out.note(f"note: Scaleway API {call[0]} {call[1]} failed ({fields['error']}), "
                      f"attempt {attempt} of at most {API_ATTEMPTS}")


def _is_click_error(exc: BaseException) -> bool:
    import click

    return isinstance(exc, click.exceptions.ClickException)
