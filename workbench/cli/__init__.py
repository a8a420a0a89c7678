"""The `workbench` command line. Thin: parse, call a service, render with rich.

Exit codes: 0 ok; 1 findings at or above --fail-on; 2 bad usage or bad input; 3 database busy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from workbench.render import inert, shell_command
from workbench.store.db import DatabaseBusy, StoreError, open_store, resolve_db_path

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT, EXIT_BUSY, EXIT_INCOMPLETE = 0, 1, 2, 3, 4

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Offline workbench for abuse of SaaS integrations in Salesforce Event Monitoring logs.",
)
# Piped output gets a wide fixed width so tables are not squeezed into 80 columns. No string is
# ever read as markup or emoji codes: what is printed is what the value says (see `say`, `cell`).
out = Console(
    highlight=False, markup=False, emoji=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160
)
err = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB file (default ./workbench.duckdb or $WORKBENCH_DB)."),
]


def say(message: object, style: str = "", stderr: bool = False) -> None:
    """Print a line whose text may hold log strings: inert, never markup."""
    (err if stderr else out).print(Text(inert(message), style=style))


def emit(document: str) -> None:
    """Write a whole document (JSON, Markdown, CSV) to stdout, its lines made inert."""
    sys.stdout.write(inert(document, keep_newlines=True))


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    say(f"error: {message}", style="red", stderr=True)
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
    except duckdb.Error as exc:
        # A store damaged after it opened (a corrupt block, a full disk) is one line, not a
        # traceback; the first line of DuckDB's message says what it met.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail(f"database {resolve_db_path(db)}: {inert(first)}") from None
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
    return Text(inert(value))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: .csv, .csv.gz, .zip.")],
    db: DbOption = None,
    config: ConfigOption = None,
    org: Annotated[str | None, typer.Option(help="Org id for rows that lack ORGANIZATION_ID.")] = None,
) -> None:
    """Load EventLogFile CSVs into the store (idempotent; refused files are named)."""
    from workbench.sources.local import ingest_paths

    settings = _settings(config)
    with opened(db) as con:
        with progress("ingesting") as update:
            report = ingest_paths(con, paths, default_org=org, on_progress=update)
        if settings.enrich.configured() and report.rows_added:
            _run_enrich(con, settings.enrich)
    for result in report.files:
        if result.status == "refused":
            say(f"refused: {result.label}: {result.reason}", style="red", stderr=True)
    summary = (
        f"{report.count('ingested')} file(s) ingested, {report.count('skipped')} already ingested, "
        f"{report.count('refused')} refused; {report.rows_added:,} events added, "
        f"{report.rows_duplicate:,} duplicates skipped, {report.rows_rejected:,} rows rejected"
    )
    if report.bytes_replaced:
        summary += f", {report.bytes_replaced:,} non-UTF-8 bytes replaced"
    say(summary + f" (db: {resolve_db_path(db)})")
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
    say(
        f"{len(status.orgs)} org(s), {status.events:,} events from {status.first_event} to "
        f"{status.last_event}, {status.total_files - status.refused_files} file(s) ingested, "
        f"{status.refused_files} refused, {status.rejected_rows:,} rejected rows"
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
    from workbench.sample.generator import DEFAULT_END_DATE, SUPPORTED_EVENT_TYPES
    from workbench.sample.generator import generate as run_generate

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
    say(
        f"wrote {len(report.files)} files to {outdir} ({report.first_day} to "
        f"{report.last_day}, {len(report.orgs)} org(s)): {rows}"
    )


def _sample_logs_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "sample_logs"


@app.command()
def demo(
    db: Annotated[Path, typer.Option("--db", help="Demo database to build.")] = Path("demo.duckdb"),
    open_tui: Annotated[bool, typer.Option("--tui/--no-tui", help="Open the TUI after building.")] = True,
) -> None:
    """Build demo.duckdb from sample_logs/ (generated if absent), scan it, and open the TUI
    (on a terminal; otherwise print what it holds)."""
    from workbench.config import EnrichConfig
    from workbench.sample.enrichment import write_sample_enrichment
    from workbench.sample.generator import generate as run_generate
    from workbench.sources.local import ingest_paths

    sample = _sample_logs_dir()
    if not any(sample.rglob("*.csv.gz")):
        sample = Path.cwd() / "sample_logs"
        say(f"no sample_logs/ shipped here; generating it into {sample}", stderr=True)
        run_generate(sample, **SAMPLE_ARGS)
        write_sample_enrichment(sample / "enrichment")
    enrichment = sample / "enrichment"
    logs = sorted(p for p in sample.iterdir() if p.is_dir() and p != enrichment)
    with opened(db) as con:
        with progress("ingesting sample logs") as update:
            report = ingest_paths(con, logs, on_progress=update)
        _run_enrich(con, EnrichConfig(
            city=enrichment / "city.mmdb", asn=enrichment / "asn.mmdb", anon=enrichment / "anonymous-ip.mmdb",
            tor_exits=enrichment / "tor-exits.txt", networks=enrichment / "networks.txt",
        ))  # fmt: skip
        say(
            f"demo database: {db} ({report.rows_added:,} events added, "
            f"{report.count('skipped')} files already there)"
        )
        _print_status(con)
        from workbench.detect.scan import judged_days, run_scan

        result = run_scan(con, _settings(None), judged_days(con, all_days=True))
        frame = result.findings
        serious = frame.filter(frame["severity"].is_in(["high", "critical"])).height
        say(
            f"scan, {result.days.describe()}: {frame.height} finding(s), {serious} high or critical "
            "(the planted incident: sample_logs/README.md)"
        )
        if open_tui and sys.stdin.isatty() and sys.stdout.isatty():
            _run_tui(con, db, _settings(None))
            return
    tui_command = shell_command("uv", "run", "workbench", "tui", "--db", db)
    say(f"Next: {tui_command}   or   {shell_command('uv', 'run', 'workbench', 'scan', '--db', db)}")


# The arguments that produced sample_logs/ (see sample_logs/README.md).
SAMPLE_ARGS: dict[str, Any] = {"days": 35, "orgs": 2, "scale": 0.3, "seed": 7, "gzip_files": True}


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL, or the name of a query in queries/.")],
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Rows to show.")] = 50,
) -> None:
    """Run one read-only query (or a named query) against the store and print the rows.

    The console opens the store read-only with no access to other files or extensions, and runs
    exactly one SELECT-like statement (see README, Security model)."""
    from workbench.console import MEMORY_LIMIT, ConsoleError, lock_down, run_console

    with opened(db, read_only=True) as con:
        lock_down(con, resolve_db_path(db), MEMORY_LIMIT)
        try:
            result = run_console(con, sql, limit)
        except ConsoleError as exc:
            raise fail(f"query failed: {exc}") from None
    table = Table()
    for name in result.columns:
        table.add_column(cell(name))
    for row in result.rows:
        table.add_row(*(cell(v) for v in row))
    out.print(table)
    say(result.summary, stderr=True)


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Settings file (default ./workbench.toml or $WORKBENCH_CONFIG)."),
]
FORMATS = ("table", "json", "markdown", "csv")


def _settings(config: Path | None) -> Any:
    from workbench.config import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _check_choice(value: str | None, choices: tuple[str, ...], option: str) -> None:
    if value is not None and value not in choices:
        raise fail(f"{option} {value!r} is not one of {', '.join(choices)}")


def _print_findings(findings: list[dict[str, Any]], fmt: str, with_triage: bool, title: str) -> None:
    from workbench import render

    if fmt == "json":
        emit(render.to_json(findings, with_triage) + "\n")
    elif fmt == "markdown":
        emit(render.to_markdown(findings, title))
    elif fmt == "csv":
        emit(render.to_csv(findings, with_triage))
    else:
        table = Table(title=f"{title}: {len(findings)}")
        for name in ("severity", "score", "detector", "entity", "window (UTC)", "explanation", "id"):
            table.add_column(name, overflow="fold")
        if with_triage:
            table.add_column("status")
        styles = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}
        for f in findings:
            row: list[Text | str] = [
                Text(f["severity"], style=styles.get(f["severity"], "")),
                str(f["score"]),
                cell(f["detector"]),
                cell(f"{f['entity_label']} ({f['entity_id']})"),
                cell(f"{f['window_start']:%Y-%m-%d %H:%M}"),
                cell(f["explanation"]),
                cell(f["id"]),
            ]
            if with_triage:
                row.append(cell(f.get("status", "new")))
            table.add_row(*row)
        out.print(table)


def _day_bound(value: str | None, option: str, end: bool = False) -> datetime | None:
    day = _parse_date(value, option)
    if day is None:
        return None
    start = datetime(day.year, day.month, day.day)
    return start + timedelta(days=1) if end else start


@app.command()
def scan(
    db: DbOption = None,
    config: ConfigOption = None,
    since: Annotated[str | None, typer.Option(help="First day to judge (YYYY-MM-DD).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day to judge (default: the last day with events).")
    ] = None,
    all_days: Annotated[
        bool, typer.Option("--all", help="Judge every day with 7 days of history again, not only new days.")
    ] = False,
    detector: Annotated[list[str] | None, typer.Option(help="Only these detectors (repeatable).")] = None,
    min_severity: Annotated[
        str, typer.Option(help="Show findings at or above: low, medium, high, critical.")
    ] = "low",
    format: Annotated[str, typer.Option("--format", help="table, json, markdown or csv.")] = "table",
    fail_on: Annotated[
        str | None, typer.Option(help="Exit 1 if a finding is at or above this severity.")
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(help="Alert target: slack:URL, webhook:URL or email:ADDRESS (repeatable)."),
    ] = None,
    notify_min_severity: Annotated[str, typer.Option(help="Alert on findings at or above this.")] = "high",
) -> None:
    """Judge days with the detector suite, store the findings (same id on re-run) and print them.

    A store never scanned has every day with 7 days of history before it judged; after that the
    days since the last scan (a daily cron stays incremental). Exit 4 if a detector failed (the
    others' findings are stored and printed)."""
    from workbench.config import ConfigError
    from workbench.detect.registry import check_settings, detector_names
    from workbench.detect.scan import judged_days, run_scan
    from workbench.findings import SEVERITIES
    from workbench.investigate.notify import NotifyError, parse_target
    from workbench.investigate.notify import notify as send_alerts
    from workbench.store.findings import load_findings

    _check_choice(format, FORMATS, "--format")
    _check_choice(min_severity, SEVERITIES, "--min-severity")
    _check_choice(fail_on, SEVERITIES, "--fail-on")
    _check_choice(notify_min_severity, SEVERITIES, "--notify-min-severity")
    try:
        targets = [parse_target(t) for t in notify or []]
    except NotifyError as exc:
        raise fail(str(exc)) from None
    unknown = sorted(set(detector or []) - set(detector_names()))
    if unknown:
        raise fail(f"unknown detector(s) {', '.join(unknown)}; detectors: {', '.join(detector_names())}")
    settings = _settings(config)
    try:
        check_settings(settings)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    first, last = _parse_date(since, "--since"), _parse_date(until, "--until")
    if first and last and first > last:
        raise fail(f"--since {since} is after --until {until}")
    with opened(db) as con:
        days = judged_days(con, first, last, all_days)
        say(days.describe(), stderr=True)
        result = run_scan(con, settings, days, detector)
        for failure in result.failures:
            say(
                f"detector {failure.detector} failed, its findings are missing: {failure.reason}", "red", True
            )
        ids = result.findings["id"].to_list()
        shown = load_findings(con, min_severity=min_severity, ids=ids) if ids else []
        for delivery in send_alerts(con, targets, notify_min_severity, settings.smtp):
            if delivery.error:
                say(f"alert to {delivery.target} failed, will retry next run: {delivery.error}", "red", True)
            elif delivery.sent:
                say(f"alerted {delivery.target}: {delivery.sent} finding(s)", stderr=True)
    _print_findings(shown, format, with_triage=False, title="Findings")
    if not result.complete:
        raise typer.Exit(EXIT_INCOMPLETE)
    if fail_on and any(SEVERITIES.index(f["severity"]) >= SEVERITIES.index(fail_on) for f in shown):
        raise typer.Exit(EXIT_FINDINGS)


@app.command()
def findings(
    db: DbOption = None,
    status: Annotated[str | None, typer.Option(help="new, confirmed, benign or false_positive.")] = None,
    min_severity: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
    detector: Annotated[list[str] | None, typer.Option(help="Only these detectors (repeatable).")] = None,
    include_suppressed: Annotated[bool, typer.Option(help="Also list suppressed findings.")] = False,
    format: Annotated[str, typer.Option("--format", help="table, json, markdown or csv.")] = "table",
) -> None:
    """List stored findings with their triage status."""
    from workbench.detect.base import SEVERITIES
    from workbench.store.findings import TRIAGE_STATUSES, load_findings

    _check_choice(format, FORMATS, "--format")
    _check_choice(status, TRIAGE_STATUSES, "--status")
    _check_choice(min_severity, SEVERITIES, "--min-severity")
    with opened(db, read_only=True) as con:
        rows = load_findings(con, status, min_severity, detector, include_suppressed=include_suppressed)
    _print_findings(rows, format, with_triage=True, title="Stored findings")


@app.command()
def triage(
    finding_id: Annotated[str, typer.Argument(help="Finding id (or a unique prefix of 6+ characters).")],
    status: Annotated[str, typer.Option(help="new, confirmed, benign or false_positive.")],
    note: Annotated[str | None, typer.Option(help="Why (kept with the finding).")] = None,
    db: DbOption = None,
) -> None:
    """Record a triage decision on a finding; re-scans keep it."""
    from workbench.store.findings import FindingError, set_triage

    with opened(db) as con:
        try:
            full = set_triage(con, finding_id, status, note)
        except FindingError as exc:
            raise fail(str(exc)) from None
    say(f"{full}: {status}" + (f" ({note})" if note else ""))


@app.command()
def suppress(
    detector: Annotated[str, typer.Option(help="The detector to silence.")],
    entity: Annotated[str, typer.Option(help="The one app, user or IP id it is silenced for.")],
    until: Annotated[
        str | None, typer.Option(help="Last day of the suppression (default: until removed).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    db: DbOption = None,
) -> None:
    """Suppress one detector for one entity (scoped, never a whole user); findings are kept, marked."""
    from workbench.detect.registry import detector_names
    from workbench.store.findings import FindingError, add_suppression

    end = _day_bound(until, "--until", end=True)
    with opened(db) as con:
        try:
            covered = add_suppression(con, detector, entity, end, reason, detector_names())
        except FindingError as exc:
            raise fail(str(exc)) from None
    say(f"suppressed {detector} for {entity}: {covered} stored finding(s) now marked")


@app.command()
def integrations(
    db: DbOption = None,
    config: ConfigOption = None,
    write_catalog: Annotated[
        Path | None, typer.Option(help="Write a starter integrations.toml here.")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only behaviour before this day (draft a catalog from before an incident)."),
    ] = None,
) -> None:
    """The connected apps seen in the logs, ranked by privilege; optionally a starter catalog."""
    from workbench.inventory import inventory, starter_catalog

    settings = _settings(config)
    end = _day_bound(until, "--until")
    with opened(db, read_only=True) as con:
        apps = inventory(con, settings, end)
    table = Table(title=f"Integrations seen in the logs: {len(apps)}")
    for name in (
        "privilege",
        "app",
        "id",
        "users",
        "first seen",
        "last seen",
        "calls",
        "objects",
        "IPs",
        "write %",
        "error %",
        "catalog",
    ):
        table.add_column(name, overflow="fold", no_wrap=name not in ("users", "objects", "IPs"))
    for a in apps:
        table.add_row(
            str(a["privilege"]),
            cell(a["name"]),
            cell(a["connected_app_id"]),
            cell(", ".join(a["users"] or [])),
            _minute(a["first_seen"]),
            _minute(a["last_seen"]),
            f"{a['calls']:,}",
            cell(", ".join(a["objects"] or [])),
            cell(", ".join((a["ips"] or [])[:4])),
            f"{100 * (a['write_share'] or 0):.0f}",
            f"{100 * (a['error_rate'] or 0):.1f}",
            cell(a["catalog_name"] or "-"),
        )
    out.print(table)
    if write_catalog:
        if write_catalog.exists() or write_catalog.is_symlink():
            raise fail(f"{write_catalog} already exists: choose another path or remove it")
        _write_file(write_catalog, starter_catalog(apps))
        say(f"wrote a starter catalog for {len(apps)} app(s) to {write_catalog}: review it")


def _enrich_config(settings: Any, **given: Path | None) -> Any:
    """The [enrich] settings with any source given on the command line in its place."""
    from dataclasses import replace

    return replace(settings.enrich, **{k: v for k, v in given.items() if v is not None})


def _run_enrich(con: Any, config: Any) -> None:
    from workbench.enrich.service import enrich_store
    from workbench.enrich.sources import SourceError

    try:
        report = enrich_store(con, config)
    except SourceError as exc:
        raise fail(str(exc)) from None
    for warning in report.warnings:
        say(f"warning: {warning}", style="yellow", stderr=True)
    sources = "; ".join(f"{slot}: {what}" for slot, _, what in report.sources) or "no sources"
    say(f"enriched {report.looked_up:,} new or changed address(es) of {report.addresses:,} ({sources})")


PathOption = Annotated[Path | None, typer.Option()]


@app.command()
def enrich(
    db: DbOption = None,
    config: ConfigOption = None,
    city: Annotated[Path | None, typer.Option(help="City or Country database (.mmdb).")] = None,
    asn: Annotated[Path | None, typer.Option(help="ASN database (.mmdb).")] = None,
    anon: Annotated[Path | None, typer.Option(help="Anonymous-IP database (.mmdb).")] = None,
    tor_exits: Annotated[
        Path | None, typer.Option(help="Tor exit list: bulk list or exit-addresses.")
    ] = None,
    networks: Annotated[
        Path | None, typer.Option(help="CSV of network-or-ASN,label (vpn, proxy, hosting).")
    ] = None,
) -> None:
    """Enrich every address in the store (country, city, ASN, Tor/VPN/proxy/hosting, allowlists)."""
    settings = _settings(config)
    sources = _enrich_config(settings, city=city, asn=asn, anon=anon, tor_exits=tor_exits, networks=networks)
    if not sources.configured():
        raise fail(
            "no enrichment source: pass --city/--asn/--anon/--tor-exits/--networks or set [enrich] in workbench.toml"
        )
    with opened(db) as con:
        _run_enrich(con, sources)


@app.command()
def ip(
    address: Annotated[str, typer.Argument(help="The IP address to report on.")],
    db: DbOption = None,
    format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Everything known about one address: enrichment, activity, objects, statuses, findings."""
    import json

    from workbench.enrich.service import ip_report
    from workbench.render import iso

    _check_choice(format, ("table", "json"), "--format")
    with opened(db, read_only=True) as con:
        report = ip_report(con, address)
    if format == "json":
        emit(
            json.dumps(report, default=lambda v: iso(v) if isinstance(v, datetime) else str(v), indent=2)
            + "\n"
        )
        return
    info = report["info"]
    flags = [name for name in ("tor", "vpn", "proxy", "hosting") if info.get(f"is_{name}")]
    place = ", ".join(str(v) for v in (info.get("city"), info.get("country")) if v) or "unknown place"
    network = f"AS{info['asn']} {info.get('as_org') or ''}" if info.get("asn") else "unknown network"
    say(
        f"{address}: {info['kind']}; {place}; {network}; flags: {', '.join(flags) or 'none'}"
        + ("" if info.get("enriched") else " (not enriched: run workbench enrich)")
    )
    for title, rows in (
        ("Activity by entity", report["activity"]),
        ("Objects", report["objects"]),
        ("Status codes", report["status_codes"]),
        ("Findings", report["findings"]),
    ):
        table = Table(title=f"{title}: {len(rows)}")
        for name in rows[0] if rows else ["none"]:
            table.add_column(cell(name), overflow="fold")
        for row in rows:
            table.add_row(*(cell(_minute(v) if isinstance(v, datetime) else v) for v in row.values()))
        out.print(table)


def _parse_moment(value: str, option: str, end: bool = False) -> datetime:
    """A UTC time (ISO 8601, 'Z' allowed); a bare date means its start, or for an end the day after."""
    text = value.strip().removesuffix("Z").replace(" ", "T")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if end and len(text) == 10:
        moment += timedelta(days=1)
    return moment


def _scope(
    start: str, end: str, app_ids: list[str] | None, users: list[str] | None, ips: list[str] | None
) -> Any:
    from workbench.investigate.scope import Scope, ScopeError

    try:
        return Scope(_parse_moment(start, "--start"), _parse_moment(end, "--end", end=True),
                     list(app_ids or []), list(users or []), list(ips or []))  # fmt: skip
    except ScopeError as exc:
        raise fail(str(exc)) from None


def _indicators(ioc: Path | None) -> list[Any]:
    from workbench.investigate.ioc import IocError, parse_iocs

    if ioc is None:
        return []
    try:
        indicators, skipped = parse_iocs(ioc)
    except IocError as exc:
        raise fail(str(exc)) from None
    if skipped:
        lines = ", ".join(map(str, skipped[:10]))
        say(f"warning: {ioc}: {len(skipped)} line(s) skipped: {lines}", style="yellow", stderr=True)
    if not indicators:
        raise fail(f"{ioc}: no indicator found")
    return indicators


def _write_file(path: Path, text: str) -> None:
    """Write a whole file (see workbench.files) or fail with a one-line error, exit 2."""
    from workbench.files import describe_os_error, write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise fail(describe_os_error(exc, path)) from None


def _write_or_print(text: str, output: Path | None) -> None:
    if output is None:
        emit(text)
        return
    _write_file(output, inert(text, keep_newlines=True))
    say(f"wrote {output}", stderr=True)


StartOption = Annotated[str, typer.Option("--start", help="Window start, UTC (YYYY-MM-DD[THH:MM]).")]
EndOption = Annotated[str, typer.Option("--end", help="Window end, UTC; a bare date includes that day.")]
AppOption = Annotated[list[str] | None, typer.Option("--app", help="Connected app id (repeatable).")]
UserOption = Annotated[list[str] | None, typer.Option("--user", help="User id or name (repeatable).")]
IpOption = Annotated[list[str] | None, typer.Option("--ip", help="Address or CIDR (repeatable).")]
IocOption = Annotated[Path | None, typer.Option("--ioc", help="IOC file (text or CSV).")]
OutputOption = Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")]


@app.command()
def backcheck(
    start: StartOption,
    end: EndOption,
    app_id: AppOption = None,
    user: UserOption = None,
    ip_address: IpOption = None,
    ioc: IocOption = None,
    format: Annotated[str, typer.Option("--format", help="table, markdown or json.")] = "table",
    output: OutputOption = None,
    db: DbOption = None,
) -> None:
    """Back-check an exposure window: what the scope did, touched and changed (no scope = the org)."""
    import json

    from workbench.investigate.backcheck import run_backcheck
    from workbench.investigate.report import backcheck_dict, backcheck_markdown

    _check_choice(format, ("table", "markdown", "json"), "--format")
    scope = _scope(start, end, app_id, user, ip_address)
    indicators = _indicators(ioc)
    with opened(db, read_only=True) as con:
        result = run_backcheck(con, scope, indicators)
    if format == "json":
        _write_or_print(json.dumps(backcheck_dict(result), indent=2) + "\n", output)
    elif format == "markdown" or output is not None:
        _write_or_print(backcheck_markdown(result), output)
    else:
        say(
            f"Back-check {scope.start:%Y-%m-%d %H:%M} to {scope.end:%Y-%m-%d %H:%M} UTC, "
            f"{scope.describe()}: {result.total_calls:,} API calls"
        )
        for title, items in (
            ("At risk", result.at_risk),
            ("Checked", result.checked),
            ("Changed", result.changed),
        ):
            say(title + ":", style="bold")
            for item in items:
                say("  - " + item)
        say("Use --format markdown for every table (addresses, objects, API use, IOC hits, findings).")


@app.command()
def sweep(
    ioc: Annotated[
        Path, typer.Option("--ioc", help="IOC file: one indicator a line, or CSV with a type column.")
    ],
    since: Annotated[str | None, typer.Option(help="Only events from this day on.")] = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    db: DbOption = None,
) -> None:
    """Sweep all history for indicators (IPs, CIDRs, user agents, app and user ids)."""
    import json

    from workbench.investigate.ioc import sweep as run_sweep
    from workbench.investigate.report import csv_table, jsonable

    _check_choice(format, ("table", "json", "csv"), "--format")
    indicators = _indicators(ioc)
    with opened(db, read_only=True) as con:
        hits = run_sweep(con, indicators, _day_bound(since, "--since"))
    if format == "json":
        emit(json.dumps(jsonable(hits), indent=2) + "\n")
        return
    if format == "csv":
        emit(csv_table(hits))
        return
    table = Table(title=f"IOC hits: {len(hits)} of {len(indicators)} indicators")
    for name in (
        "indicator",
        "kind",
        "org",
        "first seen",
        "last seen",
        "events",
        "apps / users",
        "objects",
        "source",
    ):
        table.add_column(name, overflow="fold")
    for h in hits:
        table.add_row(cell(h["indicator"]), h["kind"], cell(h["org_id"]), _minute(h["first_seen"]),
                      _minute(h["last_seen"]), f"{h['events']:,}",
                      cell(", ".join((h["app_names"] or []) + (h["users"] or [])[:3])),
                      cell(", ".join(h["objects"] or [])), cell(h["note"]))  # fmt: skip
    out.print(table)


@app.command()
def report(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the report.")],
    finding: Annotated[list[str] | None, typer.Option("--finding", help="Finding id (repeatable).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="Back-check window start (UTC).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Back-check window end (UTC).")] = None,
    app_id: AppOption = None,
    user: UserOption = None,
    ip_address: IpOption = None,
    ioc: IocOption = None,
    title: Annotated[
        str, typer.Option(help="Report title.")
    ] = "Incident summary: SaaS integration token abuse",
    format: Annotated[str, typer.Option("--format", help="markdown or json.")] = "markdown",
    csv_dir: Annotated[Path | None, typer.Option(help="Also write the tables as CSV files here.")] = None,
    db: DbOption = None,
) -> None:
    """Write the incident summary: summary, timeline, findings, back-check, IPs, IOCs, coverage,
    containment checklist, evidence, and the commands that reproduce it."""
    from workbench.investigate.service import build_report

    _check_choice(format, ("markdown", "json"), "--format")
    if (start is None) != (end is None):
        raise fail("--start and --end go together")
    scope = _scope(start, end, app_id, user, ip_address) if start and end else None
    indicators = _indicators(ioc)
    # The command that reproduces this report, rebuilt from the parsed options (not sys.argv, which
    # may hold other things), as words that workbench.render.shell_command quotes.
    given: list[tuple[str, Any]] = [
        ("--finding", finding),
        ("--start", start),
        ("--end", end),
        ("--app", app_id),
        ("--user", user),
        ("--ip", ip_address),
        ("--ioc", ioc),
        ("--title", title),
        ("--format", format),
        ("--csv-dir", csv_dir),
        ("--db", db),
    ]
    invocation = ["report", "-o", str(output)]
    for option, value in given:
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                invocation += [option, str(item)]
    with opened(db, read_only=True) as con:
        try:
            built = build_report(con, finding or [], scope, indicators, title, invocation)
        except ValueError as exc:
            raise fail(str(exc)) from None
    _write_or_print(built.json() if format == "json" else built.markdown, output)
    if csv_dir:
        try:
            built.write_csv(csv_dir)
        except OSError as exc:
            from workbench.files import describe_os_error

            raise fail(describe_os_error(exc, csv_dir)) from None
        say(f"wrote CSV tables to {csv_dir}", stderr=True)


def _profile(settings: Any, org: str | None, instance_url: str | None) -> Any:
    from workbench.sources.salesforce import Profile

    if instance_url:
        return Profile(name=org or "token", auth="token", instance_url=instance_url)
    if not settings.salesforce:
        raise fail("no Salesforce connection: pass --instance-url (token in SF_ACCESS_TOKEN) or add a "
                   "[salesforce.NAME] profile to workbench.toml")  # fmt: skip
    name = org or next(iter(settings.salesforce))
    if name not in settings.salesforce:
        raise fail(
            f"no [salesforce.{name}] profile in workbench.toml; profiles: {', '.join(settings.salesforce)}"
        )
    raw = dict(settings.salesforce[name])
    secret_env = {k.removesuffix("_env"): str(raw.pop(k)) for k in list(raw) if k.endswith("_env")}
    known = {
        "auth",
        "instance_url",
        "domain",
        "username",
        "consumer_key",
        "private_key_file",
        "org_id",
        "api_version",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise fail(f"[salesforce.{name}]: unknown key(s) {', '.join(unknown)}")
    return Profile(name=name, secret_env=secret_env, **raw)


def _archive_dir(db: Path | None) -> Path:
    path = resolve_db_path(db)
    return path.with_name(path.stem + "-archive")


@app.command()
def fetch(
    db: DbOption = None,
    config: ConfigOption = None,
    org: Annotated[
        str | None, typer.Option(help="Connection profile ([salesforce.NAME] in workbench.toml).")
    ] = None,
    instance_url: Annotated[
        str | None, typer.Option(help="Use an access token (SF_ACCESS_TOKEN) on this instance.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="First log day (default: after the last fetch, or 30 days).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last log day.")] = None,
    event_type: Annotated[list[str] | None, typer.Option(help="Only these event types (repeatable).")] = None,
    interval: Annotated[str, typer.Option(help="daily, hourly or both.")] = "both",
    list_only: Annotated[
        bool, typer.Option("--list", help="Show what is available remotely and locally.")
    ] = False,
) -> None:
    """Download EventLogFile logs from Salesforce, keep them (gzipped) beside the DB, ingest them."""
    from workbench.sources.salesforce import Fetcher, FetchError

    _check_choice(interval, ("daily", "hourly", "both"), "--interval")
    for value, option in ((since, "--since"), (until, "--until")):
        _parse_date(value, option)
    settings = _settings(config)
    profile = _profile(settings, org, instance_url)
    prompt = (lambda what: typer.prompt(what, hide_input=True)) if sys.stdin.isatty() else None
    with opened(db) as con:
        try:
            fetcher = Fetcher(con, profile, _archive_dir(db), prompt=prompt)
            cursor = fetcher.cursor()
            start = since or (None if cursor else (date.today() - timedelta(days=30)).isoformat())
            remote = fetcher.list_remote(
                start, until, list(event_type or []), interval, incremental=not list_only
            )
            if list_only:
                _print_remote(remote, fetcher.local_ids(), fetcher.api_usage)
                return
            with progress("downloading") as update:
                report = fetcher.fetch(remote, on_file=lambda done, total, _r: update(done, total))
        except FetchError as exc:
            raise fail(str(exc)) from None
        if settings.enrich.configured() and report.events_added:
            _run_enrich(con, settings.enrich)
    usage = f"; API usage {report.api_usage}" if report.api_usage else ""
    say(
        f"fetched {report.downloaded} file(s) from {profile.name}, {report.events_added:,} events added; "
        f"archived in {_archive_dir(db)}{usage}"
    )
    for message in report.refused:
        say(f"refused: {message}", style="red", stderr=True)
    if report.refused:
        raise typer.Exit(EXIT_BAD_INPUT)


def _print_remote(remote: list[Any], local: set[str], usage: str) -> None:
    table = Table(
        title=cell(f"EventLogFile available remotely: {len(remote)}" + (f" ({usage})" if usage else ""))
    )
    for name in ("event type", "log date", "interval", "sequence", "created", "bytes", "local"):
        table.add_column(name)
    for r in remote:
        table.add_row(cell(r.event_type), cell(r.log_date[:10]), cell(r.interval), str(r.sequence), cell(r.created),
                      f"{r.length:,}", "yes" if r.id in local else "no")  # fmt: skip
    out.print(table)


@app.command()
def tui(db: DbOption = None, config: ConfigOption = None) -> None:
    """Open the investigation workbench (Textual) on the store."""
    from workbench.tui import settings as tui_settings

    settings = _settings(config)
    if db is None and not resolve_db_path(None).exists():
        remembered = tui_settings.load().get("db")
        db = Path(remembered) if isinstance(remembered, str) and Path(remembered).exists() else None
    with opened(db) as con:
        _run_tui(con, resolve_db_path(db), settings)


def _run_tui(con: Any, db: Path, settings: Any) -> None:
    """Run the TUI; if it stopped on an error (Textual has printed it), exit 1 with one line."""
    from workbench.tui.app import run

    code = run(con, db, settings)
    if code:
        raise fail("the TUI stopped on an unexpected error (shown above)", code)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
