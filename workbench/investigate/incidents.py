"""Incidents: the stored findings on one org and entity that overlap or follow within hours, told as
one line in numbers, with recurring identical findings collapsed ("bulk_job_deleted x14, daily about
05:00").

Which finding belongs to which incident is the store's `finding_incidents` view (queries/migrations/
008_incidents.sql): computed on read, so triage, suppressions and re-scans show at once. This module
scores, names and tells them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from workbench.findings import clamp_score, severity_for, severity_rank
from workbench.store.findings import load_findings
from workbench.store.queries import query_frame

INCIDENT_STATUSES = ("new", "confirmed", "dismissed")
# Each family beyond the first that supports an incident adds this much to its strongest finding's
# score: independent signals agreeing are worth more than one loud one (capped at 100).
FAMILY_BONUS = 5
# A detector firing on this many days or more for one entity is a recurrence, told in one line.
RECURRING_DAYS = 2
# Findings whose windows are this long (day-long volume windows) have no meaningful time of day.
DAY_LONG_HOURS = 20
# Starts spread over more than this many minutes of the day get no "about HH:MM".
TIME_OF_DAY_SPREAD = 180
_DISMISSED = ("benign", "false_positive")
_INCIDENT_COLUMNS: dict[str, Any] = {
    "id": pl.Utf8,
    "incident_id": pl.Utf8,
    "detector": pl.Utf8,
    "category": pl.Utf8,
    "score": pl.Int64,
    "org_id": pl.Utf8,
    "entity_type": pl.Utf8,
    "entity_id": pl.Utf8,
    "entity_label": pl.Utf8,
    "window_start": pl.Datetime("us"),
    "window_end": pl.Datetime("us"),
    "status": pl.Utf8,
}


@dataclass
class Incident:
    """One incident (or, when INCIDENT_IDS holds several, one recurrence of the same few findings)."""

    id: str
    org_id: str | None
    entity_type: str
    entity_id: str
    entity_label: str
    window_start: datetime
    window_end: datetime
    score: int
    severity: str
    status: str
    families: list[str]
    detectors: list[str]
    story: str
    members: list[dict[str, Any]] = field(repr=False, default_factory=list)
    lines: list[str] = field(default_factory=list)
    incident_ids: list[str] = field(default_factory=list)

    @property
    def finding_ids(self) -> list[str]:
        return [m["id"] for m in self.members]

    def record(self) -> dict[str, Any]:
        """The incident as JSON/CSV data (members by id)."""
        return {
            "id": self.id,
            "severity": self.severity,
            "score": self.score,
            "status": self.status,
            "org_id": self.org_id,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "entity_label": self.entity_label,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "findings": len(self.members),
            "families": self.families,
            "detectors": self.detectors,
            "story": self.story,
            "lines": self.lines,
            "finding_ids": self.finding_ids,
            "incident_ids": self.incident_ids,
        }


def load_incidents(
    con: duckdb.DuckDBPyConnection,
    min_severity: str | None = None,
    status: str | None = None,
    include_suppressed: bool = False,
    collapse: bool = True,
) -> list[Incident]:
    """Stored incidents, most severe first; recurrences collapsed unless COLLAPSE is false."""
    found = incidents_of(con, load_findings(con, include_suppressed=include_suppressed), collapse)
    return [
        i
        for i in found
        if (min_severity is None or severity_rank(i.severity) >= severity_rank(min_severity))
        and (status is None or i.status == status)
    ]


def incidents_of(
    con: duckdb.DuckDBPyConnection, findings: list[dict[str, Any]], collapse: bool = True
) -> list[Incident]:
    """The incidents that FINDINGS (rows of `load_findings`, with incident_id) belong to, told from
    these findings only, most severe first."""
    if not findings:
        return []
    frame = pl.DataFrame(
        [{k: f.get(k) for k in _INCIDENT_COLUMNS} for f in findings], schema=_INCIDENT_COLUMNS
    )
    summary = (
        frame.group_by("incident_id")
        .agg(
            pl.col("org_id", "entity_type", "entity_id").first(),
            pl.col("entity_label").sort_by("window_start").last(),
            pl.col("window_start").min(),
            pl.col("window_end").max(),
            pl.col("score").max().alias("top_score"),
            pl.col("category").unique().sort().alias("families"),
            pl.col("detector").unique().sort().alias("detectors"),
            (pl.col("status") == "confirmed").any().alias("confirmed"),
            pl.col("status").is_in(_DISMISSED).all().alias("dismissed"),
        )
        .with_columns(
            score=(pl.col("top_score") + FAMILY_BONUS * (pl.col("families").list.len() - 1)).clip(0, 100),
            status=pl.when("confirmed")
            .then(pl.lit("confirmed"))
            .when("dismissed")
            .then(pl.lit("dismissed"))
            .otherwise(pl.lit("new")),
        )
        .sort(["score", "window_start", "incident_id"], descending=[True, False, False])
    )
    members: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        members.setdefault(finding["incident_id"], []).append(finding)
    flags = address_flags(con, findings)
    incidents = []
    for row in summary.iter_rows(named=True):
        own = sorted(members[row["incident_id"]], key=lambda f: (f["window_start"], f["id"]))
        score = clamp_score(row["score"])
        incidents.append(
            Incident(
                id=row["incident_id"],
                org_id=row["org_id"],
                entity_type=row["entity_type"],
                entity_id=row["entity_id"],
                entity_label=row["entity_label"] or row["entity_id"],
                window_start=row["window_start"],
                window_end=row["window_end"],
                score=score,
                severity=severity_for(score),
                status=row["status"],
                families=list(row["families"]),
                detectors=list(row["detectors"]),
                story=story(own, row["entity_label"] or row["entity_id"], flags),
                members=own,
                lines=member_lines(own),
                incident_ids=[row["incident_id"]],
            )
        )
    return collapse_recurring(incidents) if collapse else incidents


def address_flags(con: duckdb.DuckDBPyConnection, findings: list[dict[str, Any]]) -> dict[str, list[str]]:
    """What enrichment says about the addresses the findings' evidence names: ip -> ["Tor", ...]."""
    ips = sorted({ip for f in findings for ip in (f.get("evidence") or {}).get("ips") or []})
    if not ips:
        return {}
    frame = query_frame(con, "address_flags", {"ips": ips})
    names = {"is_tor": "Tor", "is_vpn": "VPN", "is_proxy": "proxy", "is_hosting": "hosting"}
    return {
        r["ip"]: [name for column, name in names.items() if r[column]] for r in frame.iter_rows(named=True)
    }


