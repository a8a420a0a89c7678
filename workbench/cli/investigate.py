"""Investigating an incident: backcheck, sweep, report, ip.

Services are imported inside each command, not at the top: start-up time. The investigation
services load Polars and the incident builder; `workbench status` and `--help` must not pay for
them. The types stay named for mypy under TYPE_CHECKING.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.cli import tables
from workbench.cli.common import (
    ConfigOption,
    DbOption,
    Format,
    checked,
    emit,
    fail,
    opened,
    say,
    settings,
    warn,
    write_or_print,
)
from workbench.cli.tables import Column, count, joined, minute
from workbench.store.db import resolve_db_path

if TYPE_CHECKING:
    import duckdb

    from workbench.investigate.ioc import Indicator
    from workbench.investigate.scope import Scope

commands = typer.Typer()


class BackcheckFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


class SweepFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class IpFormat(StrEnum):
    table = "table"
    json = "json"


class ReportFormat(StrEnum):
    markdown = "markdown"
    json = "json"


StartOption = Annotated[str, typer.Option("--start", help="Window start, UTC (YYYY-MM-DD[THH:MM]).")]
EndOption = Annotated[str, typer.Option("--end", help="Window end, UTC; a bare date includes that day.")]
AppOption = Annotated[
    list[str] | None, typer.Option("--app", help="Connected app id or unique name (repeatable).")
]
UserOption = Annotated[list[str] | None, typer.Option("--user", help="User id or name (repeatable).")]
IpOption = Annotated[list[str] | None, typer.Option("--ip", help="Address or CIDR (repeatable).")]
IocOption = Annotated[Path | None, typer.Option("--ioc", help="IOC file (text or CSV).")]
OutputOption = Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")]


def scope_of(
    start: str, end: str, app_ids: list[str] | None, users: list[str] | None, ips: list[str] | None
) -> Scope:
    """The back-check scope from the options, or a one-line error."""
    from workbench.investigate.scope import Scope, ScopeError
    from workbench.times import parse_moment

    return checked(
        lambda: Scope(
            parse_moment(start, "--start"),
            parse_moment(end, "--end", end=True),
            list(app_ids or []),
            list(users or []),
            list(ips or []),
        ),
        ScopeError,
        ValueError,
    )


def resolved(con: duckdb.DuckDBPyConnection, scope: Scope) -> Scope:
    """SCOPE with names resolved to ids; an app, user or address the store does not hold is a
    one-line error that suggests the nearest matches (exit 2)."""
    from workbench.investigate.scope import ScopeError, resolve_scope

    return checked(lambda: resolve_scope(con, scope), ScopeError)


def indicators_in(ioc: Path | None) -> list[Indicator]:
    """The indicators of an IOC file (skipped lines warned about), or a one-line error."""
    from workbench.investigate.ioc import IocError, parse_iocs

    if ioc is None:
        return []
    indicators, skipped = checked(lambda: parse_iocs(ioc), IocError)
    if skipped:
        warn(f"{ioc}: {len(skipped)} line(s) skipped: {', '.join(map(str, skipped[:10]))}")
    if not indicators:
        raise fail(f"{ioc}: no indicator found")
    return indicators


@commands.command()
def backcheck(
    start: StartOption,
    end: EndOption,
    app_id: AppOption = None,
    user: UserOption = None,
    ip_address: IpOption = None,
    ioc: IocOption = None,
    format: Annotated[
        BackcheckFormat, typer.Option("--format", help="Output format.")
    ] = BackcheckFormat.table,
    output: OutputOption = None,
    db: DbOption = None,
) -> None:
    """Back-check an exposure window: what the scope did, touched and changed (no scope = the org)."""
    from workbench.investigate.backcheck import run_backcheck
    from workbench.investigate.report import backcheck_dict, backcheck_markdown

    scope = scope_of(start, end, app_id, user, ip_address)
    indicators = indicators_in(ioc)
    with opened(db, read_only=True) as con:
        scope = resolved(con, scope)
        result = run_backcheck(con, scope, indicators)
    if format == BackcheckFormat.json:
        write_or_print(json.dumps(backcheck_dict(result), indent=2) + "\n", output)
        return
    if format == BackcheckFormat.markdown or output is not None:
        write_or_print(backcheck_markdown(result), output)
        return
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


HIT_COLUMNS: list[Column[dict[str, Any]]] = [
    Column("indicator", lambda h: h["indicator"]),
    Column("kind", lambda h: h["kind"]),
    Column("org", lambda h: h["org_id"]),
    Column("first seen", lambda h: minute(h["first_seen"])),
    Column("last seen", lambda h: minute(h["last_seen"])),
    Column("events", lambda h: count(h["events"])),
    Column("apps / users", lambda h: joined((h["app_names"] or []) + (h["users"] or [])[:3])),
    Column("objects", lambda h: joined(h["objects"])),
    Column("source", lambda h: h["note"]),
]


@commands.command()
def sweep(
    ioc: Annotated[
        Path, typer.Option("--ioc", help="IOC file: one indicator a line, or CSV with a type column.")
    ],
    since: Annotated[str | None, typer.Option(help="Only events from this day on.")] = None,
    format: Annotated[SweepFormat, typer.Option("--format", help="Output format.")] = SweepFormat.table,
    db: DbOption = None,
) -> None:
    """Sweep all history for indicators (IPs, CIDRs, user agents, app and user ids)."""
    from workbench.investigate.ioc import sweep as run_sweep
    from workbench.times import day_bound

    indicators = indicators_in(ioc)
    first = checked(lambda: day_bound(since, "--since"))
    with opened(db, read_only=True) as con:
        hits = run_sweep(con, indicators, first)
    title = f"IOC hits: {len(hits)} of {len(indicators)} indicators"
    tables.show(hits, HIT_COLUMNS, format.value, title=title)


@commands.command()
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
    format: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.markdown,
    csv_dir: Annotated[Path | None, typer.Option(help="Also write the tables as CSV files here.")] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the incident summary: verdict, incident against routine traffic, findings with their
    triage, back-check, IPs, IOCs, coverage, containment checklist, evidence, and the commands that
    reproduce it. With no finding at or above high, an audit report: inventory, coverage, detectors."""
    from workbench.files import describe_os_error
    from workbench.inventory import inventory
    from workbench.investigate.service import build_report

    if (start is None) != (end is None):
        raise fail("--start and --end go together")
    scope = scope_of(start, end, app_id, user, ip_address) if start and end else None
    indicators = indicators_in(ioc)
    # The command that reproduces this report, rebuilt from the parsed options (not sys.argv, which
    # may hold other things), as words that workbench.render.shell_command quotes.
    given: dict[str, object] = {
        "--finding": finding,
        "--start": start,
        "--end": end,
        "--app": app_id,
        "--user": user,
    }
    given |= {"--ip": ip_address, "--ioc": ioc, "--title": title, "--format": format.value}
    db_path = resolve_db_path(db)
    invocation = reproducing(["report", "-o", str(output)], given | {"--csv-dir": csv_dir, "--db": db_path})
    configured = settings(config)
    with opened(db, read_only=True) as con:
        if scope is not None:
            scope = resolved(con, scope)
        built = checked(
            lambda: build_report(
                con,
                finding or [],
                scope,
                indicators,
                title,
                invocation,
                db_path=db_path,
                ioc_path=ioc,
                inventory=lambda: inventory(con, configured),
            )
        )
    write_or_print(built.json() if format == ReportFormat.json else built.markdown, output)
    if csv_dir:
        try:
            built.write_csv(csv_dir)
        except OSError as exc:
            raise fail(describe_os_error(exc, csv_dir)) from None
        say(f"wrote CSV tables to {csv_dir}", stderr=True)


