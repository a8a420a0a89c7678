"""Volume: daily spikes, hourly bursts, dormant entities waking up, mass exports.

Counts are judged against the entity's own profile (profiles.daily): the count tail under a
negative binomial fitted to comparable days, capped by the effect size (observed / expected), so
one rule fits an app with 50 calls a day and one with 5 million.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from workbench.detect import scoring
from workbench.detect.base import (
    Detector,
    DetectorContext,
    Finding,
    day_window,
    declared_bursty,
    emit,
    fmt,
    one_in,
)

FAMILY = "volume"


@dataclass(frozen=True)
class VolumeSpike:
    min_calls: int = 100  # below this a day is too small to judge
    min_ratio: float = 2.0  # below this ratio to the expectation nothing is reported


@dataclass(frozen=True)
class HourlyBurst:
    min_calls: int = 200
    min_ratio: float = 3.0  # against the usual busiest hour


@dataclass(frozen=True)
class DormantWakeup:
    silent_days: int = 14
    min_calls: int = 10
    min_active_days: int = 3  # active days before the silence that make it a real habit


@dataclass(frozen=True)
class MassExport:
    bands: tuple[int, int, int] = (10_000, 50_000, 100_000)
    baseline_days: int = 30


def _scored_counts(
    frame: pl.DataFrame, observed: str, expected: str, variance: str, days: str
) -> pl.DataFrame:
    """Add tail, surprise, ratio and score columns for a count against its profile."""
    tail = scoring.count_tail(frame[observed], frame[expected], frame[variance])
    ratio = frame[observed].cast(pl.Float64) / frame[expected].cast(pl.Float64).clip(lower_bound=1.0)
    score = scoring.bounded(
        scoring.score_from_surprise(scoring.surprise(tail)),
        scoring.ratio_cap(ratio),
        scoring.history_cap(frame[days]),
    )
    return frame.with_columns(tail=pl.Series(tail), ratio=ratio, score=pl.Series(score))


def volume_spike(ctx: DetectorContext, p: VolumeSpike) -> list[Finding]:
    """Daily calls far above what the entity's profile expects for that kind of day."""
    columns = [
        *("org_id", "entity_type", "entity_id", "entity_label", "day", "calls", "expected", "variance"),
        *("comparable_days", "usual_day", "weekly", "recurring_burst", "cycle_kind", "previous_cycle_calls"),
        *("weekend", "long_median", "short_median"),
    ]
    days = pl.concat([ctx.profiles.daily.select(columns), ctx.profiles.org_daily.select(columns)])
    judged = days.filter(
        ctx.judged()
        & (pl.col("calls") >= p.min_calls)
        & pl.col("usual_day")
        & (pl.col("calls") >= p.min_ratio * pl.col("expected").clip(lower_bound=1))
    )
    if judged.is_empty():
        return []
    scored = _scored_counts(judged, "calls", "expected", "variance", "comparable_days")
    # A close-cycle day never seen to burst before (no earlier month in the history) may be the
    # first close: low, with a note, until a month of history says otherwise.
    first_cycle = pl.col("cycle_kind").is_not_null() & pl.col("previous_cycle_calls").is_null()
    scored = scored.with_columns(
        score=pl.when(first_cycle).then(pl.col("score").clip(upper_bound=35)).otherwise(pl.col("score")),
        first_cycle=first_cycle,
        **day_window(),
        observed=pl.col("calls").cast(pl.Float64),
        baseline=pl.col("expected"),
    )
    keep = [not _declared_normal(ctx, row) for row in scored.iter_rows(named=True)]
    return emit(
        scored.filter(pl.Series(keep, dtype=pl.Boolean)),
        "volume_spike",
        FAMILY,
        _explain_spike,
        _evidence_spike,
    )


def _declared_normal(ctx: DetectorContext, row: dict[str, Any]) -> bool:
    """The catalog says this volume or this day is expected."""
    entry = ctx.catalog(row["entity_type"], row["entity_id"])
    if entry is None:
        return False
    if entry.expected_daily_calls and row["calls"] <= 1.5 * entry.expected_daily_calls:
        return True
    return declared_bursty(entry, row["day"])


