"""Judging days and working the findings: scan, findings, incidents, triage, suppress.

Services are imported inside each command, not at the top: start-up time. The detectors load
Polars and the whole suite; `workbench status` and `--help` must not pay for them. The types stay
named for mypy under TYPE_CHECKING.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.cli import tables
from workbench.cli.common import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    ConfigOption,
    DbOption,
    Finished,
    Format,
    FormatOption,
    Severity,
    TriageStatus,
    checked,
    emit,
    fail,
    opened,
    say,
    settings,
)
from workbench.cli.tables import Column

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb

    from workbench.config import Settings
    from workbench.detect.scan import ScanResult
    from workbench.investigate.incidents import Incident
    from workbench.investigate.notify import Delivery, Target

commands = typer.Typer()


DetectorOption = Annotated[list[str] | None, typer.Option(help="Only these detectors (repeatable).")]


class Grouping(StrEnum):
    """How `scan` and `findings` print: incidents first, or the flat list of findings."""

    incident = "incident"
    finding = "finding"


class IncidentStatus(StrEnum):
    """workbench.investigate.incidents.INCIDENT_STATUSES."""

    new = "new"
    confirmed = "confirmed"
    dismissed = "dismissed"


ByOption = Annotated[
    Grouping,
    typer.Option("--by", help="Tables: incidents first, then their findings; `finding` gives the flat list."),
]


@commands.command()
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
    detector: DetectorOption = None,
    min_severity: Annotated[Severity, typer.Option(help="Show findings at or above this.")] = Severity.low,
    format: FormatOption = Format.table,
    by: ByOption = Grouping.incident,
    fail_on: Annotated[
        Severity | None, typer.Option(help="Exit 1 if a finding is at or above this severity.")
    ] = None,
    notify: Annotated[
        list[str] | None,
        typer.Option(help="Alert target: slack:URL, webhook:URL or email:ADDRESS (repeatable)."),
    ] = None,
    notify_min_severity: Annotated[Severity, typer.Option(help="Alert on findings at or above this.")] = (
        Severity.high
    ),
) -> None:
    """Judge days with the detector suite, store the findings (same id on re-run) and print them.

    A store never scanned has every day with 7 days of history before it judged; after that the
    days since the last scan (a daily cron stays incremental). Exit 4 if a detector failed (the
    others' findings are stored and printed)."""
    from workbench.detect.load import start_loading
    from workbench.findings import severity_rank
    from workbench.store.findings import load_findings
    from workbench.times import parse_date

    targets = alert_targets(notify)
    configured = checked_settings(config, detector)
    first, last = checked(lambda: (parse_date(since, "--since"), parse_date(until, "--until")))
    if first and last and first > last:
        raise fail(f"--since {since} is after --until {until}")
    with opened(db) as con:
        # The aggregates' queries start now and DuckDB runs them (without the GIL) while Python
        # imports the detector suite: numpy and a dozen modules, about a tenth of a second.
        loading = start_loading(con)
        try:
            from workbench.detect.scan import judged_days, run_scan
            from workbench.investigate.notify import notify as send_alerts

            days = judged_days(con, first, last, all_days)
            say(days.describe(), stderr=True)
            result = run_scan(con, configured, days, detector, loading=loading)
        finally:
            loading.finish()  # even on an error: no query may outlive the store's connection
        say_failures(result)
        ids = result.findings["id"].to_list()
        shown = load_findings(con, min_severity=min_severity.value, ids=ids) if ids else []
        say_deliveries(send_alerts(con, targets, notify_min_severity.value, configured.smtp))
        grouped = incidents_for(con, shown, format, by)
    print_findings(shown, format, with_triage=False, title="Findings", incidents=grouped)
    Finished.done = True
    if not result.complete:
        raise typer.Exit(EXIT_INCOMPLETE)
    if fail_on and any(severity_rank(f["severity"]) >= severity_rank(fail_on.value) for f in shown):
        raise typer.Exit(EXIT_FINDINGS)


def alert_targets(notify: list[str] | None) -> list[Target]:
    """The --notify targets, or a one-line error (that never repeats a secret). Without any, the
    notify module (which loads the detectors' base) is not imported here: see `scan`."""
    if not notify:
        return []
    from workbench.investigate.notify import NotifyError, parse_target

    return checked(lambda: [parse_target(t) for t in notify], NotifyError)


def checked_settings(config: Path | None, detectors: list[str] | None) -> Settings:
    """The settings, checked against every detector's parameters; unknown --detector names refused.
    Without --detector and without [detect.*] settings there is nothing to check, and the suite
    is not imported here: the scan imports it while the store loads (see `scan`)."""
    from workbench.config import ConfigError

    if detectors:
        from workbench.detect.registry import detector_names

        unknown = sorted(set(detectors) - set(detector_names()))
        if unknown:
            raise fail(f"unknown detector(s) {', '.join(unknown)}; detectors: {', '.join(detector_names())}")
    configured = settings(config)
    if configured.detectors:
        from workbench.detect.registry import check_settings

        checked(lambda: check_settings(configured), ConfigError)
    return configured


def say_failures(result: ScanResult) -> None:
    for failure in result.failures:
        say(f"detector {failure.detector} failed, its findings are missing: {failure.reason}", "red", True)


def say_deliveries(deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        if delivery.error:
            say(f"alert to {delivery.target} failed, will retry next run: {delivery.error}", "red", True)
        elif delivery.sent:
            say(f"alerted {delivery.target}: {delivery.sent} finding(s)", stderr=True)


SEVERITY_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}
FINDING_COLUMNS: list[Column[dict[str, Any]]] = [
    Column("severity", lambda f: f["severity"], style=lambda f: SEVERITY_STYLES.get(f["severity"], "")),
    Column("score", lambda f: f["score"]),
    Column("detector", lambda f: f["detector"]),
    Column("entity", lambda f: f"{f['entity_label']} ({f['entity_id']})"),
    Column("window (UTC)", lambda f: tables.minute(f["window_start"])),
    Column("explanation", lambda f: f["explanation"]),
    Column("id", lambda f: f["id"]),
]
STATUS_COLUMN: Column[dict[str, Any]] = Column("status", lambda f: f.get("status", "new"))


INCIDENT_COLUMNS: list[Column[Incident]] = [
    Column("severity", lambda i: i.severity, style=lambda i: SEVERITY_STYLES.get(i.severity, "")),
    Column("score", lambda i: i.score, right=True),
    Column("entity", lambda i: f"{i.entity_label} ({i.entity_id})"),
    Column("org", lambda i: i.org_id),
    Column("window (UTC)", lambda i: f"{tables.minute(i.window_start)} to {tables.minute(i.window_end)}"),
    Column("findings", lambda i: len(i.members), right=True),
    Column("status", lambda i: i.status),
    Column("story", lambda i: i.story),
    Column("id", lambda i: i.id),
]


def incidents_for(
    con: duckdb.DuckDBPyConnection, findings: list[dict[str, Any]], fmt: Format, by: Grouping
) -> list[Incident] | None:
    """The incidents FINDINGS form, when FMT shows them (tables and Markdown grouped by incident);
    JSON and CSV stay the flat list of findings that consumers parse."""
    from workbench.investigate.incidents import incidents_of

    if by == Grouping.finding or fmt in (Format.json, Format.csv):
        return None
    return incidents_of(con, findings)


def in_incident_order(findings: list[dict[str, Any]], incidents: list[Incident]) -> list[dict[str, Any]]:
    """The findings grouped by incident, the incidents in their order, most severe finding first."""
    rank = {fid: n for n, i in enumerate(incidents) for fid in i.finding_ids}
    return sorted(findings, key=lambda f: (rank.get(f["id"], len(rank)), -f["score"], f["window_start"]))


def print_findings(
    findings: list[dict[str, Any]],
    fmt: Format,
    with_triage: bool,
    title: str,
    incidents: list[Incident] | None = None,
) -> None:
    """Findings as the contract's JSON, CSV or Markdown (workbench.render), or a table; with
    INCIDENTS, a table (or Markdown) of them first and the findings in incident order."""
    from workbench import render

    if fmt == Format.json:
        emit(render.to_json(findings, with_triage) + "\n")
        return
    if fmt == Format.csv:
        emit(render.to_csv(findings, with_triage))
        return
    if incidents is not None:
        findings = in_incident_order(findings, incidents)
    if fmt == Format.markdown:
        if incidents is not None:
            tables.show(incidents, INCIDENT_COLUMNS, Format.markdown, f"Incidents: {len(incidents)}")
            emit("\n")
        emit(render.to_markdown(findings, title))
    else:
        if incidents is not None:
            tables.show(incidents, INCIDENT_COLUMNS, title=f"Incidents: {len(incidents)}")
        columns = FINDING_COLUMNS + ([STATUS_COLUMN] if with_triage else [])
        tables.show(findings, columns, title=f"{title}: {len(findings)}")


@commands.command()
def findings(
    db: DbOption = None,
    status: Annotated[TriageStatus | None, typer.Option(help="Only findings with this status.")] = None,
    min_severity: Annotated[Severity | None, typer.Option(help="Only findings at or above this.")] = None,
    detector: DetectorOption = None,
    include_suppressed: Annotated[bool, typer.Option(help="Also list suppressed findings.")] = False,
    format: FormatOption = Format.table,
    by: ByOption = Grouping.incident,
) -> None:
    """List stored findings with their triage status, grouped in incidents (--by finding: flat)."""
    from workbench.store.findings import load_findings

    with opened(db, read_only=True) as con:
        rows = load_findings(
            con,
            status.value if status else None,
            min_severity.value if min_severity else None,
            detector,
            include_suppressed=include_suppressed,
        )
        grouped = incidents_for(con, rows, format, by)
    print_findings(rows, format, with_triage=True, title="Stored findings", incidents=grouped)


@commands.command()
def incidents(
    db: DbOption = None,
    min_severity: Annotated[Severity | None, typer.Option(help="Only incidents at or above this.")] = None,
    status: Annotated[
        IncidentStatus | None,
        typer.Option(help="Only incidents with this status (confirmed: a member is; dismissed: all are)."),
    ] = None,
    include_suppressed: Annotated[bool, typer.Option(help="Count suppressed findings too.")] = False,
    format: FormatOption = Format.table,
) -> None:
    """List incidents: findings on one org and entity that overlap or follow within hours, each told
    in one line of numbers; a detector recurring on several days is one line."""
    from workbench.investigate.incidents import load_incidents

    with opened(db, read_only=True) as con:
        found = load_incidents(
            con,
            min_severity.value if min_severity else None,
            status.value if status else None,
            include_suppressed,
        )
    if format in (Format.json, Format.csv):
        tables.show([i.record() for i in found], [], format)
    else:
        tables.show(found, INCIDENT_COLUMNS, format, title=f"Incidents: {len(found)}")


@commands.command()
def triage(
    finding_id: Annotated[
        str,
        typer.Argument(metavar="ID", help="Finding or incident id (or a unique prefix of 6+ characters)."),
    ],
    status: Annotated[TriageStatus, typer.Option(help="The decision.")],
    note: Annotated[str | None, typer.Option(help="Why (kept with the finding).")] = None,
    db: DbOption = None,
) -> None:
    """Record a triage decision on a finding, or on every finding of an incident; re-scans keep it."""
    from workbench.store.findings import FindingError, set_triage, triage_members

    with opened(db) as con:
        incident, members = checked(lambda: triage_members(con, finding_id), FindingError)
        con.execute("BEGIN")  # an incident's findings change together or not at all
        for member in members:
            set_triage(con, member, status.value, note)
        con.execute("COMMIT")
    what = f"incident {incident} ({len(members)} findings)" if incident else members[0]
    say(f"{what}: {status.value}" + (f" ({note})" if note else ""))


@commands.command()
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
    from workbench.times import day_bound

    end = checked(lambda: day_bound(until, "--until", end=True))
    with opened(db) as con:
        covered = checked(
            lambda: add_suppression(con, detector, entity, end, reason, detector_names()), FindingError
        )
    say(f"suppressed {detector} for {entity}: {covered} stored finding(s) now marked")
