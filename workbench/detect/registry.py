"""The detector suite: one list, in run order, and the stages that run it.

The scan runs named stages: load (the aggregates) -> profile (baselines, built lazily once and
shared) -> detect (each detector on its own; one failing is reported and the others still run)
-> context (addresses' enrichment) -> corroborate (independent families on one entity).
"""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from workbench.config import ConfigError, Settings
from workbench.detect import (
    behavioral,
    errors,
    geo_identity,
    ioc,
    org_context,
    outlier,
    sequence,
    temporal,
    volume,
)
from workbench.detect.base import Detector, DetectorContext, Finding, findings_frame
from workbench.detect.load import Loading, start_loading
from workbench.findings import MEDIUM
from workbench.store.queries import query_frame

DETECTORS: list[Detector] = [
    *volume.DETECTORS,
    *temporal.DETECTORS,
    *geo_identity.DETECTORS,
    *errors.DETECTORS,
    *behavioral.DETECTORS,
    *sequence.DETECTORS,
    *ioc.DETECTORS,
    *org_context.DETECTORS,
    # Last: it reports only entity-days no other detector flagged.
    *outlier.DETECTORS,
]

# How far apart two findings on one entity may start and still support each other.
CORROBORATION_WINDOW = timedelta(hours=24)
CORROBORATION_STEP, CORROBORATION_MAX = 10, 25


def detector_names() -> list[str]:
    """All detector names, in run order."""
    return [d.name for d in DETECTORS]


def check_settings(settings: Settings) -> dict[str, Any]:
    """Every detector's parameters with the settings file's overrides; a bad name or value is a
    ConfigError that says where."""
    by_name = {d.name: d for d in DETECTORS}
    unknown = sorted(set(settings.detectors) - set(by_name))
    if unknown:
        raise ConfigError(f"[detect.{unknown[0]}] is not a detector; detectors: {', '.join(by_name)}")
    return {d.name: d.parameters(settings.detector(d.name)) for d in DETECTORS}


def _raw_queries(settings: Settings) -> dict[str, dict[str, Any] | None]:
    """The named raw queries the suite will ask for, with the parameters it will pass."""
    params = check_settings(settings)
    return {
        "bulk_query_jobs": None,
        "bulk_job_lifecycle": None,
        "auth_failures_then_success": None,
        "recon_and_export_calls": {"min_export_rows": params["recon_then_export"].min_export_rows},
        "suspicious_clients": {"clients": [k.lower() for k in settings.suspicious_clients]},
    }


