"""Errors: error-rate jumps, bursts of authentication failures, failures then success."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from workbench.detect.base import (
    DetectorContext,
    Finding,
    confidence,
    day_start,
    fmt,
    moment,
    number,
    per_entity,
)


def error_rate_jump(ctx: DetectorContext) -> list[Finding]:
    """A day whose error share is at least 10 points above the entity's baseline share."""
    p = ctx.params("error_rate_jump")
    findings = []
    for (org, etype, eid, label), group in per_entity(ctx.daily):
        rows = group.select("day", "calls", "errors").rows()
        for day, calls, errors in rows:
            if not ctx.in_window(day) or calls < p["min_calls"]:
                continue
            past = [(c, e) for d, c, e in rows if day - timedelta(days=p["baseline_days"]) <= d < day]
            if len(past) < 5:
                continue
            base_calls = sum(c for c, _ in past)
            baseline = 100.0 * sum(e for _, e in past) / max(base_calls, 1)
            share = 100.0 * errors / calls
            jump = share - baseline
            if jump < p["min_jump_points"]:
                continue
            findings.append(
                Finding(
                    "error_rate_jump", "error", org, etype, eid, label, day_start(day),
                    day_start(day) + timedelta(days=1), (40 + min(40, jump)) * confidence(len(past)),
                    f"had {share:.1f}% errors on {day} ({fmt(errors)} of {fmt(calls)} calls) against "
                    f"{baseline:.1f}% over the previous {len(past)} active days: +{jump:.1f} points.",
                    observed=share, baseline=baseline,
                    evidence={"counts": {"errors": errors, "calls": calls}},
                )
            )  # fmt: skip
    return findings


def auth_failure_burst(ctx: DetectorContext) -> list[Finding]:
    """An hour with many failed logins or 401/403 responses for one user or from one address."""
    p = ctx.params("auth_failure_burst")
    findings = []
    failures = ctx.auth.filter(pl.col("failures") > 0)
    for key, kind in (("user_id", "user"), ("ip", "ip")):
        hourly = failures.group_by("org_id", key, "hour").agg(
            failures=pl.col("failures").sum(), users=pl.col("user_name").drop_nulls().unique(),
            ips=pl.col("ip").drop_nulls().unique(),
        ).sort("hour")  # fmt: skip
        for row in hourly.iter_rows(named=True):
            if row[key] is None or not ctx.in_window(row["hour"]) or row["failures"] < p["min_failures"]:
                continue
            past = hourly.filter(
                (pl.col("org_id") == row["org_id"])
                & (pl.col(key) == row[key])
                & (pl.col("hour") < row["hour"])
                & (pl.col("hour") >= row["hour"] - timedelta(days=p["baseline_days"]))
            )
            usual = int(number(past["failures"].max()))
            if row["failures"] < 3 * max(usual, 1):
                continue
            if kind == "user":
                etype, eid, label = ctx.actor(row["org_id"], row[key], (row["users"] or [None])[0])
            else:
                etype, eid, label = "ip", row[key], row[key]
            findings.append(
                Finding(
                    "auth_failure_burst", "error", row["org_id"], etype, eid, label, row["hour"],
                    row["hour"] + timedelta(hours=1), 50 + min(35, row["failures"] / 2),
                    f"had {fmt(row['failures'])} authentication failures in the hour from "
                    f"{row['hour']:%Y-%m-%d %H:00} UTC (users: {', '.join(row['users'][:5]) or 'unknown'}; "
                    f"addresses: {', '.join(row['ips'][:5]) or 'unknown'}); its worst hour in the previous "
                    f"{p['baseline_days']} days had {fmt(usual)}.",
                    observed=row["failures"], baseline=usual,
                    evidence={"users": row["users"], "ips": row["ips"], "counts": {"failures": row["failures"]}},
                )
            )  # fmt: skip
    return findings


def probe_then_success(ctx: DetectorContext) -> list[Finding]:
    """Several authentication failures, then a successful login from the same address or for the
    same user within 30 minutes: guessing or token probing that worked."""
    p = ctx.params("probe_then_success")
    rows = ctx.raw("auth_failures_then_success")
    findings: list[Finding] = []
    if rows.is_empty():
        return findings
    window = timedelta(minutes=p["window_minutes"])
    failures = rows.filter(~pl.col("success"))
    seen: set[tuple[str, str, str]] = set()
    for success in rows.filter(pl.col("success")).sort("ts").iter_rows(named=True):
        if not ctx.in_window(success["ts"]):
            continue
        for key in ("ip", "user15"):
            if success[key] is None:
                continue
            before = failures.filter(
                (pl.col("org_id") == success["org_id"])
                & (pl.col(key) == success[key])
                & (pl.col("ts") < success["ts"])
                & (pl.col("ts") >= success["ts"] - window)
            )
            if before.height < p["min_failures"]:
                continue
            marker = (success["org_id"], key, success[key])
            if marker in seen:
                continue
            seen.add(marker)
            etype, eid, label = ctx.actor(success["org_id"], success["user15"], success["user_name"])
            first = moment(before["ts"].min())
            same = (
                "address " + success["ip"]
                if key == "ip"
                else "user " + (success["user_name"] or success["user15"])
            )
            findings.append(
                Finding(
                    "probe_then_success", "error", success["org_id"], etype, eid, label, first, success["ts"],
                    55 + min(35, before.height * 3),
                    f"{before.height} authentication failures from the same {same} between "
                    f"{first:%H:%M} and {success['ts']:%H:%M} UTC on {success['ts']:%Y-%m-%d}, then a "
                    f"successful login by {success['user_name'] or success['user15']} from {success['ip']}.",
                    observed=before.height, baseline=0,
                    evidence={"request_ids": [*before["request_id"].to_list()[:10], success["request_id"]],
                              "ips": sorted(set(before["ip"].drop_nulls().to_list()) | {success["ip"]}),
                              "users": sorted(set(before["user_name"].drop_nulls().to_list())),
                              "counts": {"failures": before.height}},
                )
            )  # fmt: skip
    return findings
