"""Getting logs in and knowing what is there: ingest, fetch, status, generate, enrich; prune,
pack and unpack the store.

Services are imported inside each command, not at the top: start-up time. `workbench status` runs
from cron and beside the TUI, and must not pay for Polars-heavy detectors, simple-salesforce or
Textual that other commands need; the types stay named for mypy under TYPE_CHECKING.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli import tables
from workbench.cli.common import (
    EXIT_BAD_INPUT,
    ConfigOption,
    DbOption,
    Finished,
    checked,
    fail,
    opened,
    progress,
    run_enrich,
    say,
    settings,
)
from workbench.cli.tables import Column, count, minute
from workbench.store.db import resolve_db_path

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

    from workbench.sources.salesforce import Profile, RemoteFile
    from workbench.store.status import Coverage

commands = typer.Typer()


class Interval(StrEnum):
    """Which EventLogFile intervals to fetch."""

    daily = "daily"
    hourly = "hourly"
    both = "both"


@commands.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders: .csv, .csv.gz, .zip.")],
    db: DbOption = None,
    config: ConfigOption = None,
    org: Annotated[str | None, typer.Option(help="Org id for rows that lack ORGANIZATION_ID.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Snapshot time (UTC) of OauthToken and ConnectedApplication exports (default: the file's time).",
        ),
    ] = None,
) -> None:
    """Load EventLogFile CSVs, and OauthToken, ConnectedApplication, SetupAuditTrail and
    LoginHistory exports, into the store (idempotent; refused files are named)."""
    from workbench.sources.local import ingest_folder
    from workbench.times import parse_moment

    snapshot_time = checked(lambda: parse_moment(as_of, "--as-of")) if as_of else None
    configured = settings(config)
    with opened(db) as con:
        with progress("ingesting") as update:
            folder = ingest_folder(con, paths, default_org=org, as_of=snapshot_time, on_progress=update)
        report = folder.events
        if configured.enrich.configured() and report.rows_added:
            run_enrich(con, configured.enrich)
    for result in report.files:
        if result.status == "refused":
            say(f"refused: {result.label}: {result.reason}", style="red", stderr=True)
    # Org context, a separate step: the exports are not event logs and have their own summary.
    for loaded in folder.context:
        if loaded.status == "refused":
            say(f"refused: {loaded.label}: {loaded.reason}", style="red", stderr=True)
    summary = (
        f"{report.count('ingested')} file(s) ingested, {report.count('skipped')} already ingested, "
        f"{report.count('refused')} refused; {report.rows_added:,} events added, "
        f"{report.rows_duplicate:,} duplicates skipped, {report.rows_rejected:,} rows rejected"
    )
    if report.bytes_replaced:
        summary += f", {report.bytes_replaced:,} non-UTF-8 bytes replaced"
    say(summary + f" (db: {resolve_db_path(db)})")
    if folder.context:
        objects = ", ".join(f"{r.object} {r.rows_added:,}" for r in folder.context if r.status == "loaded")
        say(
            f"org context: {folder.context_count('loaded')} export(s) loaded"
            + (f" ({objects} rows added)" if objects else "")
            + f", {folder.context_count('skipped')} already loaded, {folder.context_count('refused')} refused"
        )
    Finished.done = True
    if report.count("refused") or folder.context_count("refused"):
        raise typer.Exit(EXIT_BAD_INPUT)


@commands.command()
def prune(
    before: Annotated[str, typer.Option(help="Drop the events of every day before this one (YYYY-MM-DD).")],
    db: DbOption = None,
) -> None:
    """Retention: drop whole days of raw events (their Parquet partitions) and their hourly
    aggregates. Findings, triage and the record of ingested files are kept."""
    from workbench.store.retention import prune as drop_days
    from workbench.times import parse_date

    day = checked(lambda: parse_date(before, "--before"))
    assert day is not None  # a required option
    with opened(db) as con:
        pruned = drop_days(con, day)
    say(f"pruned {pruned.events:,} events in {pruned.files:,} file(s) over {pruned.days} day(s) before {day}")


@commands.command()
def pack(
    archive: Annotated[Path, typer.Argument(help="The archive to write (.tar.zst).")],
    db: DbOption = None,
) -> None:
    """Hand-over: bundle the store (the DuckDB file and its event partitions) into one .tar.zst;
    `workbench unpack` (or `tar --zstd -xf`) restores it."""
    from workbench.files import describe_os_error
    from workbench.store.retention import pack as pack_store

    with opened(db) as con:  # read-write: no one else writes while it is copied
        try:
            size = pack_store(con, resolve_db_path(db), archive)
        except OSError as exc:
            raise fail(describe_os_error(exc, archive)) from None
    say(f"packed {resolve_db_path(db)} and its events into {archive} ({size:,} bytes)")


@commands.command()
def unpack(
    archive: Annotated[Path, typer.Argument(help="A store packed by `workbench pack`.")],
    into: Annotated[Path, typer.Option(help="The (empty) folder to unpack into.")] = Path("."),
) -> None:
    """Restore a packed store into a folder; its first open points it at its new place."""
    from workbench.store.retention import RetentionError
    from workbench.store.retention import unpack as unpack_store

    restored = checked(lambda: unpack_store(archive, into), RetentionError)
    with opened(restored, read_only=True) as con:
        (events,) = con.execute("SELECT count(*) FROM events").fetchall()[0]
    say(f"unpacked {restored} ({events:,} events); use it with --db {restored}")


@commands.command()
def status(db: DbOption = None) -> None:
    """Per org and event type: days covered, first/last event, rows, files, rejects, gaps."""
    with opened(db) as con:
        print_status(con)


def print_status(con: duckdb.DuckDBPyConnection) -> None:
    """The store's coverage table and its one-line summary."""
    from workbench.store.status import store_status

    state = store_status(con)
    if not state.coverage:
        say("The store is empty: ingest logs with `workbench ingest PATH`.")
        return
    tables.show(state.coverage, COVERAGE_COLUMNS, title="Coverage per org and event type")
    say(
        f"{len(state.orgs)} org(s), {state.events:,} events from {state.first_event} to "
        f"{state.last_event}, {state.total_files - state.refused_files} file(s) ingested, "
        f"{state.refused_files} refused, {state.rejected_rows:,} rejected rows"
    )


