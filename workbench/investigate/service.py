"""Assemble an incident report from stored findings and a back-check (CLI and TUI alike)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from workbench.detect.registry import detector_names
from workbench.detect.scan import LAST_JUDGED_KEY
from workbench.findings import SEVERITIES
from workbench.investigate.backcheck import Backcheck, run_backcheck
from workbench.investigate.ioc import Indicator, sweep
from workbench.investigate.report import (
    Audit,
    Incident,
    audit_report,
    backcheck_dict,
    incident_report,
    jsonable,
    write_csv,
)
from workbench.investigate.scope import Scope, install_scope
from workbench.render import shell_command
from workbench.store.findings import FindingError, load_findings, resolve_id
from workbench.store.queries import first_row, query_frame

REPORT_THRESHOLD = "high"  # findings at or above it make an incident report; below it, an audit

BACKCHECK_QUERIES = [
    "backcheck_calls_by_hour",
    "backcheck_objects",
    "backcheck_resources",
    "backcheck_ips",
    "backcheck_actors",
    "backcheck_errors",
    "backcheck_clients",
    "backcheck_baseline",
    "ioc_hits",
    "findings_in_window",
]


@dataclass
class BuiltReport:
    """A report in every output form."""

    markdown: str
    findings: list[dict[str, Any]]
    backcheck: Backcheck | None
    incident: Incident | None = None
    audit: Audit | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> str:
        """The report's data as JSON."""
        data = {
            "kind": "audit" if self.audit else "incident",
            "findings": jsonable(self.findings),
            "backcheck": backcheck_dict(self.backcheck) if self.backcheck else None,
            "incident": jsonable(vars(self.incident)) if self.incident else None,
            "audit": jsonable({k: v for k, v in vars(self.audit).items() if k != "ioc"})
            if self.audit
            else None,
        }
        return json.dumps(data, indent=2) + "\n"

    def write_csv(self, folder: Path) -> list[Path]:
        """findings.csv, and the back-check's addresses, objects and IOC hits, into FOLDER."""
        folder.mkdir(parents=True, exist_ok=True)
        tables: dict[str, list[dict[str, Any]]] = {"findings": self.findings}
        if self.backcheck:
            tables |= {
                "addresses": self.backcheck.ips,
                "objects": self.backcheck.objects,
                "ioc_hits": self.backcheck.ioc_hits,
                "api_use": self.backcheck.resources,
            }
        paths = []
        for name, rows in tables.items():
            paths.append(folder / f"{name}.csv")
            write_csv(paths[-1], rows)
        return paths


@dataclass
class Selection:
    """The findings a report covers, in words, and the serious ones it leaves out."""

    findings: list[dict[str, Any]]
    description: str
    left_out: list[dict[str, Any]]


def _by_severity(findings: list[dict[str, Any]]) -> str:
    counts = Counter(f["severity"] for f in findings)
    return ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s]) or "none"


def select_findings(con: duckdb.DuckDBPyConnection, ids: list[str]) -> Selection:
    """The named findings; else the confirmed ones; else every high or critical one not dismissed.
    The description names what was left out, so nothing serious is dropped silently."""
    serious = load_findings(con, min_severity=REPORT_THRESHOLD)
    if ids:
        try:
            full = [resolve_id(con, i) for i in ids]
        except FindingError as exc:
            raise ValueError(str(exc)) from None
        chosen = load_findings(con, ids=full, include_suppressed=True)
        left = [f for f in serious if f["id"] not in full]
        what = f"{len(chosen)} finding(s) named with --finding, of {len(serious)} high or critical"
        return Selection(chosen, _described(what, left), left)
    confirmed = load_findings(con, status="confirmed")
    if confirmed:
        left = [f for f in serious if f["status"] != "confirmed"]
        what = (
            f"{len(confirmed)} confirmed of {len(serious)} high or critical ({_by_severity(serious)}); "
            "the report covers the confirmed ones"
        )
        return Selection(confirmed, _described(what, left), left)
    chosen = [f for f in serious if f["status"] not in ("benign", "false_positive")]
    left = [f for f in serious if f["status"] in ("benign", "false_positive")]
    what = f"every high or critical finding not dismissed: {len(chosen)} of {len(serious)} ({_by_severity(serious)})"
    return Selection(chosen, _described(what, left), left)