def _explain_spike(row: dict[str, Any]) -> str:
    kind = "weekend" if row["weekend"] else "weekday"
    basis = (
        f"its usual {row['day']:%A} volume (a weekly job)"
        if row["weekly"]
        else f"the median of its last {row['comparable_days']} {kind} days"
    )
    note = ""
    if row["recurring_burst"] and row["previous_cycle_calls"] >= 0.5 * row["calls"]:
        kind = row["cycle_kind"] or f"day-{row['day'].day}-of-the-month"
        note = (
            f" Earlier {kind} bursts ({fmt(row['previous_cycle_calls'])}) are expected; this one is larger."
        )
    elif row["first_cycle"]:
        note = f" It is the {row['cycle_kind']}: may be a close-cycle burst (first one in the history)."
    if row["short_median"] and row["long_median"] is not None and row["short_median"] > row["long_median"]:
        note += (
            f" Its recent level ({fmt(row['short_median'])}) is above the longer median; the higher counts."
        )
    return (
        f"made {fmt(row['calls'])} calls on {row['day']} ({row['day']:%a}), {row['ratio']:.1f}x the "
        f"{fmt(row['expected'])} expected from {basis}; a count this high is {one_in(row['tail'])} "
        f"for this entity.{note}"
    )


def _evidence_spike(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "counts": {
            "calls": row["calls"],
            "expected": round(row["expected"], 1),
            "ratio": round(row["ratio"], 2),
            "history_days": row["comparable_days"],
        },
        "surprise": round(float(scoring.surprise(row["tail"])), 2),
    }


def hourly_burst(ctx: DetectorContext, p: HourlyBurst) -> list[Finding]:
    """A day whose busiest hour is far above the entity's usual busiest hour."""
    daily = ctx.profiles.daily.filter(
        ctx.judged()
        & (pl.col("peak_calls") >= p.min_calls)
        & pl.col("past_peak").is_not_null()
        & (pl.col("active_days_before") >= 7)
        & (pl.col("peak_calls") >= p.min_ratio * pl.col("past_peak").clip(lower_bound=1))
        & (pl.col("peak_calls") > 1.5 * pl.col("past_peak_high"))
        & ~pl.col("recurring_burst")
    )
    if daily.is_empty():
        return []
    daily = daily.with_columns(past_peak_var=pl.col("past_peak_var").fill_null(0))
    scored = _scored_counts(daily, "peak_calls", "past_peak", "past_peak_var", "active_days_before")
    scored = scored.with_columns(
        # As for daily volume: the first close-cycle day in the history may be a close burst.
        score=pl.when(pl.col("cycle_kind").is_not_null() & pl.col("previous_cycle_calls").is_null())
        .then(pl.col("score").clip(upper_bound=35))
        .otherwise(pl.col("score")),
        window_start=pl.col("peak_hour"),
        window_end=pl.col("peak_hour") + pl.duration(hours=1),
        observed=pl.col("peak_calls").cast(pl.Float64),
        baseline=pl.col("past_peak"),
    )
    return emit(
        scored,
        "hourly_burst",
        FAMILY,
        lambda r: (
            f"made {fmt(r['peak_calls'])} calls in the hour from {r['peak_hour']:%Y-%m-%d %H:00} UTC, "
            f"{r['ratio']:.1f}x its usual busiest hour ({fmt(r['past_peak'])} calls, highest "
            f"{fmt(r['past_peak_high'])}) over the previous 28 days: {one_in(r['tail'])}."
        ),
        lambda r: {
            "counts": {"calls": r["peak_calls"], "usual_peak": r["past_peak"], "highest": r["past_peak_high"]}
        },
    )


