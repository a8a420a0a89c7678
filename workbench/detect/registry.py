"""The detector suite: one list, in run order, and the scan that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from workbench.config import Settings
from workbench.detect import behavioral, errors, geo_identity, ioc, outlier, sequence, temporal, volume
from workbench.detect.base import DetectorContext, Finding, findings_frame
from workbench.store.queries import first_row, query_frame


@dataclass(frozen=True)
class Detector:
    """A named detector of one family."""

    name: str
    category: str
    run: Callable[[DetectorContext], list[Finding]]
    description: str


DETECTORS: list[Detector] = [
    Detector(
        "volume_spike", "volume", volume.volume_spike, "daily calls far above the weekday-aware baseline"
    ),
    Detector("hourly_burst", "volume", volume.hourly_burst, "an hour far above the usual busiest hours"),
    Detector("dormant_wakeup", "volume", volume.dormant_wakeup, "silent for 14+ days, then active"),
    Detector("mass_export", "volume", volume.mass_export, "bulk query jobs of 10k/50k/100k+ rows"),
    Detector("off_hours", "temporal", temporal.off_hours, "hours or weekdays the entity does not use"),
    Detector("schedule_shift", "temporal", temporal.schedule_shift, "a scheduled job's window moved"),
    Detector("new_ip", "geo_identity", geo_identity.new_ip, "an app calling from a new address"),
    Detector(
        "new_connected_app", "geo_identity", geo_identity.new_connected_app, "a connected app never seen"
    ),
    Detector(
        "new_user_for_app", "geo_identity", geo_identity.new_user_for_app, "a new user acting through an app"
    ),
    Detector("new_country", "geo_identity", geo_identity.new_country, "an app calling from a new country"),
    Detector("new_asn", "geo_identity", geo_identity.new_asn, "an app calling from a new network (ASN)"),
    Detector(
        "anonymizer_ip", "geo_identity", geo_identity.anonymizer_ip, "Tor, VPN, proxy or new hosting networks"
    ),
    Detector(
        "non_allowlisted_ip", "geo_identity", geo_identity.non_allowlisted_ip, "outside declared egress"
    ),
    Detector("impossible_geography", "geo_identity", geo_identity.impossible_geography, "impossible travel"),
    Detector("error_rate_jump", "error", errors.error_rate_jump, "error share +10 points over baseline"),
    Detector("auth_failure_burst", "error", errors.auth_failure_burst, "bursts of failed logins or 401/403"),
    Detector("probe_then_success", "error", errors.probe_then_success, "failures, then a successful login"),
    Detector("new_object_access", "behavioral", behavioral.new_object_access, "objects never touched before"),
    Detector("fan_out", "behavioral", behavioral.fan_out, "far more distinct objects per hour than usual"),
    Detector("recon_then_export", "sequence", sequence.recon_then_export, "reconnaissance, then export"),
    Detector(
        "bulk_job_deleted", "sequence", sequence.bulk_job_deleted, "bulk job deleted soon after creation"
    ),
    Detector("suspicious_client", "ioc", ioc.suspicious_client, "client strings of known attacker tooling"),
    # Last: it reports only entity-days no other detector flagged.
    Detector("compound_outlier", "outlier", outlier.compound_outlier, "unusual on several features at once"),
]


def detector_names() -> list[str]:
    """All detector names, in run order."""
    return [d.name for d in DETECTORS]


def data_span(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """First and last event in the store (from the aggregates)."""
    row = first_row(con.execute("SELECT min(first_ts), max(last_ts) FROM hourly_activity"))
    return (row[0], row[1]) if row else (None, None)


def default_window(con: duckdb.DuckDBPyConnection, days: int = 7) -> tuple[datetime, datetime]:
    """The last DAYS days of data (to the end of the last day): what a daily run looks at."""
    _, last = data_span(con)
    end = (last or datetime(1970, 1, 1)).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1
    )
    return end - timedelta(days=days), end


def build_context(
    con: duckdb.DuckDBPyConnection, settings: Settings, window_start: datetime, window_end: datetime
) -> DetectorContext:
    """Load the aggregates once; raw rows come later, per detector, through named queries."""

    def raw(name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        return query_frame(con, name, params)

    return DetectorContext(
        activity=query_frame(con, "api_activity_hourly"),
        auth=query_frame(con, "auth_failures_hourly"),
        settings=settings,
        window_start=window_start,
        window_end=window_end,
        raw=raw,
        ip_info=query_frame(con, "ip_info_all"),
    )


def corroborate(findings: list[Finding]) -> list[Finding]:
    """Findings from several families on the same entity and day raise each other's score."""
    by_entity_day: dict[tuple[str | None, str, Any], set[str]] = {}
    for f in findings:
        by_entity_day.setdefault((f.org_id, f.entity_id, f.window_start.date()), set()).add(f.category)
    for f in findings:
        others = sorted(by_entity_day[(f.org_id, f.entity_id, f.window_start.date())] - {f.category})
        if others:
            f.score += min(30, 8 * len(others))
            f.evidence["corroborated_by"] = others
    return findings


def add_ip_context(findings: list[Finding], ip_info: pl.DataFrame) -> list[Finding]:
    """Findings that name addresses carry their enrichment; an anonymizer raises the score."""
    if ip_info.is_empty():
        return findings
    known = {row["ip"]: row for row in ip_info.iter_rows(named=True)}
    for f in findings:
        infos = [known[ip] for ip in f.evidence.get("ips", [])[:3] if ip in known]
        if not infos:
            continue
        f.evidence["ip_info"] = {i["ip"]: geo_identity.describe_ip(i) for i in infos}
        if f.category == "geo_identity":
            continue  # these explain their addresses already
        described = "; ".join(f"{i['ip']} ({geo_identity.describe_ip(i)})" for i in infos)
        f.explanation += f" Context: {described}."
        if any(i["is_tor"] or i["is_vpn"] or i["is_proxy"] for i in infos):
            f.score += 10
    return findings


def run_detectors(ctx: DetectorContext, names: list[str] | None = None) -> pl.DataFrame:
    """Run the suite (or the named detectors) and return the findings frame."""
    selected = [d for d in DETECTORS if names is None or d.name in names]
    found: list[Finding] = []
    for detector in selected:
        ctx.prior = list(found)
        found.extend(detector.run(ctx))
    found = corroborate(add_ip_context(found, ctx.ip_info))
    return findings_frame(found).sort(["score", "window_start"], descending=[True, False])
