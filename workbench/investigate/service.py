"""Assemble an incident report from stored findings and a back-check (CLI and TUI alike)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from workbench.investigate.backcheck import Backcheck, run_backcheck
from workbench.investigate.ioc import Indicator
from workbench.investigate.report import backcheck_dict, incident_report, jsonable, write_csv
from workbench.investigate.scope import Scope
from workbench.render import shell_command
from workbench.store.findings import FindingError, load_findings, resolve_id
from workbench.store.queries import query_frame

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

    def json(self) -> str:
        """The report's data as JSON."""
        data = {
            "findings": jsonable(self.findings),
            "backcheck": backcheck_dict(self.backcheck) if self.backcheck else None,
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


def select_findings(con: duckdb.DuckDBPyConnection, ids: list[str]) -> list[dict[str, Any]]:
    """The named findings; else the confirmed ones; else every high or critical one not dismissed."""
    if ids:
        try:
            full = [resolve_id(con, i) for i in ids]
        except FindingError as exc:
            raise ValueError(str(exc)) from None
        return load_findings(con, ids=full, include_suppressed=True)
    confirmed = load_findings(con, status="confirmed")
    if confirmed:
        return confirmed
    serious = load_findings(con, min_severity="high")
    return [f for f in serious if f["status"] not in ("benign", "false_positive")]


def scope_of(findings: list[dict[str, Any]]) -> Scope:
    """A back-check scope covering the findings: their apps, from the day before to the day after."""
    start = min(f["window_start"] for f in findings).replace(hour=0, minute=0, second=0, microsecond=0)
    end = max(f["window_end"] for f in findings).replace(hour=0, minute=0, second=0, microsecond=0)
    apps = sorted({f["entity_id"] for f in findings if f["entity_type"] == "connected_app"})
    users = sorted({f["entity_id"] for f in findings if f["entity_type"] == "user"}) if not apps else []
    return Scope(start - timedelta(days=1), end + timedelta(days=2), apps, users)


def build_report(
    con: duckdb.DuckDBPyConnection,
    ids: list[str],
    scope: Scope | None,
    indicators: list[Indicator],
    title: str,
    invocation: list[str],
) -> BuiltReport:
    """Select findings, back-check their window and scope, and render the incident summary.
    INVOCATION is the command's words after `workbench` (quoted when printed)."""
    findings = select_findings(con, ids)
    if not findings and scope is None:
        raise ValueError(
            "no finding to report: pass --finding ID, confirm findings with `workbench triage`, "
            "or give a back-check window with --start/--end"
        )
    scope = scope or scope_of(findings)
    result = run_backcheck(con, scope, indicators)
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
            "--format",
            "markdown",
        ),
        shell_command(
            "workbench", "findings", "--format", "json", *(w for d in detectors for w in ("--detector", d))
        ),
        *(shell_command("workbench", "ip", ip) for ip in named[:5]),
    ]
    markdown = incident_report(
        title, findings, result, ip_info, commands, datetime.now(UTC).replace(tzinfo=None), BACKCHECK_QUERIES
    )
    return BuiltReport(markdown, findings, result)
