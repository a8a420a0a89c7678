"""Exposure-window back-check: what a scope did in a window, and what was new about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from workbench.investigate.ioc import Indicator, sweep
from workbench.investigate.scope import Scope, install_scope
from workbench.store.queries import query_frame


@dataclass
class Backcheck:
    """Every section of a back-check, as rows (lists of dicts) and short lists of sentences."""

    scope: Scope
    calls_by_hour: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    resources: list[dict[str, Any]]
    bulk_jobs: list[dict[str, Any]]
    ips: list[dict[str, Any]]
    actors: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    ioc_hits: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    baseline: list[dict[str, Any]]
    coverage: list[dict[str, Any]]
    ioc_checked: bool = False  # an IOC file was given (no hit then means none, not "not looked")
    at_risk: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def total_calls(self) -> int:
        """API calls in scope and window."""
        return int(sum(r["calls"] for r in self.calls_by_hour))

    @property
    def new_hours(self) -> list[int]:
        """Hours of the day (UTC) active in the window but not in the same window of the previous
        weeks (empty when there is no earlier activity to compare with)."""
        if not any(week["calls"] for week in self.baseline):
            return []
        before = {h for week in self.baseline for h in (week["hours"] or [])}
        return sorted({r["hour"].hour for r in self.calls_by_hour} - before)


def _coverage(con: duckdb.DuckDBPyConnection, scope: Scope, orgs: set[str]) -> list[dict[str, Any]]:
    """Per org (of the scope) and event type: the window's days with events, and the gaps."""
    rows = [r for r in query_frame(con, "coverage_by_day").to_dicts() if not orgs or r["org_id"] in orgs]
    window_days = [scope.start.date() + timedelta(n) for n in range((scope.end - scope.start).days + 1)]
    window_days = [d for d in window_days if datetime(d.year, d.month, d.day) < scope.end]
    result: dict[tuple[str, str], set[date]] = {}
    for row in rows:
        result.setdefault((row["org_id"], row["event_type"]), set())
        if row["day"] in window_days:
            result[(row["org_id"], row["event_type"])].add(row["day"])
    coverage = []
    for (org, event_type), days in sorted(result.items()):
        gaps = [d for d in window_days if d not in days]
        coverage.append(
            {
                "org_id": org,
                "event_type": event_type,
                "days_with_events": len(days),
                "window_days": len(window_days),
                "days_without_events": gaps,
            }
        )
    return coverage


def _findings_in(
    con: duckdb.DuckDBPyConnection, scope: Scope, entity_ids: set[str], ips: set[str]
) -> list[dict]:
    rows = query_frame(con, "findings_in_window", {"start": scope.start, "end": scope.end}).to_dicts()
    if not (scope.apps or scope.users or scope.ips):
        return rows
    wanted = []
    for row in rows:
        named_ips = set(row.get("ips") or [])
        if (row["entity_id"] or "")[:15] in entity_ids or named_ips & ips:
            wanted.append(row)
    return wanted


def run_backcheck(
    con: duckdb.DuckDBPyConnection, scope: Scope, indicators: list[Indicator] | None = None
) -> Backcheck:
    """Run every back-check section for SCOPE (read-only)."""
    install_scope(con, scope)
    window = {"start": scope.start, "end": scope.end}
    ips = query_frame(con, "backcheck_ips", window).to_dicts()
    actors = query_frame(con, "backcheck_actors", window).to_dicts()
    weeks = [scope.start - timedelta(days=7 * k) for k in range(1, 5)]
    baseline = query_frame(con, "backcheck_baseline", {**window, "week_starts": weeks}).to_dicts()
    orgs = (
        set(query_frame(con, "backcheck_orgs", window)["org_id"].to_list())
        if scope.apps or scope.users or scope.ips
        else set()
    )
    entity_ids = {(a["connected_app_id"] or "")[:15] for a in actors} | {
        (a["user_id"] or "")[:15] for a in actors
    }
    hits = sweep(con, indicators, scope.start, scope.end) if indicators else []
    scoped_ips = {r["ip"] for r in ips}
    if scope.apps or scope.users or scope.ips:
        hits = [
            h for h in hits if set(h.get("ips") or []) & scoped_ips or set(h.get("apps") or []) & entity_ids
        ]
    result = Backcheck(
        scope=scope,
        calls_by_hour=query_frame(con, "backcheck_calls_by_hour", window).to_dicts(),
        objects=query_frame(con, "backcheck_objects", window).to_dicts(),
        resources=query_frame(con, "backcheck_resources", window).to_dicts(),
        bulk_jobs=query_frame(con, "backcheck_bulk_jobs", window).to_dicts(),
        ips=ips,
        actors=actors,
        errors=query_frame(con, "backcheck_errors", window).to_dicts(),
        ioc_hits=hits,
        findings=_findings_in(con, scope, entity_ids - {""}, scoped_ips),
        baseline=baseline,
        coverage=_coverage(con, scope, orgs),
        ioc_checked=bool(indicators),
    )
    clients = query_frame(con, "backcheck_clients", window).to_dicts()
    _summarise(result, clients)
    return result


