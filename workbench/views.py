"""What each TUI pane shows, computed without Textual: the panes' headless twins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from workbench.config import Settings
from workbench.inventory import inventory
from workbench.investigate.incidents import Incident, incidents_of
from workbench.render import inert
from workbench.store.findings import load_findings
from workbench.store.queries import describe_query, load_query, named_queries, query_frame
from workbench.store.status import StoreStatus, store_status
from workbench.times import TimeError, parse_moment


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


def anomaly_incidents(
    con: duckdb.DuckDBPyConnection,
) -> tuple[list[dict[str, Any]], list[Incident], list[str]]:
    """Every stored finding (suppressed ones left out), the incidents they make (most severe first),
    and the filter's completions: the Anomalies pane's data."""
    every = load_findings(con)
    return every, incidents_of(con, every), filter_suggestions(every)


def incident_rows(
    incidents: list[Incident], expanded: set[str]
) -> list[tuple[Incident, dict[str, Any] | None]]:
    """The Anomalies pane's rows: each incident, then its members when its id is in EXPANDED
    (a row is (incident, None) for the incident itself, (incident, finding) for a member)."""
    rows: list[tuple[Incident, dict[str, Any] | None]] = []
    for incident in incidents:
        rows.append((incident, None))
        if incident.id in expanded:
            rows.extend((incident, member) for member in incident.members)
    return rows


def filter_moment(text: str) -> datetime | None:
    """The time a `date:` or `since:` word of an anomaly filter names (the last one), if any."""
    moment = None
    for word in text.split():
        key, _, value = word.lower().partition(":")
        if key in ("date", "since") and value:
            try:
                moment = parse_moment(value, key)
            except TimeError:
                continue
    return moment


def filter_findings(rows: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The findings matching the filter words (compared as shown: inert, like the suggestions):
    `date:2025-11-15` keeps that day's findings, `since:2025-11-15[T14:00]` those from then on."""
    for word in inert(text).lower().split():
        key, _, value = word.partition(":")
        if value and key in ("date", "since"):
            try:
                moment = parse_moment(value, key)
            except TimeError:
                continue  # half-typed: filter on the rest
            if key == "since":
                rows = [r for r in rows if r["window_start"] >= moment]
            else:
                rows = [r for r in rows if r["window_start"].date() == moment.date()]
        elif value and key in ("detector", "severity", "status", "category", "entity"):
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
    words |= {f"date:{r['window_start']:%Y-%m-%d}" for r in rows}
    return sorted(words)


EVIDENCE_LABELS = {
    "ips": "addresses",
    "entities": "objects",
    "known_entities": "objects seen before",
    "known_ips": "addresses seen before",
    "users": "users",
    "clients": "clients",
    "request_ids": "sample request ids",
    "jobs": "bulk jobs",
    "corroborated_by": "corroborated by",
    "country_code": "countries",
    "asn": "networks (ASN)",
    "hours": "hours (UTC)",
}
EVIDENCE_CAP = 6
"""Items shown per evidence list; the rest are counted ("+N more")."""


def evidence_fields(evidence: dict[str, Any], cap: int = EVIDENCE_CAP) -> list[tuple[str, list[str], int]]:
    """A finding's evidence as labelled fields: (label, the first CAP values, how many more).
    Addresses carry their enrichment, counts read `name: value`; every string is inert."""
    info = evidence.get("ip_info") or {}
    order = [k for k in EVIDENCE_LABELS if k in evidence]
    order += sorted(k for k in evidence if k not in EVIDENCE_LABELS and k != "ip_info")
    fields: list[tuple[str, list[str], int]] = []
    for key in order:
        value = evidence[key]
        if key == "counts" and isinstance(value, dict):
            items = [f"{inert(k).replace('_', ' ')}: {_number(v)}" for k, v in value.items()]
        elif isinstance(value, list):
            items = [inert(v) for v in value]
            if key == "ips":
                items = [
                    f"{item} ({inert(info[raw])})" if info.get(raw) else item
                    for raw, item in zip(value, items, strict=True)
                ]
        elif isinstance(value, dict):
            items = [f"{inert(k)}: {inert(v)}" for k, v in value.items()]
        else:
            items = [_number(value) if isinstance(value, int | float) else inert(value)]
        label = EVIDENCE_LABELS.get(key, inert(key).replace("_", " "))
        fields.append((label, items[:cap], max(0, len(items) - cap)))
    return fields


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else inert(value)