def _described(what: str, left: list[dict[str, Any]]) -> str:
    if not left:
        return what + "; none left out."
    statuses = Counter(f["status"] for f in left)
    return (
        f"{what}; the others ({len(left)}: "
        + ", ".join(f"{n} {status}" for status, n in statuses.most_common())
        + ") are listed below."
    )


def scope_of(findings: list[dict[str, Any]]) -> Scope:
    """A back-check scope covering the findings: their apps, from the day before to the day after."""
    start = min(f["window_start"] for f in findings).replace(hour=0, minute=0, second=0, microsecond=0)
    end = max(f["window_end"] for f in findings).replace(hour=0, minute=0, second=0, microsecond=0)
    apps = sorted({f["entity_id"][:15] for f in findings if f["entity_type"] == "connected_app"})
    users = sorted({f["entity_id"][:15] for f in findings if f["entity_type"] == "user"}) if not apps else []
    return Scope(start - timedelta(days=1), end + timedelta(days=2), apps, users)


def incident_of(
    con: duckdb.DuckDBPyConnection, b: Backcheck, findings: list[dict[str, Any]], selection: Selection | None
) -> Incident:
    """The incident's part of the back-check: its addresses (new to the scope in the window, or named
    by a finding and used by the scope), what they did, and the routine traffic beside it."""
    used = {r["ip"] for r in b.ips}
    named = {ip for f in findings for ip in (f.get("evidence") or {}).get("ips", [])}
    addresses = [r["ip"] for r in b.ips if r["new"] or r["ip"] in named]
    install_scope(con, b.scope)
    objects = query_frame(
        con,
        "backcheck_incident_objects",
        {"start": b.scope.start, "end": b.scope.end, "ips": addresses or ["(none)"]},
    ).to_dicts()
    mine = set(addresses)
    from_incident = [j for j in b.bulk_jobs if set(j["ips"] or []) & mine]
    seen = [r for r in b.ips if r["ip"] in mine]
    window_hours = sorted({r["hour"].hour for r in b.calls_by_hour})
    labels = {(a["connected_app_id"] or "")[:15]: a["connected_app_name"] for a in b.actors}
    users = {(a["user_id"] or "")[:15]: a["user_name"] for a in b.actors}
    subjects = [("connected app", labels.get(a) or a, a) for a in b.scope.apps]
    subjects += [("user", users.get(u) or u, u) for u in b.scope.users]
    subjects += [("address", i, i) for i in b.scope.ips]
    orgs = sorted({f["org_id"] for f in findings if f.get("org_id")} | {c["org_id"] for c in b.coverage})
    return Incident(
        subjects=subjects,
        orgs=orgs,
        addresses=addresses,
        first=min((r["first_seen"] for r in seen), default=None),
        last=max((r["last_seen"] for r in seen), default=None),
        objects=objects,
        exports=[j for j in from_incident if j["job_kind"] == "query"],
        deleted_jobs=[j for j in from_incident if j["deleted_at"]],
        routine_addresses=[r["ip"] for r in b.ips if r["ip"] not in mine and r["ip"] in used],
        new_objects=[r["object"] for r in b.objects if r["first_touched"]],
        routine_objects=[r["object"] for r in b.objects if not r["first_touched"]],
        new_hours=b.new_hours,
        routine_hours=[h for h in window_hours if h not in b.new_hours],
        incident_calls=int(sum(r["events"] for r in seen)),
        routine_calls=int(sum(r["events"] for r in b.ips if r["ip"] not in mine)),
        selection=selection.description if selection else "",
        left_out=selection.left_out if selection else [],
    )


