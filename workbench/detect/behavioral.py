"""Behaviour: objects an integration never touched, and unusual fan-out per hour."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from workbench.detect.base import DetectorContext, Finding, confidence, fmt, moment, per_entity

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


def new_object_access(ctx: DetectorContext) -> list[Finding]:
    """Per entity and day: the objects it read or wrote for the first time, weighed by how
    sensitive they are and whether the catalog allows them."""
    p = ctx.params("new_object_access")
    frame = ctx.entity_activity.filter(pl.col("entity_name").is_not_null())
    pairs = frame.group_by("org_id", "entity_type", "entity_id", "entity_label", "entity_name").agg(
        first_ts=pl.col("first_ts").min()
    )
    entity_first = frame.group_by("org_id", "entity_type", "entity_id").agg(
        entity_first=pl.col("first_ts").min()
    )
    fresh = pairs.join(entity_first, on=["org_id", "entity_type", "entity_id"]).filter(
        (pl.col("first_ts") >= ctx.window_start) & (pl.col("first_ts") < ctx.window_end)
    )
    findings: list[Finding] = []
    if fresh.is_empty():
        return findings
    fresh = fresh.with_columns(day=pl.col("first_ts").dt.date())
    for (org, etype, eid, label, day), group in fresh.partition_by(
        ["org_id", "entity_type", "entity_id", "entity_label", "day"], as_dict=True
    ).items():
        history = (moment(group["first_ts"].min()) - moment(group["entity_first"].min())).days
        if history < 1:
            continue  # the entity's first day: every object is new
        objects = group["entity_name"].to_list()
        usage = frame.filter(
            (pl.col("org_id") == org) & (pl.col("entity_id") == eid) & pl.col("entity_name").is_in(objects)
            & (pl.col("day") == day)
        ).group_by("entity_name").agg(
            calls=pl.col("calls").sum(),
            writes=pl.col("calls").filter(pl.col("http_method").is_in(WRITE_METHODS)).sum(),
            bulk=pl.col("calls").filter(pl.col("api_family") == "Bulk").sum(),
            ips=pl.col("ip").drop_nulls().unique(), start=pl.col("first_ts").min(), end=pl.col("last_ts").max(),
        ).filter(pl.col("calls") >= p["min_calls"]).sort("calls", descending=True)  # fmt: skip
        if usage.is_empty():
            continue
        known = (
            frame.filter((pl.col("org_id") == org) & (pl.col("entity_id") == eid) & (pl.col("day") < day))
            ["entity_name"].unique().sort().to_list()
        )  # fmt: skip
        entry = ctx.catalog(etype, eid)
        touched = usage["entity_name"].to_list()
        sensitive = [o for o in touched if ctx.settings.is_sensitive(o)]
        undeclared = [
            o
            for o in touched
            if entry and entry.allowed_objects is not None and o not in entry.allowed_objects
        ]
        score = (
            45 + (20 if sensitive else 0) + (15 if undeclared else 0) + (10 if usage["bulk"].sum() else 0)
            + (5 if usage["writes"].sum() else 0) + min(10, len(touched) * 3)
        ) * confidence(history)  # fmt: skip
        parts = [
            f"{o} ({fmt(c)} calls{', ' + fmt(w) + ' writes' if w else ''}{', bulk' if b else ''})"
            for o, c, w, b in usage.select("entity_name", "calls", "writes", "bulk").rows()
        ]
        note = f" Sensitive: {', '.join(sensitive)}." if sensitive else ""
        if undeclared and entry:
            note += f" Not in the objects declared for {entry.name}: {', '.join(undeclared)}."
        if history < p["min_history_days"]:
            score, note = min(score, 39), note + f" Only {history} days of history: low confidence."
        ips = sorted({ip for row in usage["ips"].to_list() for ip in row})
        findings.append(
            Finding(
                "new_object_access", "behavioral", org, etype, eid, label, moment(usage["start"].min()),
                moment(usage["end"].max()),
                score,
                f"touched {len(touched)} object(s) it never used in {history} days of history: "
                f"{'; '.join(parts)}. Before, it used {len(known)}: {', '.join(known[:8])}.{note}",
                observed=len(touched), baseline=len(known),
                evidence={"entities": touched, "known_entities": known, "ips": ips,
                          "counts": {"calls": int(usage["calls"].sum()), "objects": len(touched)}},
            )
        )  # fmt: skip
    return findings


def fan_out(ctx: DetectorContext) -> list[Finding]:
    """An app-hour touching far more distinct objects or users than the entity ever does."""
    p = ctx.params("fan_out")
    hourly = ctx.entity_activity.group_by("org_id", "entity_type", "entity_id", "entity_label", "hour").agg(
        objects=pl.col("entity_name").drop_nulls().n_unique(),
        users=pl.col("user_id").drop_nulls().n_unique(),
        names=pl.col("entity_name").drop_nulls().unique().sort(),
    )
    findings = []
    for (org, etype, eid, label), group in per_entity(hourly.sort("hour")):
        hours = group["hour"].to_list()
        objects = np.asarray(group["objects"].to_list(), dtype=float)
        for index, hour in enumerate(hours):
            if not ctx.in_window(hour) or objects[index] < p["min_objects"]:
                continue
            start = hour - timedelta(days=p["baseline_days"])
            past = [i for i, h in enumerate(hours) if start <= h < hour]
            days_back = len({hours[i].date() for i in past})
            if days_back < p["min_history_days"]:
                continue
            usual = float(np.percentile(objects[past], 95))
            if objects[index] < p["min_ratio"] * max(usual, 1.0):
                continue
            findings.append(
                Finding(
                    "fan_out", "behavioral", org, etype, eid, label, hour, hour + timedelta(hours=1),
                    (40 + 10 * objects[index] / max(usual, 1.0)) * confidence(days_back),
                    f"touched {fmt(objects[index])} distinct objects in the hour from {hour:%Y-%m-%d %H:00} UTC "
                    f"({', '.join(group['names'][index][:10])}); its 95th-percentile hour over {days_back} days "
                    f"touched {fmt(usual)}.",
                    observed=objects[index], baseline=usual,
                    evidence={"entities": group["names"][index].to_list(),
                              "counts": {"objects": objects[index], "p95": usual}},
                )
            )  # fmt: skip
    return findings