def days_text(days: list[date], limit: int = 4) -> str:
    """'none', or the count and the first few missing days."""
    if not days:
        return "none"
    shown = ", ".join(d.isoformat() for d in days[:limit])
    return f"{len(days)}: {shown}" + (", ..." if len(days) > limit else "")


COVERAGE_COLUMNS: list[Column[Coverage]] = [
    Column("org", lambda c: c.org_id),
    Column("event type", lambda c: c.event_type),
    Column("days", lambda c: c.days_covered, right=True),
    Column("first event (UTC)", lambda c: minute(c.first_event)),
    Column("last event (UTC)", lambda c: minute(c.last_event)),
    Column("events", lambda c: count(c.events), right=True),
    Column("files", lambda c: c.files, right=True),
    Column("rejected", lambda c: count(c.rejected_rows), right=True),
    Column("days without events", lambda c: days_text(c.missing_days)),
]


@commands.command()
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
    from workbench.times import parse_date

    end = checked(lambda: parse_date(end_date, "--end-date")) or DEFAULT_END_DATE
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


@commands.command()
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
    base = settings(config).enrich  # a source given on the command line takes the setting's place
    sources = replace(
        base,
        city=city or base.city,
        asn=asn or base.asn,
        anon=anon or base.anon,
        tor_exits=tor_exits or base.tor_exits,
        networks=networks or base.networks,
    )
    if not sources.configured():
        raise fail(
            "no enrichment source: pass --city/--asn/--anon/--tor-exits/--networks or set [enrich] in "
            "workbench.toml"
        )
    with opened(db) as con:
        run_enrich(con, sources)