def _summarise(result: Backcheck, clients: list[dict[str, Any]]) -> None:
    """The three closing lists: what was at risk, what was checked, what changed."""
    for obj in result.objects:
        if obj["calls"] or obj["rows_processed"]:
            reads = obj["calls"] - obj["writes"]
            result.at_risk.append(
                f"{obj['object']}: {obj['rows_processed']:,} rows processed, {reads:,} read and {obj['writes']:,} "
                f"write calls" + (" (first time in the window)" if obj["first_touched"] else "")
            )
    for cov in result.coverage:
        gaps = cov["days_without_events"]
        gap_text = f"; no events on {', '.join(d.isoformat() for d in gaps[:6])}" if gaps else "; no gaps"
        if len(gaps) > 6:
            gap_text += f" (+{len(gaps) - 6} more)"
        result.checked.append(
            f"{cov['event_type']} ({cov['org_id']}): {cov['days_with_events']} of {cov['window_days']} days{gap_text}"
        )
    if not result.coverage:
        result.checked.append("no event logs cover this window")
    new_ips = [r for r in result.ips if r["new"]]
    for r in new_ips:
        where = ", ".join(str(v) for v in (r.get("city"), r.get("country")) if v)
        flags = [k for k in ("tor", "vpn", "proxy", "hosting") if r.get(k)]
        detail = "; ".join(
            p for p in (where, f"AS{r['asn']} {r['as_org']}" if r.get("asn") else "", ", ".join(flags)) if p
        )
        result.changed.append(
            f"new address {r['ip']}" + (f" ({detail})" if detail else "") + f": {r['events']:,} events"
        )
    for job in result.bulk_jobs:
        if job["deleted_at"]:
            minutes = (job["deleted_at"] - job["first_seen"]).total_seconds() / 60
            result.changed.append(
                f"bulk {job['job_kind']} job {job['job_id']} on {job['object'] or 'an unknown object'} deleted "
                f"{minutes:.1f} minutes after it first appeared ({job['first_seen']:%Y-%m-%d %H:%M} UTC)"
            )
    for obj in result.objects:
        if obj["first_touched"]:
            result.changed.append(
                f"new object {obj['object']}: {obj['calls']:,} calls, {obj['rows_processed']:,} rows"
            )
    unusual = result.new_hours
    if unusual:
        result.changed.append(
            "active at hours not used in the same window of the previous 4 weeks: "
            + ", ".join(f"{h:02d}:00" for h in unusual)
            + " UTC"
        )
    seen_before = {c["client"] for c in clients if not c["in_window"]}
    for c in clients:
        if c["in_window"] and c["client"] not in seen_before:
            result.changed.append(f"new client {c['client']!r}: {c['events']:,} events")
    baseline_calls = [week["calls"] or 0 for week in result.baseline]
    if baseline_calls:
        ordered = sorted(baseline_calls)
        median = ordered[len(ordered) // 2]
        result.changed.append(
            f"{result.total_calls:,} API calls in the window against a median of {median:,} in the same window "
            f"of the previous {len(baseline_calls)} weeks"
        )
    if not result.changed:
        result.changed.append("nothing new compared with the scope's history")