def reproducing(words: list[str], given: dict[str, object]) -> list[str]:
    """WORDS followed by each given option and value, in order (a list value repeats its option)."""
    for option, value in given.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                words = [*words, option, str(item)]
    return words


@commands.command()
def ip(
    address: Annotated[str, typer.Argument(help="The IP address to report on.")],
    db: DbOption = None,
    format: Annotated[IpFormat, typer.Option("--format", help="Output format.")] = IpFormat.table,
) -> None:
    """Everything known about one address: enrichment, activity, objects, statuses, findings."""
    from workbench.enrich.service import ip_report
    from workbench.store.ingest import plain_address

    with opened(db, read_only=True) as con:
        found = ip_report(con, plain_address(address))  # ::ffff:a.b.c.d is stored as a.b.c.d
    if format == IpFormat.json:
        emit(json.dumps(tables.plain(found), indent=2) + "\n")
        return
    info = found["info"]
    flags = [name for name in ("tor", "vpn", "proxy", "hosting") if info.get(f"is_{name}")]
    place = ", ".join(str(v) for v in (info.get("city"), info.get("country")) if v) or "unknown place"
    network = f"AS{info['asn']} {info.get('as_org') or ''}" if info.get("asn") else "unknown network"
    say(
        f"{address}: {info['kind']}; {place}; {network}; flags: {', '.join(flags) or 'none'}"
        + ("" if info.get("enriched") else " (not enriched: run workbench enrich)")
    )
    for title, section in SECTIONS:
        show_records(found[section], title)


