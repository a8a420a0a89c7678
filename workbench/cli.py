"""The `workbench` command line. Thin: parse, call a service, render with rich.

Exit codes: 0 ok; 1 findings at or above --fail-on; 2 bad usage or bad input; 3 database busy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from workbench.safe_text import strip_control
from workbench.store.db import DatabaseBusy, StoreError, open_store, resolve_db_path

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_BUSY = 0, 1, 2, 3

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Offline workbench for abuse of SaaS integrations in Salesforce Event Monitoring logs.",
)
# Piped output gets a wide fixed width so tables are not squeezed into 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB file (default ./workbench.duckdb or $WORKBENCH_DB)."),
]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    err.print(Text(f"error: {strip_control(message)}", style="red"))
    return typer.Exit(code)


@contextmanager
def opened(db: Path | None, read_only: bool = False) -> Iterator[Any]:
    """Open the store, turning its errors into one-line messages and exit codes."""
    try:
        con = open_store(db, read_only=read_only)
    except DatabaseBusy as exc:
        raise fail(str(exc), EXIT_BUSY) from None
    except StoreError as exc:
        raise fail(str(exc)) from None
    try:
        yield con
    finally:
        con.close()


@contextmanager
def progress(description: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
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
        task = bar.add_task(description, total=total)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def cell(value: object) -> Text:
    """A table cell that shows the value literally (log strings are never markup)."""
    return Text(strip_control(value))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: .csv, .csv.gz, .zip.")],
    db: DbOption = None,
    org: Annotated[str | None, typer.Option(help="Org id for rows that lack ORGANIZATION_ID.")] = None,
) -> None:
    """Load EventLogFile CSVs into the store (idempotent; refused files are named)."""
    from workbench.store.ingest import ingest_paths

    with opened(db) as con, progress("ingesting") as update:
        report = ingest_paths(con, paths, default_org=org, on_progress=update)
    for result in report.files:
        if result.status == "refused":
            err.print(
                Text(f"refused: {strip_control(result.label)}: {strip_control(result.reason)}", style="red")
            )
    summary = (
        f"{report.count('ingested')} file(s) ingested, {report.count('skipped')} already ingested, "
        f"{report.count('refused')} refused; {report.rows_added:,} events added, "
        f"{report.rows_duplicate:,} duplicates skipped, {report.rows_rejected:,} rows rejected"
    )
    if report.bytes_replaced:
        summary += f", {report.bytes_replaced:,} non-UTF-8 bytes replaced"
    out.print(Text(summary + f" (db: {resolve_db_path(db)})"))
    if report.count("refused"):
        raise typer.Exit(EXIT_BAD_INPUT)


def _print_status(con: Any) -> None:
    from workbench.store.status import store_status

    status = store_status(con)
    if not status.coverage:
        out.print("The store is empty: ingest logs with `workbench ingest PATH`.")
        return
    table = Table(title="Coverage per org and event type")
    for name in (
        "org",
        "event type",
        "days",
        "first event (UTC)",
        "last event (UTC)",
        "events",
        "files",
        "rejected",
        "days without events",
    ):
        table.add_column(name, justify="right" if name in ("days", "events", "files", "rejected") else "left")
    for c in status.coverage:
        table.add_row(
            cell(c.org_id),
            cell(c.event_type),
            str(c.days_covered),
            _minute(c.first_event),
            _minute(c.last_event),
            f"{c.events:,}",
            str(c.files),
            f"{c.rejected_rows:,}",
            cell(_days_text(c.missing_days)),
        )
    out.print(table)
    out.print(
        Text(
            f"{len(status.orgs)} org(s), {status.events:,} events from {status.first_event} to "
            f"{status.last_event}, {status.total_files - status.refused_files} file(s) ingested, "
            f"{status.refused_files} refused, {status.rejected_rows:,} rejected rows"
        )
    )


def _minute(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _days_text(days: list[date], limit: int = 4) -> str:
    """'none', or the count and the first few missing days."""
    if not days:
        return "none"
    shown = ", ".join(d.isoformat() for d in days[:limit])
    return f"{len(days)}: {shown}" + (", ..." if len(days) > limit else "")


@app.command()
def status(db: DbOption = None) -> None:
    """Per org and event type: days covered, first/last event, rows, files, rejects, gaps."""
    with opened(db) as con:
        _print_status(con)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None


@app.command()
def generate(
    outdir: Annotated[Path, typer.Argument(help="Folder to write the CSVs into.")],
    days: Annotated[int, typer.Option(min=1, max=3650)] = 45,
    orgs: Annotated[int, typer.Option(min=1, max=50)] = 2,
    scale: Annotated[float, typer.Option(min=0.001, max=1000.0, help="Volume multiplier.")] = 1.0,
    seed: int = 7,
    end_date: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD), default 2025-11-21.")] = None,
    event_type: Annotated[list[str] | None, typer.Option(help="Only these event types (repeatable).")] = None,
    gzip: Annotated[bool, typer.Option("--gzip", help="Write .csv.gz files.")] = False,
) -> None:
    """Write realistic EventLogFile CSVs with a planted incident (deterministic)."""
    from workbench.sources.generator import DEFAULT_END_DATE, SUPPORTED_EVENT_TYPES
    from workbench.sources.generator import generate as run_generate

    end = _parse_date(end_date, "--end-date") or DEFAULT_END_DATE
    types = tuple(event_type) if event_type else SUPPORTED_EVENT_TYPES
    unknown = sorted(set(types) - set(SUPPORTED_EVENT_TYPES))
    if unknown:
        raise fail(
            f"--event-type {', '.join(unknown)}: the generator writes {', '.join(SUPPORTED_EVENT_TYPES)}"
        )
    with progress("generating") as update:
        report = run_generate(
            outdir,
            days=days,
            orgs=orgs,
            scale=scale,
            seed=seed,
            end_date=end,
            event_types=types,
            gzip_files=gzip,
            on_day=update,
        )
    rows = ", ".join(f"{t} {n:,}" for t, n in report.rows_by_type.items())
    out.print(
        Text(
            f"wrote {len(report.files)} files to {outdir} ({report.first_day} to "
            f"{report.last_day}, {len(report.orgs)} org(s)): {rows}"
        )
    )


def _sample_logs_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "sample_logs"


@app.command()
def demo(
    db: Annotated[Path, typer.Option("--db", help="Demo database to build.")] = Path("demo.duckdb"),
) -> None:
    """Build demo.duckdb from sample_logs/ (generated if absent) and show what it holds."""
    from workbench.sources.generator import generate as run_generate
    from workbench.store.ingest import ingest_paths

    sample = _sample_logs_dir()
    if not any(sample.rglob("*.csv.gz")):
        sample = Path.cwd() / "sample_logs"
        err.print(Text(f"no sample_logs/ shipped here; generating it into {sample}"))
        run_generate(sample, **SAMPLE_ARGS)
    with opened(db) as con:
        with progress("ingesting sample logs") as update:
            report = ingest_paths(con, [sample], on_progress=update)
        out.print(
            Text(
                f"demo database: {db} ({report.rows_added:,} events added, "
                f"{report.count('skipped')} files already there)"
            )
        )
        _print_status(con)


# The arguments that produced sample_logs/ (see sample_logs/README.md).
SAMPLE_ARGS: dict[str, Any] = {"days": 35, "orgs": 2, "scale": 0.3, "seed": 7, "gzip_files": True}


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL, or the name of a query in queries/.")],
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Run read-only SQL (or a named query) against the store and print the rows."""
    import duckdb

    from workbench.store.queries import load_query, named_queries

    text = load_query(sql) if sql in named_queries() else sql
    with opened(db, read_only=True) as con:
        try:
            result = con.execute(text)
            columns = [d[0] for d in result.description or []]
            rows = result.fetchmany(limit)
        except duckdb.Error as exc:
            raise fail(f"query failed: {str(exc).splitlines()[0]}") from None
    table = Table()
    for name in columns:
        table.add_column(cell(name))
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
