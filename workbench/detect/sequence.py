"""Sequences: reconnaissance followed by export; bulk jobs created then deleted.

Both are judged against the entity's own habit: the same describe-then-query session on earlier
days is a routine sync, and an app that deletes most of its jobs right away is housekeeping. The
signal is a pattern the entity never showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.detect import scoring
from workbench.detect.base import Detector, DetectorContext, Finding, emit, fmt, listed

FAMILY = "sequence"


@dataclass(frozen=True)
class ReconThenExport:
    window_minutes: int = 60
    min_recon_calls: int = 5
    min_export_rows: int = 1000
    routine_sessions: int = 3  # earlier days with the same pattern that make it routine


@dataclass(frozen=True)
class BulkJobDeleted:
    window_minutes: int = 30
    routine_share: float = 0.5  # share of earlier jobs deleted this fast that makes it a habit


def _actors(ctx: DetectorContext, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows judged as the app they carry, else the app their user acts through, else the user."""
    mapped = ctx.with_actor(frame)
    has_app = pl.col("connected_app_id").is_not_null()
    return (
        mapped.with_columns(
            entity_type=pl.when(has_app).then(pl.lit("connected_app")).otherwise(pl.col("entity_type")),
            entity_id=pl.when(has_app)
            .then(pl.col("connected_app_id").str.slice(0, 15))
            .otherwise(pl.col("entity_id")),
        )
        .drop("entity_label")
        .join(ctx.profiles.labels, on=["org_id", "entity_type", "entity_id"], how="left")
        .with_columns(entity_label=pl.coalesce("entity_label", "user_name", "entity_id"))
    )


def recon_then_export(ctx: DetectorContext, p: ReconThenExport) -> list[Finding]:
    """Object lists, describes, limits and count queries, then within the hour a bulk query or
    large query by the same entity, on a day-pattern the entity never (or rarely) showed."""
    calls = ctx.raw("recon_and_export_calls", {"min_export_rows": p.min_export_rows})
    if calls.is_empty():
        return []
    entity = ["org_id", "entity_type", "entity_id"]
    keys = [*entity, "session"]
    window = pl.duration(minutes=p.window_minutes)
    calls = _actors(ctx, calls).sort("ts")
    exported = pl.col("export").is_in(["bulk query job", "large query"])
    # Export calls less than the window apart form one session; a job that runs at 00:00 and
    # again at 23:59 is two sessions, not one day-long one.
    exports = (
        calls.filter(pl.col("export").is_not_null())
        .with_columns(
            session=(pl.col("ts").diff().over(entity).fill_null(pl.duration(days=1)) > window)
            .cum_sum()
            .over(entity)
        )
        .group_by(keys)
        .agg(
            export_start=pl.col("ts").min(),
            export_end=pl.col("ts").max(),
            export_calls=pl.len(),
            rows=pl.col("rows_processed").filter(exported).sum().fill_null(0),
            export_kinds=pl.col("export").value_counts(sort=True),
            targets=pl.col("entity_name").drop_nulls().unique().sort(),
            export_ids=pl.col("request_id").head(5),
            export_ips=pl.col("ip").drop_nulls().unique(),
            entity_label=pl.col("entity_label").first(),
        )
    )
    recon = (
        calls.filter(pl.col("recon").is_not_null())
        .select(*entity, "ts", "recon", "request_id", "ip")
        .join(exports.select(*keys, "export_start", "export_end"), on=entity)
        .filter((pl.col("ts") >= pl.col("export_start") - window) & (pl.col("ts") <= pl.col("export_end")))
        .group_by(keys)
        .agg(
            recon_calls=pl.len(),
            recon_start=pl.col("ts").min(),
            recon_kinds=pl.col("recon").value_counts(sort=True),
            recon_ids=pl.col("request_id").head(5),
            recon_ips=pl.col("ip").drop_nulls().unique(),
        )
    )
    # How many earlier days showed the same pattern: its habit.
    sessions = (
        exports.join(recon, on=keys)
        .filter(pl.col("recon_calls") >= p.min_recon_calls)
        .with_columns(day=pl.col("recon_start").dt.date())
        .sort("recon_start")
        .with_columns(earlier=(pl.col("day").rank("dense") - 1).over(entity).cast(pl.Int64))
        .filter(ctx.judged("recon_start"))
    )
    if sessions.is_empty():
        return []
    history = ctx.profiles.daily.select("org_id", "entity_type", "entity_id", "day", "history_days")
    sessions = sessions.join(history, on=[*entity, "day"], how="left").with_columns(
        pl.col("history_days").fill_null(0)
    )
    fresh = (
        60
        + pl.when(pl.col("rows") >= 50_000).then(10).otherwise(0)
        + pl.when(pl.col("targets").list.len() > 1).then(5).otherwise(0)
    )
    sessions = sessions.with_columns(
        score=pl.when(pl.col("earlier") >= p.routine_sessions)
        .then(25.0)
        .when(pl.col("earlier") > 0)
        .then(32.0)
        .when(pl.col("history_days") < scoring.THIN_HISTORY_DAYS)
        .then(39.0)
        .otherwise(fresh.cast(pl.Float64)),
        window_start=pl.col("recon_start"),
        window_end=pl.col("export_end"),
        observed=pl.col("recon_calls").cast(pl.Float64),
        baseline=pl.col("earlier").cast(pl.Float64),
        ips=pl.concat_list("recon_ips", "export_ips").list.unique().list.sort(),
    )

    def kinds(counts: list[dict[str, Any]], field: str) -> str:
        return ", ".join(f"{c['count']} {c[field]}" for c in counts)

    def explain(r: dict[str, Any]) -> str:
        minutes = (r["export_end"] - r["recon_start"]).total_seconds() / 60
        rows = f", {fmt(r['rows'])} rows" if r["rows"] else ""
        habit = (
            f" The same pattern ran on {r['earlier']} earlier days: likely routine."
            if r["earlier"] >= p.routine_sessions
            else (
                f" It ran on {r['earlier']} earlier day(s)." if r["earlier"] else " It never did this before."
            )
        )
        return (
            f"ran {r['recon_calls']} reconnaissance calls ({kinds(r['recon_kinds'], 'recon')}) from "
            f"{r['recon_start']:%Y-%m-%d %H:%M} UTC, then exported within {minutes:.0f} minutes "
            f"({kinds(r['export_kinds'], 'export')}) on {listed(r['targets'], 6)}{rows}; addresses: {listed(r['ips'], 6)}."
            f"{habit}"
        )

    return emit(
        sessions,
        "recon_then_export",
        FAMILY,
        explain,
        lambda r: {
            "request_ids": [*r["recon_ids"], *r["export_ids"]],
            "ips": r["ips"],
            "entities": r["targets"],
            "counts": {
                "recon_calls": r["recon_calls"],
                "export_calls": r["export_calls"],
                "rows": r["rows"],
                "earlier_days": r["earlier"],
            },
        },
    )