def store_coverage(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per org and event type: first and last day with events, how many, and the days missing between."""
    by_key: dict[tuple[str, str], list[date]] = {}
    for row in query_frame(con, "coverage_by_day").to_dicts():
        by_key.setdefault((row["org_id"], row["event_type"]), []).append(row["day"])
    rows = []
    for (org, event_type), days in sorted(by_key.items()):
        first, last = min(days), max(days)
        present = set(days)
        missing = [first + timedelta(n) for n in range((last - first).days + 1)]
        rows.append(
            {
                "org_id": org,
                "event_type": event_type,
                "first_day": first,
                "last_day": last,
                "days": len(present),
                "missing": [d for d in missing if d not in present],
            }
        )
    return rows


def build_report(
    con: duckdb.DuckDBPyConnection,
    ids: list[str],
    scope: Scope | None,
    indicators: list[Indicator],
    title: str,
    invocation: list[str],
    db_path: Path | None = None,
    ioc_path: Path | None = None,
    inventory: Callable[[], list[dict[str, Any]]] | None = None,
) -> BuiltReport:
    """Select findings, back-check their window and scope, and render the incident summary; with
    nothing at or above the threshold and no window, an audit report. INVOCATION is the command's
    words after `workbench` (quoted when printed); DB_PATH and IOC_PATH go into every reproducing
    command; INVENTORY gives the integrations ranked by privilege (the audit's inventory)."""
    selection = select_findings(con, ids)
    findings = selection.findings
    common = [*(["--db", str(db_path)] if db_path else [])]
    ioc_args = ["--ioc", str(ioc_path)] if ioc_path else []
    if not findings and scope is None:
        return _audit(con, selection, indicators, title, invocation, common, ioc_args, inventory)
    scope = scope or scope_of(findings)
    result = run_backcheck(con, scope, indicators)
    incident = incident_of(con, result, findings, selection)
    named = sorted(
        {ip for f in findings for ip in f["evidence"].get("ips", [])} | {r["ip"] for r in result.ips}
    )
    ip_info = {r["ip"]: r for r in query_frame(con, "ip_info_all").to_dicts() if r["ip"] in named}
    scope_args = [
        *(("--app", a) for a in scope.apps),
        *(("--user", u) for u in scope.users),
        *(("--ip", i) for i in scope.ips),
    ]
    detectors = sorted({f["detector"] for f in findings})
    # Log-derived values (app ids, users, addresses) go into these commands: one quoting rule,
    # workbench.render.shell_command, so none can end the argument and start a command.
    commands = [
        shell_command("workbench", *invocation),
        shell_command(
            "workbench",
            "backcheck",
            "--start",
            f"{scope.start:%Y-%m-%dT%H:%M}",
            "--end",
            f"{scope.end:%Y-%m-%dT%H:%M}",
            *(word for pair in scope_args for word in pair),
            *ioc_args,
            "--format",
            "markdown",
            *common,
        ),
        shell_command(
            "workbench",
            "findings",
            "--format",
            "json",
            *(w for d in detectors for w in ("--detector", d)),
            *common,
        ),
        *(shell_command("workbench", "ip", ip, *common) for ip in (incident.addresses or named)[:10]),
    ]
    if len(incident.addresses or named) > 10:
        commands.append(f"# and {len(incident.addresses or named) - 10} more addresses: workbench ip ADDRESS")
    markdown = incident_report(
        title,
        findings,
        result,
        ip_info,
        commands,
        datetime.now(UTC).replace(tzinfo=None),
        [*BACKCHECK_QUERIES, "backcheck_incident_objects", "backcheck_bulk_jobs"],
        incident,
        common,
    )
    return BuiltReport(markdown, findings, result, incident)


def _audit(
    con: duckdb.DuckDBPyConnection,
    selection: Selection,
    indicators: list[Indicator],
    title: str,
    invocation: list[str],
    common: list[str],
    ioc_args: list[str],
    inventory: Callable[[], list[dict[str, Any]]] | None,
) -> BuiltReport:
    """The report of a store with nothing at or above the threshold."""
    below = load_findings(con)
    counts = Counter(f["severity"] for f in below)
    judged = first_row(con.execute("SELECT value FROM meta WHERE key = ?", [LAST_JUDGED_KEY]))
    ioc_check = None
    if indicators:
        hits = sweep(con, indicators)
        ioc_check = Backcheck(
            Scope(datetime(1970, 1, 1), datetime(9999, 1, 1)),
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            hits,
            [],
            [],
            [],
            ioc_checked=True,
        )
    audit = Audit(
        threshold=REPORT_THRESHOLD,
        below={s: counts[s] for s in reversed(SEVERITIES[: SEVERITIES.index(REPORT_THRESHOLD)])},
        dismissed=selection.left_out,
        apps=inventory() if inventory else None,
        coverage=store_coverage(con),
        detectors=detector_names(),
        last_judged=judged[0] if judged else None,
        ioc=ioc_check,
    )
    commands = [
        shell_command("workbench", *invocation),
        shell_command("workbench", "integrations", "--format", "markdown", *common),
        shell_command("workbench", "status", *common),
        shell_command("workbench", "findings", "--format", "json", *common),
        *([shell_command("workbench", "sweep", *ioc_args, *common)] if ioc_args else []),
    ]
    markdown = audit_report(title, audit, commands, datetime.now(UTC).replace(tzinfo=None))
    return BuiltReport(markdown, below, None, audit=audit)