def _counts(finding: dict[str, Any]) -> dict[str, Any]:
    return (finding.get("evidence") or {}).get("counts") or {}


def _number(value: Any) -> int:
    return round(float(value or 0))


def story(findings: list[dict[str, Any]], label: str, flags: dict[str, list[str]]) -> str:
    """One line in numbers, from the findings' evidence: how many, which families, when, then what
    the evidence counts say (new addresses, exports, deletions, off-hours calls...)."""
    families = {f["category"] for f in findings}
    start = min(f["window_start"] for f in findings)
    end = max(f["window_end"] for f in findings)
    head = (
        f"{label}: {len(findings)} finding{'s' if len(findings) != 1 else ''} in {len(families)} "
        f"famil{'ies' if len(families) != 1 else 'y'}, {start:%m-%d %H:%M} to {end:%m-%d %H:%M}"
    )
    facts = _facts(findings, flags)
    return "; ".join([head, *facts])


def _facts(findings: list[dict[str, Any]], flags: dict[str, list[str]]) -> list[str]:
    facts: list[str] = []
    evidence = [(f, f.get("evidence") or {}, _counts(f)) for f in findings]
    new_ips = sorted(
        {ip for f, e, _ in evidence if f["category"] == "geo_identity" for ip in e.get("ips") or []}
    )
    if new_ips:
        kinds: dict[str, int] = {}
        for ip in new_ips:
            for kind in flags.get(ip, []):
                kinds[kind] = kinds.get(kind, 0) + 1
        tagged = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        facts.append(
            f"{len(new_ips)} new address{'es' if len(new_ips) != 1 else ''}"
            + (f" ({tagged})" if tagged else "")
        )
    recon = [c for _, _, c in evidence if "recon_calls" in c and c.get("rows")]
    exports = [(e, c) for _, e, c in evidence if "recon_calls" not in c and c.get("rows") and e.get("jobs")]
    if recon:
        facts.append(f"recon then a {max(_number(c['rows']) for c in recon):,}-row export")
    elif exports:
        jobs = {job for e, _ in exports for job in e["jobs"]}
        rows = sum(_number(c["rows"]) for _, c in exports)
        facts.append(f"{rows:,} rows exported in {len(jobs)} job{'s' if len(jobs) != 1 else ''}")
    deleted = {job for _, e, c in evidence if c.get("deleted") for job in e.get("jobs") or []}
    if deleted:
        facts.append(f"{len(deleted)} bulk job{'s' if len(deleted) != 1 else ''} deleted")
    off_hours = sum(_number(c.get("calls_off_hours")) for _, _, c in evidence)
    if off_hours:
        facts.append(f"{off_hours:,} calls off hours")
    new_objects = sorted(
        {o for _, e, _ in evidence if "known_entities" in e for o in e.get("entities") or []}
    )
    if new_objects:
        facts.append(f"first access to {', '.join(new_objects)}")
    failures = sum(_number(c.get("failures")) for _, _, c in evidence)
    if failures:
        facts.append(f"{failures:,} failures")
    ratios = [float(c["ratio"]) for _, _, c in evidence if c.get("ratio")]
    if ratios:
        facts.append(f"up to {max(ratios):.1f}x the usual volume")
    clients = sorted({c for _, e, _ in evidence for c in e.get("clients") or []})
    if clients:
        facts.append(f"client{'s' if len(clients) != 1 else ''} {', '.join(clients)}")
    if not facts:
        facts = member_lines(findings)
    return facts