def build_context(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    window_start: datetime,
    window_end: datetime,
    loading: Loading | None = None,
) -> DetectorContext:
    """Load the aggregates and the raw rows detectors will ask for. The small DuckDB queries run
    on their own cursors in a second thread while the first frames are turned into profiles:
    DuckDB and Polars both release the GIL, so the waits overlap. LOADING: the aggregates'
    queries, when the caller started them earlier (see detect.load)."""
    loading = loading or start_loading(con)
    for name, params in _raw_queries(settings).items():
        loading.submit(name, params)
    loading.seal()

    def ahead(name: str) -> pl.DataFrame:
        future = loading.take(name)
        return future.result() if future else query_frame(con, name)

    def raw(name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        ready = loading.take(name, params)
        if ready is not None:
            return ready.result()
        cursor = con.cursor()  # detectors run on two threads: a cursor each
        try:
            return query_frame(cursor, name, params)
        finally:
            cursor.close()

    login_rows = ahead("login_history_hourly")
    return DetectorContext(
        activity=ahead("api_activity_hourly"),
        auth=_with_login_failures(ahead("auth_failures_hourly"), login_rows),
        settings=settings,
        window_start=window_start,
        window_end=window_end,
        raw=raw,
        ip_info=ahead("ip_info_all"),
        on_finish=loading.finish,
        logins=login_rows,
    )


def _with_login_failures(auth: pl.DataFrame, logins: pl.DataFrame) -> pl.DataFrame:
    """The authentication frame plus LoginHistory's logins and failed logins (orgs without
    Login event logs only, see login_history_logins), in its grain: org x hour x user x address."""
    if logins.is_empty():
        return auth
    keys = ["org_id", "hour", "user_id", "ip"]
    from_logins = logins.group_by(keys).agg(
        user_name=pl.col("user_name").drop_nulls().first(),
        failures=pl.col("auth_failures").sum(),
        calls=pl.col("calls").sum(),
    )
    return pl.concat([auth, from_logins.select(auth.columns)], how="vertical_relaxed")


def corroborate(findings: list[Finding]) -> list[Finding]:
    """Findings of other families (at medium or above) on the same entity within a day raise
    each other's score; one detector repeating itself is not corroboration, and critical needs
    such independent support (a detector alone stops at high)."""
    by_entity: dict[tuple[str | None, str], list[Finding]] = defaultdict(list)
    for f in findings:
        by_entity[(f.org_id, f.entity_id)].append(f)
    for group in by_entity.values():
        for f in group:
            others = sorted(
                {
                    g.category
                    for g in group
                    if g.category != f.category
                    and g.score >= MEDIUM
                    and abs(g.window_start - f.window_start) <= CORROBORATION_WINDOW
                }
            )
            if others:
                f.score += min(CORROBORATION_MAX, CORROBORATION_STEP * len(others))
                f.evidence["corroborated_by"] = others
    return findings


def add_ip_context(findings: list[Finding], ip_info: pl.DataFrame) -> list[Finding]:
    """Findings that name addresses carry their enrichment; an anonymizer raises the score."""
    if ip_info.is_empty():
        return findings
    named = {ip for f in findings for ip in f.evidence.get("ips", [])[:3]}
    known = {row["ip"]: row for row in ip_info.filter(pl.col("ip").is_in(list(named))).iter_rows(named=True)}
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


@dataclass
class DetectorFailure:
    """A detector that raised: its name and the reason, in one line."""

    detector: str
    reason: str


@dataclass
class DetectionRun:
    """What running the suite gave: the findings, the detectors that failed, stage timings."""

    findings: pl.DataFrame
    failures: list[DetectorFailure] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def detect(ctx: DetectorContext, names: list[str] | None = None) -> DetectionRun:
    """Run the suite (or the named detectors): one detector's failure is recorded and the
    others still run."""
    params = check_settings(ctx.settings)
    chosen = [d for d in DETECTORS if names is None or d.name in names]
    outcomes: dict[str, list[Finding] | DetectorFailure] = {}
    seconds: dict[str, float] = {}

    def run(detector: Detector) -> None:
        started = time.perf_counter()
        try:
            outcomes[detector.name] = detector.run(ctx, params[detector.name])
        except Exception as exc:  # a bug or odd data in one detector must not hide the others
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            outcomes[detector.name] = DetectorFailure(detector.name, reason)
        seconds[detector.name] = time.perf_counter() - started

    def found() -> list[Finding]:
        """The findings so far, in the registry's order whatever order the detectors finished in."""
        return [f for d in chosen if isinstance(o := outcomes.get(d.name), list) for f in o]

    try:
        # Two at a time: Polars and DuckDB release the GIL, so on two cores one detector's
        # frames are built while another's are compared. Shared profiles are computed once
        # (cached_property holds a lock while it computes).
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="detect") as pool:
            list(pool.map(run, [d for d in chosen if not d.reads_prior]))
        ctx.prior = found()
        for detector in (d for d in chosen if d.reads_prior):
            run(detector)
    finally:
        ctx.finish()
    failures = [o for d in chosen if isinstance(o := outcomes[d.name], DetectorFailure)]
    findings = corroborate(add_ip_context(found(), ctx.ip_info))
    frame = findings_frame(findings).sort(["score", "window_start"], descending=[True, False])
    return DetectionRun(frame, failures, seconds)


def run_detectors(ctx: DetectorContext, names: list[str] | None = None) -> pl.DataFrame:
    """Run the suite and return the findings frame (failures are dropped: see `detect`)."""
    return detect(ctx, names).findings
