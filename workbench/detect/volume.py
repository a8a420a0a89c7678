"""Volume: daily spikes, hourly bursts, dormant entities waking up, mass exports."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from workbench.detect.base import (
    DetectorContext,
    Finding,
    confidence,
    day_start,
    declared_bursty,
    fmt,
    is_month_end,
    number,
    per_entity,
    ratio_score,
)


def volume_spike(ctx: DetectorContext) -> list[Finding]:
    """Daily calls far above the entity's own weekday-aware median of the previous weeks."""
    p = ctx.params("volume_spike")
    findings = []
    columns = ["org_id", "entity_type", "entity_id", "entity_label", "day", "calls"]
    # The org's total too: many apps each a little busier add up to a change worth seeing.
    org_daily = (
        ctx.daily.group_by("org_id", "day")
        .agg(pl.col("calls").sum())
        .with_columns(
            entity_type=pl.lit("org"), entity_id=pl.col("org_id"), entity_label=pl.lit("all API activity")
        )
    )
    entities = pl.concat([ctx.daily.select(columns), org_daily.select(columns)])
    for (org, etype, eid, label), group in per_entity(entities):
        counts = dict(zip(group["day"].to_list(), group["calls"].to_list(), strict=True))
        first_day = min(counts)
        entry = ctx.catalog(etype, eid)
        for day in ctx.window_days():
            observed = counts.get(day, 0)
            if observed < p["min_calls"]:
                continue
            weekend = day.weekday() >= 5
            history = [
                counts.get(d, 0)
                for n in range(1, p["baseline_days"] + 1)
                if (d := day - timedelta(days=n)) >= first_day and (d.weekday() >= 5) == weekend
            ]
            if len(history) < 2:
                continue
            median = float(np.median(history))
            mad = float(np.median(np.abs(np.asarray(history) - median))) * 1.4826
            threshold = max(
                median * p["min_ratio"], median + p["mad_threshold"] * mad, median + p["min_calls"]
            )
            if observed <= threshold:
                continue
            if entry and entry.expected_daily_calls and observed <= 1.5 * entry.expected_daily_calls:
                continue
            if declared_bursty(entry, day):
                continue
            ratio = observed / max(median, 1.0)
            kind = "weekend" if weekend else "weekday"
            score = ratio_score(ratio) * confidence(len(history))
            note = ""
            recent = [counts.get(day - timedelta(days=n), 0) for n in (1, 2, 3)]
            # The same day of last month (or last month's end) as busy: a recurring burst.
            last_month = [
                d for d in counts
                if 20 <= (day - d).days <= 40 and (d.day == day.day or (is_month_end(d) and is_month_end(day)))
            ]  # fmt: skip
            if any(counts[d] >= 0.5 * observed for d in last_month):
                continue
            if len(history) < p["min_history_days"]:
                score, note = min(score, 35), f" Only {len(history)} days of history: low confidence."
            elif all(r >= 0.7 * observed for r in recent):
                score, note = min(score, 30), " The level has held for 3 days: likely a new normal."
            elif is_month_end(day):
                score, note = (
                    min(score, 30),
                    " Month-end day: may be a billing burst (declare it in the catalog).",
                )
            declared = (
                f" Declared ~{fmt(entry.expected_daily_calls)}/day."
                if entry and entry.expected_daily_calls
                else ""
            )
            findings.append(
                Finding(
                    "volume_spike", "volume", org, etype, eid, label, day_start(day),
                    day_start(day) + timedelta(days=1), score,
                    f"made {fmt(observed)} calls on {day} ({kind}), {ratio:.1f}x its median of {fmt(median)} "
                    f"over {len(history)} previous {kind} days.{declared}{note}",
                    observed=observed, baseline=median,
                    evidence={"counts": {"calls": observed, "baseline_median": median, "history_days": len(history)}},
                )
            )  # fmt: skip
    return findings


