"""Outliers: an entity-day unusual on several features at once though no threshold fired."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from workbench.detect.base import DetectorContext, Finding, confidence, day_start, fmt, per_entity

FEATURES = {
    "calls": "calls",
    "error_share": "error share",
    "ips": "distinct IPs",
    "objects": "distinct objects",
    "rows": "rows processed",
    "write_share": "write share",
    "bulk": "bulk calls",
}


def compound_outlier(ctx: DetectorContext) -> list[Finding]:
    """Robust z-scores (median and MAD of the entity's own previous days) on several features;
    reported only where no other detector already flagged that entity and day."""
    p = ctx.params("compound_outlier")
    flagged = {(f.org_id, f.entity_id, f.window_start.date()) for f in ctx.prior}
    frame = ctx.daily.with_columns(
        error_share=ctx.daily["errors"] / ctx.daily["calls"].clip(lower_bound=1),
        write_share=ctx.daily["writes"] / ctx.daily["calls"].clip(lower_bound=1),
    )
    findings = []
    for (org, etype, eid, label), group in per_entity(frame):
        days = group["day"].to_list()
        values = group.select(list(FEATURES)).to_numpy().astype(float)
        for i, day in enumerate(days):
            if not ctx.in_window(day) or (org, eid, day) in flagged:
                continue
            past = [j for j, d in enumerate(days) if day - timedelta(days=p["baseline_days"]) <= d < day]
            if len(past) < p["min_history_days"]:
                continue
            history = values[past]
            median = np.median(history, axis=0)
            mad = np.median(np.abs(history - median), axis=0) * 1.4826
            # A floor on the spread: a feature that never varied must move by a real amount.
            spread = np.maximum(mad, np.maximum(0.1 * np.abs(median), [5, 0.02, 1, 1, 100, 0.05, 5]))
            z = (values[i] - median) / spread
            strong = [k for k in np.argsort(-np.abs(z)) if abs(z[k]) >= p["z_threshold"]]
            if len(strong) < p["min_features"]:
                continue
            names = list(FEATURES)
            top = strong[:3]
            parts = [
                f"{FEATURES[names[k]]} {fmt(values[i][k])} vs median {fmt(median[k])} (z {z[k]:+.1f})"
                for k in top
            ]
            score = (35 + 5 * len(strong) + min(20, float(np.abs(z[top]).mean()))) * confidence(len(past))
            findings.append(
                Finding(
                    "compound_outlier", "outlier", org, etype, eid, label, day_start(day),
                    day_start(day) + timedelta(days=1), score,
                    f"was unusual on {len(strong)} features at once on {day}: {'; '.join(parts)}.",
                    observed=float(np.abs(z[top]).mean()), baseline=p["z_threshold"],
                    evidence={"features": {names[k]: {"value": float(values[i][k]), "median": float(median[k]),
                                                      "z": round(float(z[k]), 2)} for k in strong}},
                )
            )  # fmt: skip
    return findings