def dormant_wakeup(ctx: DetectorContext, p: DormantWakeup) -> list[Finding]:
    """An entity with a real habit, silent for weeks, that comes back; a wake-up after the same
    gap as last time (a monthly job) is expected."""
    active = ctx.profiles.daily.filter(pl.col("active")).with_columns(
        silent=(pl.col("day") - pl.col("last_active_day")).dt.total_days() - 1
    )
    active = active.with_columns(
        previous_silent=pl.col("silent").shift(1).over("org_id", "entity_type", "entity_id")
    )
    woke = active.filter(
        ctx.judged()
        & (pl.col("silent") >= p.silent_days)
        & (pl.col("calls") >= p.min_calls)
        & (pl.col("active_days_before") >= 1)
    )
    if woke.is_empty():
        return []
    periodic = (pl.col("previous_silent") - pl.col("silent")).abs() <= 3
    score = (
        pl.lit(45.0)
        + pl.col("silent").clip(upper_bound=25)
        + pl.when(pl.col("entity_type") == "connected_app").then(5).otherwise(0)
    )
    woke = woke.with_columns(
        periodic=periodic.fill_null(False),
        score=pl.when(periodic.fill_null(False))
        .then(30.0)
        .when(pl.col("active_days_before") < p.min_active_days)
        .then(score.clip(upper_bound=39))
        .otherwise(score),
        **day_window(),
        observed=pl.col("calls").cast(pl.Float64),
        baseline=pl.lit(0.0),
    )
    return emit(
        woke,
        "dormant_wakeup",
        FAMILY,
        lambda r: (
            f"was silent for {r['silent']} days (last active {r['last_active_day']}, after "
            f"{r['active_days_before']} active days) and made {fmt(r['calls'])} calls on {r['day']}."
            + (
                f" It went quiet for {r['previous_silent']} days before too: a periodic job."
                if r["periodic"]
                else ""
            )
        ),
        lambda r: {
            "counts": {
                "silent_days": r["silent"],
                "calls": r["calls"],
                "active_days_before": r["active_days_before"],
            },
            "last_active": str(r["last_active_day"]),
        },
    )


def mass_export(ctx: DetectorContext, p: MassExport) -> list[Finding]:
    """Bulk query jobs in the published bands (10k/50k/100k rows) that are large for the entity:
    an export the same user already ran at half that size or more is routine."""
    low, mid, high = p.bands
    jobs = ctx.raw("bulk_query_jobs")
    if jobs.is_empty():
        return []
    jobs = (
        jobs.with_columns(rows=pl.col("rows_processed").fill_null(0).cast(pl.Int64))
        .sort("ts")
        .with_columns(
            previous_max=pl.col("rows")
            .rolling_max_by("ts", window_size=f"{p.baseline_days}d", closed="left")
            .over("org_id", "user15", "entity_name")
            .fill_null(0)
        )
    )
    large = jobs.filter(
        ctx.judged("ts") & (pl.col("rows") >= low) & (pl.col("previous_max") < 0.5 * pl.col("rows"))
    )
    if large.is_empty():
        return []
    band = pl.when(pl.col("rows") >= high).then(70).when(pl.col("rows") >= mid).then(60).otherwise(45)
    ratio = pl.col("rows") / pl.col("previous_max").clip(lower_bound=1)
    large = ctx.with_actor(large).with_columns(
        score=pl.when(pl.col("previous_max") > 0)
        .then(pl.min_horizontal(band, pl.lit(25) + 10 * ratio.log(2)))
        .otherwise(band)
        .cast(pl.Float64),
        window_start=pl.col("ts"),
        window_end=pl.col("ts") + pl.duration(minutes=1),
        observed=pl.col("rows").cast(pl.Float64),
        baseline=pl.col("previous_max").cast(pl.Float64),
    )

    def explain(r: dict[str, Any]) -> str:
        history = (
            f"its largest on {r['entity_name']} in the previous {p.baseline_days} days was {fmt(r['previous_max'])} rows"
            if r["previous_max"]
            else f"it ran no query job on {r['entity_name']} in the previous {p.baseline_days} days"
        )
        return (
            f"exported {fmt(r['rows'])} {r['entity_name']} rows in bulk query job {r['job_id']} at "
            f"{r['ts']:%Y-%m-%d %H:%M} UTC from {r['ip']}; {history}."
        )

    return emit(
        large,
        "mass_export",
        FAMILY,
        explain,
        lambda r: {
            "request_ids": [r["request_id"]],
            "ips": [r["ip"]] if r["ip"] else [],
            "entities": [r["entity_name"]],
            "jobs": [r["job_id"]],
            "counts": {"rows": r["rows"], "previous_max": r["previous_max"]},
        },
    )


DETECTORS = [
    Detector(
        "volume_spike", FAMILY, volume_spike, "daily calls far above the profile's expectation", VolumeSpike
    ),
    Detector(
        "hourly_burst", FAMILY, hourly_burst, "a busiest hour far above the usual busiest hour", HourlyBurst
    ),
    Detector(
        "dormant_wakeup",
        FAMILY,
        dormant_wakeup,
        "silent for 14+ days after a real habit, then active",
        DormantWakeup,
    ),
    Detector(
        "mass_export",
        FAMILY,
        mass_export,
        "bulk query jobs of 10k/50k/100k+ rows, large for the entity",
        MassExport,
    ),
]