@dataclass(frozen=True)
class EventScope:
    """Which raw events to list: an entity (app or user id), an address, a window; None is any."""

    entity_id: str | None = None
    ip: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def describe(self) -> str:
        """The scope in words, for a title."""
        parts = [
            f"entity {self.entity_id}" if self.entity_id else "",
            f"address {self.ip}" if self.ip else "",
        ]
        if self.start and self.end:
            parts.append(f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC")
        return inert(", ".join(p for p in parts if p) or "every event")


RAW_EVENT_COLUMNS = (
    "time",
    "user",
    "address",
    "object",
    "resource",
    "status",
    "client",
    "request id",
    "event type",
)


EventKey = tuple[datetime, str, str, str, str]
"""Where a raw event sits in the listing's order, and which one it is: (ts, request id, event type,
org, content key), NULLs as ''. The store keeps one row per (org, event type, ts, request id,
content key) (a content key only where there is no request id), so the key is unique."""

_KEY_PARAMS = ("key_ts", "key_request", "key_type", "key_org", "key_content")
# One query, two directions: the next page (after a key) and the previous one (before it).
_RAW_EVENTS_BY_KEY = load_query("raw_events_by_key")
_RAW_EVENTS_NEXT = _RAW_EVENTS_BY_KEY.format(bound=">", direction="ASC")
_RAW_EVENTS_PREVIOUS = _RAW_EVENTS_BY_KEY.format(bound="<", direction="DESC")


@dataclass(frozen=True)
class EventsPage:
    """One page of raw events, in time order, and whether the scope has rows on either side."""

    rows: list[tuple[Any, ...]]
    """The RAW_EVENT_COLUMNS of each event."""
    keys: list[EventKey]
    """Each row's key: page on after the last, back before the first."""
    before: bool
    """Rows exist before the first."""
    after: bool
    """Rows exist after the last."""

    @property
    def first(self) -> EventKey | None:
        return self.keys[0] if self.keys else None

    @property
    def last(self) -> EventKey | None:
        return self.keys[-1] if self.keys else None


def raw_events(
    con: duckdb.DuckDBPyConnection,
    scope: EventScope,
    limit: int,
    after: EventKey | None = None,
    before: EventKey | None = None,
) -> EventsPage:
    """One page of the raw events in SCOPE, by time (never the whole scope): the first LIMIT rows,
    the LIMIT rows right AFTER a row's key (the next page), or those right BEFORE one (the
    previous page); keyset paging, so every page costs the same however deep it is."""
    if after is not None and before is not None:
        raise ValueError("page after a row or before one, not both")
    key = after or before
    params: dict[str, Any] = {
        "entity": scope.entity_id,
        "ip": scope.ip,
        "start": scope.start,
        "end": scope.end,
        "limit": limit + 1,
        **dict(zip(_KEY_PARAMS, key or (None,) * len(_KEY_PARAMS), strict=True)),
    }
    found = con.execute(_RAW_EVENTS_PREVIOUS if before else _RAW_EVENTS_NEXT, params).fetchall()
    more = len(found) > limit
    found = found[:limit]
    if before:
        found.reverse()
    width = len(RAW_EVENT_COLUMNS)
    rows = [row[:width] for row in found]
    keys: list[EventKey] = [tuple(row[width:]) for row in found]  # type: ignore[misc]
    if before:
        return EventsPage(rows, keys, before=more, after=True)
    return EventsPage(rows, keys, before=after is not None, after=more)


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
