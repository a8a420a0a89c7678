"""Outliers: an entity-day unusual on several features at once though no threshold fired."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.detect.base import Detector, DetectorContext, Finding, day_window, emit, fmt
from workbench.detect.profiles import ENTITY

FAMILY = "outlier"

FEATURES = {
    "calls": "calls",
    "error_share": "error share",
    "ips": "distinct IPs",
    "objects": "distinct objects",
    "rows": "rows processed",
    "write_share": "write share",
    "bulk": "bulk calls",
}
# A floor on each feature's spread: a feature that never varied must move by a real amount.
SPREAD_FLOOR = {
    "calls": 5,
    "error_share": 0.02,
    "ips": 1,
    "objects": 1,
    "rows": 100,
    "write_share": 0.05,
    "bulk": 5,
}


@dataclass(frozen=True)
class CompoundOutlier:
    baseline_days: int = 28
    min_history_days: int = 10
    z_threshold: float = 4.0
    min_features: int = 3


def compound_outlier(ctx: DetectorContext, p: CompoundOutlier) -> list[Finding]:
    """Robust z-scores (median and interquartile spread of the entity's own previous active
    days) on several features; reported only where no other detector flagged that entity-day.
    Low or medium at most: it says "look here", not "this is an attack"."""
    flagged = pl.DataFrame(
        [(f.org_id, f.entity_type, f.entity_id, f.window_start.date()) for f in ctx.prior],
        schema={"org_id": pl.Utf8, "entity_type": pl.Utf8, "entity_id": pl.Utf8, "day": pl.Date},
        orient="row",
    )
    days = (
        ctx.profiles.daily.filter(pl.col("active"))
        .with_columns(
            error_share=pl.col("errors") / pl.col("calls").clip(lower_bound=1),
            write_share=pl.col("writes") / pl.col("calls").clip(lower_bound=1),
        )
        .sort([*ENTITY, "day"])
    )
    window = p.baseline_days
    stats = {}
    for feature in FEATURES:
        value = pl.col(feature).cast(pl.Float64)
        previous = value.shift(1)
        median = previous.rolling_median(window, min_samples=p.min_history_days).over(ENTITY)
        iqr = (
            previous.rolling_quantile(0.75, window_size=window, min_samples=p.min_history_days)
            - previous.rolling_quantile(0.25, window_size=window, min_samples=p.min_history_days)
        ).over(ENTITY)
        spread = pl.max_horizontal(iqr / 1.349, 0.1 * median.abs(), pl.lit(SPREAD_FLOOR[feature]))
        stats[f"median_{feature}"] = median
        stats[f"z_{feature}"] = (value - median) / spread
    days = days.with_columns(**stats).filter(ctx.judged() & pl.col("median_calls").is_not_null())
    days = days.join(flagged.unique(), on=[*ENTITY, "day"], how="anti")
    if days.is_empty():
        return []
    z = days.select([f"z_{f}" for f in FEATURES]).to_numpy()
    # One-sided: an intruder adds calls, addresses, objects, rows; a quiet Sunday is not a finding.
    strong = z >= p.z_threshold
    days = days.with_columns(
        strong=pl.Series(strong.sum(axis=1)), mean_z=pl.Series(np.where(strong, z, 0).max(axis=1))
    )
    days = days.filter(pl.col("strong") >= p.min_features).with_columns(
        score=(30 + 4 * pl.col("strong") + (pl.col("mean_z") / 2).clip(upper_bound=12))
        .clip(upper_bound=55)
        .cast(pl.Float64),
        **day_window(),
        observed=pl.col("mean_z"),
        baseline=pl.lit(p.z_threshold),
    )

    def parts(r: dict[str, Any]) -> list[tuple[str, float, float, float]]:
        ranked = sorted(FEATURES, key=lambda f: -r[f"z_{f}"])
        return [
            (f, float(r[f]), r[f"median_{f}"], r[f"z_{f}"]) for f in ranked if r[f"z_{f}"] >= p.z_threshold
        ]

    return emit(
        days,
        "compound_outlier",
        FAMILY,
        lambda r: (
            f"was unusual on {r['strong']} features at once on {r['day']}: "
            + "; ".join(
                f"{FEATURES[f]} {fmt(v)} vs median {fmt(m)} (z {z:+.1f})" for f, v, m, z in parts(r)[:3]
            )
            + "."
        ),
        lambda r: {"features": {f: {"value": v, "median": m, "z": round(z, 2)} for f, v, m, z in parts(r)}},
    )


DETECTORS = [
    Detector(
        "compound_outlier",
        FAMILY,
        compound_outlier,
        "unusual on several features at once",
        CompoundOutlier,
        reads_prior=True,
    ),
]