@commands.command()
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
    interval: Annotated[Interval, typer.Option(help="daily, hourly or both.")] = Interval.both,
    list_only: Annotated[
        bool, typer.Option("--list", help="Show what is available remotely and locally.")
    ] = False,
    org_context: Annotated[
        bool,
        typer.Option(
            "--org-context",
            help="Pull OauthToken, ConnectedApplication, SetupAuditTrail and LoginHistory instead of logs.",
        ),
    ] = False,
) -> None:
    """Download EventLogFile logs from Salesforce, keep them (gzipped) beside the DB, ingest them;
    or, with --org-context, the org's tokens, connected apps, setup audit trail and login history."""
    from workbench.sources.profiles import ProfileError, archive_dir, first_log_day, resolve_profile
    from workbench.sources.salesforce import Fetcher, FetchError
    from workbench.times import parse_date

    checked(lambda: (parse_date(since, "--since"), parse_date(until, "--until")))
    configured = settings(config)
    profile = checked(lambda: resolve_profile(configured, org, instance_url), ProfileError)
    prompt = (lambda what: typer.prompt(what, hide_input=True)) if sys.stdin.isatty() else None
    archive = archive_dir(resolve_db_path(db))
    if org_context:
        fetch_org_context(db, profile, archive, prompt, since)
        return
    with opened(db) as con:
        try:
            fetcher = Fetcher(con, profile, archive, prompt=prompt)
            start = first_log_day(since, fetcher.cursor())
            remote = fetcher.list_remote(start, until, event_type or [], interval.value, not list_only)
            if list_only:
                print_remote(remote, fetcher.local_ids(), fetcher.api_usage)
                return
            with progress("downloading") as update:
                report = fetcher.fetch(remote, on_file=lambda done, total, _r: update(done, total))
        except FetchError as exc:
            raise fail(str(exc)) from None
        if configured.enrich.configured() and report.events_added:
            run_enrich(con, configured.enrich)
    usage = f"; API usage {report.api_usage}" if report.api_usage else ""
    say(
        f"fetched {report.downloaded} file(s) from {profile.name}, {report.events_added:,} events added; "
        f"archived in {archive}{usage}"
    )
    for message in report.refused:
        say(f"refused: {message}", style="red", stderr=True)
    if report.refused:
        raise typer.Exit(EXIT_BAD_INPUT)


def fetch_org_context(
    db: Path | None, profile: Profile, archive: Path, prompt: Callable[[str], str] | None, since: str | None
) -> None:
    """`fetch --org-context`: the four objects, one line each, refusals on stderr (exit 2)."""
    from workbench.sources.salesforce import Fetcher, FetchError

    with opened(db) as con:
        try:
            fetcher = Fetcher(con, profile, archive, prompt=prompt)
            results = fetcher.fetch_org_context(since)
        except FetchError as exc:
            raise fail(str(exc)) from None
    for result in results:
        if result.status == "loaded":
            say(f"{result.object}: {result.rows_read:,} record(s) read, {result.rows_added:,} added")
        else:
            say(f"refused: {result.reason}", style="red", stderr=True)
    usage = f"; API usage {fetcher.api_usage}" if fetcher.api_usage else ""
    say(f"org context fetched from {profile.name}{usage}")
    if any(r.status == "refused" for r in results):
        raise typer.Exit(EXIT_BAD_INPUT)


def print_remote(remote: list[RemoteFile], local: set[str], usage: str) -> None:
    """What `fetch --list` shows: the remote EventLogFile records and whether each is local."""
    columns: list[Column[RemoteFile]] = [
        Column("event type", lambda r: r.event_type),
        Column("log date", lambda r: r.log_date[:10]),
        Column("interval", lambda r: r.interval),
        Column("sequence", lambda r: r.sequence),
        Column("created", lambda r: r.created),
        Column("bytes", lambda r: count(r.length)),
        Column("local", lambda r: "yes" if r.id in local else "no"),
    ]
    title = f"EventLogFile available remotely: {len(remote)}" + (f" ({usage})" if usage else "")
    tables.show(remote, columns, title=title)
