"""Behaviour: objects an integration never touched, and unusual fan-out per hour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.detect import scoring
from workbench.detect.base import Detector, DetectorContext, Finding, emit, fmt, listed, one_in
from workbench.detect.profiles import ENTITY

FAMILY = "behavioral"


@dataclass(frozen=True)
class NewObjectAccess:
    min_calls: int = 3
    min_history_days: int = 7


@dataclass(frozen=True)
class FanOut:
    min_objects: int = 5
    min_ratio: float = 1.5
    min_history_days: int = 7


def new_object_access(ctx: DetectorContext, p: NewObjectAccess) -> list[Finding]:
    """Per entity and day: the objects it touched for the first time, weighed by how often it
    meets new objects, how much of its day they carry, how sensitive they are and whether the
    catalog allows them."""
    frame = ctx.entity_activity.filter(pl.col("entity_name").is_not_null())
    seen = ctx.profiles.first_seen("entity_name", frame)
    fresh = seen.filter(ctx.judged("first_ts") & (pl.col("history_days") >= 1))
    if fresh.is_empty():
        return []
    usage = (
        frame.join(fresh.select(*ENTITY, "entity_name", "first_day"), on=[*ENTITY, "entity_name"])
        .filter(pl.col("day") == pl.col("first_day"))
        .group_by(*ENTITY, "entity_name")
        .agg(
            calls=pl.col("calls").sum(),
            writes=pl.col("writes").sum(),
            bulk=pl.col("bulk_calls").sum(),
            ips=pl.col("ip").drop_nulls().unique(),
        )
    )
    fresh = fresh.join(usage, on=[*ENTITY, "entity_name"]).filter(pl.col("calls") >= p.min_calls)
    if fresh.is_empty():
        return []
    sensitive = [ctx.settings.is_sensitive(o) for o in fresh["entity_name"]]
    fresh = fresh.with_columns(sensitive=pl.Series(sensitive, dtype=pl.Boolean))
    day_calls = (
        frame.group_by(*ENTITY, "day").agg(day_calls=pl.col("calls").sum()).rename({"day": "first_day"})
    )
    per_day = (
        # Ties in calls go by name: the order of the objects in the explanation (and evidence)
        # must not follow whichever order the joins above happened to leave.
        fresh.sort(["calls", "entity_name"], descending=[True, False])
        .group_by(*ENTITY, "first_day")
        .agg(
            objects=pl.col("entity_name"),
            parts=pl.format(
                "{} ({} calls{}{})",
                "entity_name",
                "calls",
                pl.when(pl.col("writes") > 0).then(pl.format(", {} writes", "writes")).otherwise(pl.lit("")),
                pl.when(pl.col("bulk") > 0).then(pl.lit(", bulk")).otherwise(pl.lit("")),
            ),
            sensitive=pl.col("entity_name").filter(pl.col("sensitive")),
            calls=pl.col("calls").sum(),
            writes=pl.col("writes").sum(),
            bulk=pl.col("bulk").sum(),
            ips=pl.col("ips").explode().unique().sort(),
            first_ts=pl.col("first_ts").min(),
            last_ts=pl.col("last_ts").max(),
            novelty_rate=pl.col("novelty_rate").first(),
            history_days=pl.col("history_days").min(),
            known_count=pl.col("known_before").min(),
        )
        .join(day_calls, on=[*ENTITY, "first_day"], how="left")
        .with_columns(new_count=pl.col("objects").list.len(), share=pl.col("calls") / pl.col("day_calls"))
    )
    undeclared, declared_name = [], []
    for etype, eid, objects in per_day.select("entity_type", "entity_id", "objects").iter_rows():
        entry = ctx.catalog(etype, eid)
        allowed = entry.allowed_objects if entry else None
        undeclared.append([o for o in objects if allowed is not None and o not in allowed])
        declared_name.append(entry.name if entry else None)
    per_day = per_day.with_columns(
        undeclared=pl.Series(undeclared, dtype=pl.List(pl.Utf8)),
        declared=pl.Series(declared_name, dtype=pl.Utf8),
    )
    tail = scoring.poisson_tail(per_day["new_count"], per_day["novelty_rate"])
    context = (
        np.where(per_day["sensitive"].list.len().to_numpy() > 0, 12, 0)
        + np.where(per_day["undeclared"].list.len().to_numpy() > 0, 12, 0)
        + np.where(per_day["bulk"].to_numpy() > 0, 6, 0)
        + np.where(per_day["writes"].to_numpy() > 0, 4, 0)
    )
    share_cap = np.interp(
        per_day["share"].fill_null(0).to_numpy(), [0, 0.01, 0.05, 0.2, 1.0], [25, 40, 50, 62, 70]
    )
    score = scoring.bounded(
        20 + 10 * scoring.surprise(tail) + context,
        share_cap + context,
        np.where(per_day["history_days"].to_numpy() < p.min_history_days, scoring.THIN_HISTORY_CAP, 100.0),
    )
    known = (
        per_day.select(*ENTITY, "first_day", "first_ts")
        .join(seen.select(*ENTITY, "entity_name", known_first="first_ts"), on=ENTITY)
        .filter(pl.col("known_first") < pl.col("first_ts").dt.truncate("1d"))
        .group_by(*ENTITY, "first_day")
        .agg(known=pl.col("entity_name").sort())
    )
    per_day = (
        per_day.with_columns(tail=pl.Series(tail), score=pl.Series(score))
        .join(known, on=[*ENTITY, "first_day"], how="left")
        .with_columns(
            pl.col("known").fill_null([]),
            window_start=pl.col("first_ts"),
            window_end=pl.col("last_ts"),
            observed=pl.col("new_count").cast(pl.Float64),
            baseline=pl.col("known_count").cast(pl.Float64),
        )
        .join(ctx.profiles.labels, on=ENTITY, how="left")
    )

    def explain(r: dict[str, Any]) -> str:
        note = f" Sensitive: {listed(r['sensitive'])}." if r["sensitive"] else ""
        if r["undeclared"]:
            note += f" Not in the objects declared for {r['declared']}: {listed(r['undeclared'])}."
        return (
            f"touched {r['new_count']} object(s) it never used in {r['history_days']} days of history: "
            f"{listed(r['parts'], 6)}; {r['share']:.0%} of its calls that day. Before, it used {len(r['known'])} "
            f"({listed(r['known'], 8)}) and met {r['novelty_rate']:.2f} new objects a day: {one_in(r['tail'])}.{note}"
        )

    return emit(
        per_day,
        "new_object_access",
        FAMILY,
        explain,
        lambda r: {
            "entities": r["objects"],
            "known_entities": r["known"][:30],
            "ips": r["ips"],
            "counts": {"calls": r["calls"], "objects": r["new_count"], "share": round(r["share"] or 0, 3)},
        },
    )


def fan_out(ctx: DetectorContext, p: FanOut) -> list[Finding]:
    """A day whose busiest hour touched far more distinct objects than any hour of the entity's
    previous 28 days."""
    days = ctx.profiles.daily.filter(
        ctx.judged()
        & (pl.col("peak_objects") >= p.min_objects)
        & (pl.col("history_days") >= p.min_history_days)
        & pl.col("past_peak_objects").is_not_null()
        & (pl.col("peak_objects") >= p.min_ratio * pl.col("past_peak_objects").clip(lower_bound=1))
    )
    if days.is_empty():
        return []
    hourly = ctx.profiles.hourly.join(days.select(*ENTITY, "day", "peak_objects"), on=[*ENTITY, "day"])
    hourly = (
        hourly.filter(pl.col("objects") == pl.col("peak_objects"))
        .sort("hour")
        .unique([*ENTITY, "day"], keep="first")
    )
    names = (
        ctx.entity_activity.join(hourly.select(*ENTITY, "hour"), on=[*ENTITY, "hour"])
        .group_by(*ENTITY, "hour")
        .agg(names=pl.col("entity_name").drop_nulls().unique().sort())
    )
    days = days.join(hourly.select(*ENTITY, "day", "hour"), on=[*ENTITY, "day"]).join(
        names, on=[*ENTITY, "hour"]
    )
    ratio = days["peak_objects"].to_numpy() / np.maximum(days["past_peak_objects"].to_numpy(), 1)
    days = days.with_columns(
        ratio=pl.Series(ratio),
        score=pl.Series(scoring.bounded(25 + 15 * np.log2(ratio), scoring.ratio_cap(ratio * 1.5))),
        window_start=pl.col("hour"),
        window_end=pl.col("hour") + pl.duration(hours=1),
        observed=pl.col("peak_objects").cast(pl.Float64),
        baseline=pl.col("past_peak_objects"),
    )
    return emit(
        days,
        "fan_out",
        FAMILY,
        lambda r: (
            f"touched {r['peak_objects']} distinct objects in the hour from {r['hour']:%Y-%m-%d %H:00} UTC "
            f"({listed(r['names'], 10)}); no hour of its previous 28 days touched more than {fmt(r['past_peak_objects'])}."
        ),
        lambda r: {
            "entities": r["names"],
            "counts": {"objects": r["peak_objects"], "previous_max": r["past_peak_objects"]},
        },
    )


DETECTORS = [
    Detector("new_object_access", FAMILY, new_object_access, "objects never touched before", NewObjectAccess),
    Detector("fan_out", FAMILY, fan_out, "far more distinct objects per hour than usual", FanOut),
]
