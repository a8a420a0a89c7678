"""What every command shares: the consoles, `say`/`emit`/`fail`, exit codes, the shared options
and their choices (enums Typer validates), `opened()` for the store and `settings()` for the config.

Kept light: importing it loads Typer, Rich and DuckDB, never Polars, a detector or Textual.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from workbench.render import inert
from workbench.store.db import DatabaseBusy, StoreError, open_store, resolve_db_path

if TYPE_CHECKING:
    from workbench.config import EnrichConfig, Settings
    from workbench.enrich.service import EnrichReport

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_BUSY, EXIT_INCOMPLETE = 0, 1, 2, 3, 4

# Piped output gets a wide fixed width so tables are not squeezed into 80 columns. No string is
# ever read as markup or emoji codes: what is printed is what the value says (see `say`).
out = Console(
    highlight=False, markup=False, emoji=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160
)
err = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


class Format(StrEnum):
    """Output formats of the commands that print findings."""

    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


class Severity(StrEnum):
    """workbench.findings.SEVERITIES (not imported here: it loads Polars)."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class TriageStatus(StrEnum):
    """workbench.findings.TRIAGE_STATUSES."""

    new = "new"
    confirmed = "confirmed"
    benign = "benign"
    false_positive = "false_positive"


DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB file (default ./workbench.duckdb or $WORKBENCH_DB)."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (default ./workbench.toml or $WORKBENCH_CONFIG)."),
]
FormatOption = Annotated[Format, typer.Option("--format", help="Output format.")]


def say(message: object, style: str = "", stderr: bool = False) -> None:
    """Print a line whose text may hold log strings: inert, never markup."""
    (err if stderr else out).print(Text(inert(message), style=style))


def warn(message: object) -> None:
    """A warning line on stderr."""
    say(f"warning: {message}", style="yellow", stderr=True)


def emit(document: str) -> None:
    """Write a whole document (JSON, Markdown, CSV) to stdout, its lines made inert."""
    sys.stdout.write(inert(document, keep_newlines=True))


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    say(f"error: {message}", style="red", stderr=True)
    return typer.Exit(code)


T = TypeVar("T")


def checked(call: Callable[[], T], *errors: type[Exception], prefix: str = "") -> T:
    """CALL's result; one of ERRORS (default ValueError) becomes a one-line error (PREFIX and
    the exception's message), exit 2."""
    caught = errors or (ValueError,)
    try:
        return call()
    except caught as exc:
        raise fail(prefix + str(exc)) from None


@contextmanager
def opened(db: Path | None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store, turning its errors into one-line messages and exit codes."""
    try:
        con = open_store(db, read_only=read_only)
    except DatabaseBusy as exc:
        raise fail(str(exc), EXIT_BUSY) from None
    except StoreError as exc:
        raise fail(str(exc)) from None
    try:
        yield con
    except duckdb.Error as exc:
        # A store damaged after it opened (a corrupt block, a full disk) is one line, not a
        # traceback; the first line of DuckDB's message says what it met.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail(f"database {resolve_db_path(db)}: {inert(first)}") from None
    finally:
        con.close()


@contextmanager
def progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr (only when stderr is a terminal); yields an update(done, total)."""
    if not err.is_terminal:
        yield lambda done, total: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def settings(config: Path | None) -> Settings:
    """The settings from --config (or the defaults), or a one-line error."""
    from workbench.config import ConfigError, load_settings

    return checked(lambda: load_settings(config), ConfigError)


def run_enrich(con: duckdb.DuckDBPyConnection, config: EnrichConfig) -> None:
    """Enrich the store's addresses and say what was done (a bad source is a one-line error)."""
    from workbench.enrich.service import enrich_store
    from workbench.enrich.sources import SourceError

    say_enriched(checked(lambda: enrich_store(con, config), SourceError))


def say_enriched(report: EnrichReport) -> None:
    """The enrichment's warnings (stderr) and its one-line summary."""
    for warning in report.warnings:
        warn(warning)
    sources = "; ".join(f"{slot}: {what}" for slot, _, what in report.sources) or "no sources"
    say(f"enriched {report.looked_up:,} new or changed address(es) of {report.addresses:,} ({sources})")


def write_file(path: Path, text: str) -> None:
    """Write a whole file (see workbench.files) or fail with a one-line error, exit 2."""
    from workbench.files import describe_os_error, write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise fail(describe_os_error(exc, path)) from None


def write_or_print(text: str, output: Path | None) -> None:
    """TEXT to the file OUTPUT (saying so on stderr), or to stdout."""
    if output is None:
        emit(text)
        return
    write_file(output, inert(text, keep_newlines=True))
    say(f"wrote {output}", stderr=True)


class Finished:
    """Set by a command (scan, ingest) once its store is closed and every line is printed:
    `workbench.cli.main` then ends the process without the interpreter's teardown, which spends
    50-100 ms freeing the modules of Polars, DuckDB and numpy and nothing else (no file, thread or
    query is left: the store's connection and every cursor are closed, every thread has ended)."""

    done = False