def recurrence(starts: list[datetime], ends: list[datetime]) -> str:
    """How findings repeat: 'daily about 05:00', 'daily', or 'on 4 days over 9'."""
    days = sorted({s.date() for s in starts})
    span = (days[-1] - days[0]).days + 1
    # Two days are a repeat, not yet a habit: "daily" needs three.
    if len(days) >= 3 and len(days) / span >= 0.7:
        cadence = "daily"
    else:
        cadence = f"on {len(days)} days" + (f" over {span}" if span > len(days) else "")
    day_long = all(
        (e - s).total_seconds() >= DAY_LONG_HOURS * 3600 for s, e in zip(starts, ends, strict=True)
    )
    minutes = sorted(s.hour * 60 + s.minute for s in starts)
    if day_long or minutes[-1] - minutes[0] > TIME_OF_DAY_SPREAD:
        return cadence
    typical = minutes[len(minutes) // 2]
    return f"{cadence} about {typical // 60:02d}:{typical % 60:02d}"


def member_lines(findings: list[dict[str, Any]]) -> list[str]:
    """The findings one line per detector: 'off_hours' once, 'bulk_job_deleted x14, daily about
    05:00' when it recurs on several days, 'mass_export x3' when repeated on one day."""
    by_detector: dict[str, list[dict[str, Any]]] = {}
    for finding in sorted(findings, key=lambda f: (f["window_start"], f["id"])):
        by_detector.setdefault(finding["detector"], []).append(finding)
    lines = []
    for detector, same in sorted(by_detector.items(), key=lambda kv: -max(f["score"] for f in kv[1])):
        line = detector if len(same) == 1 else f"{detector} x{len(same)}"
        if len({f["window_start"].date() for f in same}) >= RECURRING_DAYS:
            line += ", " + recurrence([f["window_start"] for f in same], [f["window_end"] for f in same])
        lines.append(line)
    return lines


def collapse_recurring(incidents: list[Incident]) -> list[Incident]:
    """Incidents made of one detector on one entity, repeating on several days, become one line
    ('volume_spike x14, daily about 05:00'); the others stay as they are."""
    frame = pl.DataFrame(
        {
            "position": list(range(len(incidents))),
            "key": [
                "|".join([i.org_id or "", i.entity_type, i.entity_id, i.detectors[0]])
                if len(i.detectors) == 1
                else None
                for i in incidents
            ],
            "day": [i.window_start.date() for i in incidents],
        }
    )
    recurring = (
        frame.filter(pl.col("key").is_not_null())
        .group_by("key")
        .agg(pl.col("position").sort(), pl.col("day").n_unique().alias("days"))
        .filter(pl.col("days") >= RECURRING_DAYS)
    )
    groups = {positions[0]: positions for positions in recurring["position"].to_list()}
    folded = {p for positions in groups.values() for p in positions[1:]}
    result = []
    for position, incident in enumerate(incidents):
        if position in folded:
            continue
        if position in groups:
            incident = _merged([incidents[p] for p in groups[position]])
        result.append(incident)
    return result


def _merged(repeats: list[Incident]) -> Incident:
    """One line for the same detector's incidents on one entity over several days."""
    members = sorted((m for i in repeats for m in i.members), key=lambda f: (f["window_start"], f["id"]))
    first = min(repeats, key=lambda i: i.window_start)
    top = max(repeats, key=lambda i: i.score)
    statuses = {i.status for i in repeats}
    status = "confirmed" if "confirmed" in statuses else "dismissed" if statuses == {"dismissed"} else "new"
    (line,) = member_lines(members)
    return Incident(
        id=first.id,
        org_id=first.org_id,
        entity_type=first.entity_type,
        entity_id=first.entity_id,
        entity_label=top.entity_label,
        window_start=first.window_start,
        window_end=max(i.window_end for i in repeats),
        score=top.score,
        severity=top.severity,
        status=status,
        families=top.families,
        detectors=top.detectors,
        story=f"{top.entity_label}: {line}",
        members=members,
        lines=[line],
        incident_ids=[i.id for i in sorted(repeats, key=lambda i: i.window_start)],
    )