def bulk_job_deleted(ctx: DetectorContext, p: BulkJobDeleted) -> list[Finding]:
    """Bulk jobs deleted soon after they appeared, by an entity that does not usually delete
    its jobs: what an intruder does to hide an export. Routine cleanup stays silent."""
    jobs = ctx.raw("bulk_job_lifecycle")
    if jobs.is_empty():
        return []
    quick = (pl.col("deleted_at") - pl.col("first_seen")) <= pl.duration(minutes=p.window_minutes)
    entity = ["org_id", "entity_type", "entity_id"]
    jobs = (
        _actors(ctx, jobs)
        .with_columns(
            quick=quick.fill_null(False),
            lifetime=(pl.col("deleted_at") - pl.col("first_seen")).dt.total_seconds(),
        )
        .sort("first_seen")
        .with_columns(
            earlier_jobs=pl.int_range(pl.len()).over(entity),
            earlier_quick=pl.col("quick").cast(pl.Int64).cum_sum().shift(1).fill_null(0).over(entity),
        )
        .with_columns(habit=(pl.col("earlier_quick") + 0.5) / (pl.col("earlier_jobs") + 1))
    )
    deleted = jobs.filter(
        pl.col("quick")
        & ctx.judged("first_seen")
        & ~((pl.col("earlier_jobs") >= 3) & (pl.col("habit") >= p.routine_share))
    )
    if deleted.is_empty():
        return []
    s = scoring.surprise(deleted["habit"])
    score = (
        50
        + np.minimum(8 * s, 15)
        + np.where(deleted["job_kind"].to_numpy() == "query", 10, 0)
        + np.where(deleted["lifetime"].to_numpy() <= 300, 5, 0)
    )
    score = np.where(deleted["earlier_jobs"].to_numpy() < 3, np.minimum(score, 55), np.minimum(score, 80))
    per_day = (
        deleted.with_columns(score=pl.Series(score), day=pl.col("first_seen").dt.date())
        .group_by(*entity, "day")
        .agg(
            entity_label=pl.col("entity_label").first(),
            jobs=pl.col("job_id"),
            parts=pl.format(
                "{} ({}, {}, deleted after {} min)",
                "job_id",
                "job_kind",
                pl.col("entity_name").fill_null("unknown object"),
                (pl.col("lifetime") / 60).round(1),
            ),
            score=pl.col("score").max(),
            window_start=pl.col("first_seen").min(),
            window_end=pl.col("deleted_at").max(),
            earlier_jobs=pl.col("earlier_jobs").min(),
            earlier_quick=pl.col("earlier_quick").min(),
            ips=pl.col("ips").explode().drop_nulls().unique().sort(),
            request_ids=pl.col("request_ids").explode().head(10),
            objects=pl.col("entity_name").drop_nulls().unique().sort(),
        )
        .with_columns(
            observed=pl.col("jobs").list.len().cast(pl.Float64),
            baseline=pl.col("earlier_quick").cast(pl.Float64),
        )
    )
    return emit(
        per_day,
        "bulk_job_deleted",
        FAMILY,
        lambda r: (
            f"deleted {len(r['jobs'])} bulk job(s) within {p.window_minutes} minutes of creating them on {r['day']}: "
            f"{listed(r['parts'], 4)}, from {listed(r['ips'])}. Of its {r['earlier_jobs']} earlier jobs it deleted "
            f"{r['earlier_quick']} that fast."
        ),
        lambda r: {
            "request_ids": r["request_ids"],
            "ips": r["ips"],
            "jobs": r["jobs"],
            "entities": r["objects"],
            "counts": {"deleted": len(r["jobs"]), "earlier_jobs": r["earlier_jobs"]},
        },
    )


DETECTORS = [
    Detector(
        "recon_then_export",
        FAMILY,
        recon_then_export,
        "reconnaissance, then export, not a routine",
        ReconThenExport,
    ),
    Detector(
        "bulk_job_deleted",
        FAMILY,
        bulk_job_deleted,
        "bulk jobs deleted right after creation, against habit",
        BulkJobDeleted,
    ),
]