def hourly_burst(ctx: DetectorContext) -> list[Finding]:
    """An hour with many times more calls than the entity's busiest usual hours."""
    p = ctx.params("hourly_burst")
    hourly = ctx.entity_activity.group_by("org_id", "entity_type", "entity_id", "entity_label", "hour").agg(
        calls=pl.col("calls").sum()
    )
    findings = []
    for (org, etype, eid, label), group in per_entity(hourly.sort("hour")):
        hours = group["hour"].to_list()
        calls = np.asarray(group["calls"].to_list(), dtype=float)
        for index, hour in enumerate(hours):
            if not ctx.in_window(hour) or calls[index] < p["min_calls"]:
                continue
            start = hour - timedelta(days=p["baseline_days"])
            past = calls[[i for i, h in enumerate(hours) if start <= h < hour]]
            if len(past) < 24:
                continue
            usual = float(np.percentile(past, 95))
            if calls[index] < p["min_ratio"] * max(usual, 1.0):
                continue
            ratio = calls[index] / max(usual, 1.0)
            findings.append(
                Finding(
                    "hourly_burst", "volume", org, etype, eid, label, hour, hour + timedelta(hours=1),
                    ratio_score(ratio, 25) * confidence(len(past) // 24),
                    f"made {fmt(calls[index])} calls in the hour from {hour:%Y-%m-%d %H:00} UTC, {ratio:.1f}x its "
                    f"95th-percentile active hour ({fmt(usual)} calls) over {len(past)} active hours.",
                    observed=calls[index], baseline=usual,
                    evidence={"counts": {"calls": calls[index], "p95_hour": usual}},
                )
            )  # fmt: skip
    return findings


def dormant_wakeup(ctx: DetectorContext) -> list[Finding]:
    """An entity silent for weeks that comes back."""
    p = ctx.params("dormant_wakeup")
    findings = []
    for (org, etype, eid, label), group in per_entity(ctx.daily):
        days = group["day"].to_list()
        calls = group["calls"].to_list()
        for previous, day, count in zip(days, days[1:], calls[1:], strict=False):
            silent = (day - previous).days - 1
            if silent < p["silent_days"] or not ctx.in_window(day) or count < p["min_calls"]:
                continue
            score = 50 + min(25, silent / 4) + (10 if etype == "connected_app" else 0)
            findings.append(
                Finding(
                    "dormant_wakeup", "volume", org, etype, eid, label, day_start(day),
                    day_start(day) + timedelta(days=1), score,
                    f"was silent for {silent} days (last active {previous}) and made {fmt(count)} calls on {day}.",
                    observed=count, baseline=0,
                    evidence={"counts": {"silent_days": silent, "calls": count}, "last_active": str(previous)},
                )
            )  # fmt: skip
    return findings


def mass_export(ctx: DetectorContext) -> list[Finding]:
    """Bulk query jobs and query volumes in the published bands (10k/50k/100k rows), weighed
    against what the same entity exported before."""
    p = ctx.params("mass_export")
    low, mid, high = p["bands"]
    jobs = ctx.raw("bulk_query_jobs")
    findings: list[Finding] = []
    if jobs.is_empty():
        return findings
    for row in jobs.sort("ts").iter_rows(named=True):
        rows = int(row["rows_processed"] or 0)
        if rows < low or not ctx.in_window(row["ts"]):
            continue
        previous = jobs.filter(
            (pl.col("org_id") == row["org_id"])
            & (pl.col("user15") == row["user15"])
            & (pl.col("entity_name") == row["entity_name"])
            & (pl.col("ts") < row["ts"])
            & (pl.col("ts") >= row["ts"] - timedelta(days=p["baseline_days"]))
        )
        previous_max = int(number(previous["rows_processed"].max()))
        band = 85 if rows >= high else 70 if rows >= mid else 50
        usual = previous_max >= 0.5 * rows
        score = 30 if usual else band
        etype, eid, label = ctx.actor(row["org_id"], row["user15"], row["user_name"])
        history = (
            f"its largest in the previous {p['baseline_days']} days was {fmt(previous_max)} rows"
            if previous_max
            else f"it ran no query job on {row['entity_name']} in the previous {p['baseline_days']} days"
        )
        findings.append(
            Finding(
                "mass_export", "volume", row["org_id"], etype, eid, label, row["ts"],
                row["ts"] + timedelta(minutes=1), score,
                f"exported {fmt(rows)} {row['entity_name']} rows in bulk query job {row['job_id']} at "
                f"{row['ts']:%Y-%m-%d %H:%M} UTC from {row['ip']}; {history}.",
                observed=rows, baseline=previous_max,
                evidence={"request_ids": [row["request_id"]], "ips": [row["ip"]], "entities": [row["entity_name"]],
                          "jobs": [row["job_id"]], "counts": {"rows": rows, "previous_max": previous_max}},
            )
        )  # fmt: skip
    return findings
