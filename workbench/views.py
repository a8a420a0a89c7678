"""What each TUI pane shows, computed without Textual: the panes' headless twins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from workbench.config import Settings
from workbench.inventory import inventory
from workbench.render import inert
from workbench.store.findings import load_findings
from workbench.store.queries import describe_query, named_queries, query_frame
from workbench.store.status import StoreStatus, store_status


@dataclass
class Overview:
    """Orgs, coverage, totals, findings by severity and family, top integrations."""

    status: StoreStatus
    findings_by: list[dict[str, Any]]
    top_by_volume: list[dict[str, Any]]
    top_by_risk: list[dict[str, Any]]


def overview(con: duckdb.DuckDBPyConnection, settings: Settings) -> Overview:
    """The Overview pane's data."""
    apps = inventory(con, settings)
    risk: dict[str, int] = {}
    for f in load_findings(con):
        risk[f["entity_id"]] = max(risk.get(f["entity_id"], 0), f["score"])
    by_risk = sorted(apps, key=lambda a: (-risk.get(a["connected_app_id"], 0), -a["privilege"]))
    for app in by_risk:
        app["risk"] = risk.get(app["connected_app_id"], 0)
    return Overview(
        status=store_status(con),
        findings_by=query_frame(con, "findings_summary").to_dicts(),
        top_by_volume=sorted(apps, key=lambda a: -a["calls"])[:8],
        top_by_risk=by_risk[:8],
    )


def anomalies(con: duckdb.DuckDBPyConnection, text: str = "") -> tuple[list[dict[str, Any]], list[str]]:
    """Stored findings matching a filter ('detector:new_ip severity:high gainsight' style words),
    and the filter's completions (from all findings, read once)."""
    every = load_findings(con)
    return filter_findings(every, text), filter_suggestions(every)


def filter_findings(rows: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The findings matching the filter words (compared as shown: inert, like the suggestions)."""
    for word in inert(text).lower().split():
        key, _, value = word.partition(":")
        if value and key in ("detector", "severity", "status", "category", "entity"):
            field = {"entity": "entity_label"}.get(key, key)
            rows = [r for r in rows if value in inert(r.get(field)).lower()]
        else:
            rows = [
                r
                for r in rows
                if word
                in inert(
                    " ".join(
                        str(r.get(k) or "")
                        for k in (
                            "detector",
                            "severity",
                            "entity_label",
                            "entity_id",
                            "explanation",
                            "status",
                        )
                    )
                ).lower()
            ]
    return rows


def filter_suggestions(rows: list[dict[str, Any]]) -> list[str]:
    """Completions for the anomaly filter: detectors, severities, statuses and entities (inert:
    the filter box shows them)."""
    words = {inert(f"detector:{r['detector']}") for r in rows} | {
        inert(f"entity:{r['entity_label']}") for r in rows
    }
    words |= {f"severity:{s}" for s in ("low", "medium", "high", "critical")}
    words |= {f"status:{s}" for s in ("new", "confirmed", "benign", "false_positive")}
    return sorted(words)


def entities(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Apps and users the timeline can show, busiest first."""
    return query_frame(con, "entity_list").to_dicts()


def timeline(
    con: duckdb.DuckDBPyConnection, entity_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """An entity's hourly calls, errors, addresses and objects, with the findings on it."""
    hours = query_frame(con, "timeline_hourly", {"entity": entity_id, "start": start, "end": end}).to_dicts()
    marks = [
        f
        for f in load_findings(con)
        if (f["entity_id"] or "")[:15] == entity_id[:15] and start <= f["window_start"] < end
    ]
    return {"hours": hours, "findings": marks, "start": start, "end": end}


def hour_series(
    rows: list[dict[str, Any]], start: datetime, end: datetime, key: str = "calls"
) -> list[float]:
    """Hourly values from START to END with zeros where nothing happened (for a sparkline)."""
    values = {r["hour"]: float(r[key] or 0) for r in rows}
    count = int((end - start).total_seconds() // 3600)
    return [values.get(start + timedelta(hours=n), 0.0) for n in range(count)]


def ips(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every address with its enrichment and activity."""
    return query_frame(con, "ip_overview").to_dicts()


def query_catalog() -> list[tuple[str, str]]:
    """The named queries and what each returns."""
    return [(name, describe_query(name)) for name in named_queries()]