SECTIONS = [
    ("Activity by entity", "activity"),
    ("Objects", "objects"),
    ("Status codes", "status_codes"),
    ("Findings", "findings"),
]


def show_records(rows: list[dict[str, Any]], title: str) -> None:
    """Rows of one section of a report as a table, one column per field ('none' when empty)."""
    names = list(rows[0]) if rows else ["none"]
    columns = [Column[dict[str, Any]](name, shown(name)) for name in names]
    tables.show(rows, columns, Format.table, title=f"{title}: {len(rows)}")


def shown(name: str) -> Callable[[dict[str, Any]], object]:
    """A record's field NAME, timestamps to the minute."""

    def value(row: dict[str, Any]) -> object:
        return minute(row[name]) if isinstance(row[name], datetime) else row[name]

    return value


@commands.command("verify-containment")
def verify_containment(
    app_name: Annotated[str, typer.Option("--app", help="Connected app id or name.")],
    since: Annotated[
        str, typer.Option("--since", help="When its tokens were revoked, UTC (YYYY-MM-DD[THH:MM]).")
    ],
    ip_address: Annotated[
        list[str] | None,
        typer.Option(
            "--ip", help="The incident's addresses or CIDRs (default: the app's addresses before --since)."
        ),
    ] = None,
    org: Annotated[
        str | None,
        typer.Option("--org", help="Only this org (default: the org of an app id; every org for a name)."),
    ] = None,
    format: Annotated[
        BackcheckFormat, typer.Option("--format", help="Output format.")
    ] = BackcheckFormat.table,
    output: OutputOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """After containment: were the app's tokens from before --since revoked, has its old activity
    stopped, are new tokens in place? Each answer pass, fail or unknown with evidence; exit 1 on fail."""
    from workbench.investigate.containment import FAIL, ContainmentError
    from workbench.investigate.containment import verify_containment as verify
    from workbench.render import escape_markdown, inert
    from workbench.times import parse_moment

    moment = checked(lambda: parse_moment(since, "--since"), ValueError)
    configured = settings(config)
    with opened(db, read_only=True) as con:
        result = checked(lambda: verify(con, app_name, moment, ip_address, configured, org), ContainmentError)
    if format == BackcheckFormat.json:
        write_or_print(json.dumps(result.as_dict(), indent=2) + "\n", output)
    elif format == BackcheckFormat.markdown:
        lines = [
            f"# Containment of {escape_markdown(result.app)} after {result.since:%Y-%m-%d %H:%M} UTC: "
            f"{result.verdict.upper()}",
            "",
        ]
        for check in result.checks:
            lines += [f"## {escape_markdown(check.question)} {check.answer.upper()}", ""]
            lines += [f"- {escape_markdown(e)}" for e in check.evidence] + [""]
        write_or_print("\n".join(lines), output)
    else:
        columns: list[Column[Any]] = [
            Column("question", lambda c: c.question),
            Column("answer", lambda c: c.answer.upper(), wrap=False),
            Column("evidence", lambda c: c.evidence),
        ]
        tables.show(
            result.checks,
            columns,
            title=f"Containment of {inert(result.app)} after {result.since:%Y-%m-%d %H:%M} UTC: "
            f"{result.verdict.upper()}",
        )
    if result.verdict == FAIL:
        raise typer.Exit(1)
