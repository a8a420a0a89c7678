"""Geography and identity: new IPs, new connected apps, new users acting through an app.

"Seen before" sets per connected app, with a minimum activity so one stray request is not an
alert. Enrichment-based checks (country, ASN, anonymizers) join the same registry later.
"""

from __future__ import annotations

import polars as pl

from workbench.detect.base import DetectorContext, Finding, fmt


def _first_seen(ctx: DetectorContext, keys: list[str]) -> pl.DataFrame:
    """Per org, app and KEYS: first/last seen, calls in the window and objects touched."""
    apps = ctx.entity_activity.filter(pl.col("entity_type") == "connected_app")
    window = (pl.col("hour") >= ctx.window_start) & (pl.col("hour") < ctx.window_end)
    return apps.group_by("org_id", "entity_id", "entity_label", *keys).agg(
        first_ts=pl.col("first_ts").min(),
        last_ts=pl.col("last_ts").max(),
        window_calls=pl.col("calls").filter(window).sum(),
        objects=pl.col("entity_name").filter(window).drop_nulls().unique().sort(),
        ips=pl.col("ip").filter(window).drop_nulls().unique().sort(),
        users=pl.col("user_name").filter(window).drop_nulls().unique().sort(),
    )


def _app_history(ctx: DetectorContext) -> pl.DataFrame:
    apps = ctx.entity_activity.filter(pl.col("entity_type") == "connected_app")
    return apps.group_by("org_id", "entity_id").agg(
        app_first=pl.col("first_ts").min(), known_ips=pl.col("ip").n_unique()
    )


def new_ip(ctx: DetectorContext) -> list[Finding]:
    """A connected app calling from an address it never used before."""
    p = ctx.params("new_ip")
    pairs = _first_seen(ctx, ["ip"]).join(_app_history(ctx), on=["org_id", "entity_id"])
    findings = []
    for row in pairs.filter(pl.col("ip").is_not_null()).iter_rows(named=True):
        if not ctx.in_window(row["first_ts"]) or row["window_calls"] < p["min_calls"]:
            continue
        history = (row["first_ts"] - row["app_first"]).days
        if history < 1:
            continue  # the app's first day: everything is new
        earlier = pairs.filter(
            (pl.col("org_id") == row["org_id"])
            & (pl.col("entity_id") == row["entity_id"])
            & (pl.col("first_ts") < row["first_ts"])
        )
        known = earlier["ip"].drop_nulls().to_list()
        stable = len(known) <= 5
        entry = ctx.catalog("connected_app", row["entity_id"])
        allowed = entry.egress_allows(row["ip"]) if entry else None
        score = (
            50 + (15 if stable else 0) + (15 if allowed is False else 0) + min(10, row["window_calls"] / 20)
        )
        egress = (
            f" It is outside the declared egress ranges of {entry.name}."
            if allowed is False and entry
            else ""
        )
        if history < p["min_history_days"]:
            score, egress = min(score, 39), egress + f" Only {history} days of history: low confidence."
        findings.append(
            Finding(
                "new_ip", "geo_identity", row["org_id"], "connected_app", row["entity_id"], row["entity_label"],
                row["first_ts"], row["last_ts"], score,
                f"called from {row['ip']} for the first time ({fmt(row['window_calls'])} calls from "
                f"{row['first_ts']:%Y-%m-%d %H:%M} to {row['last_ts']:%Y-%m-%d %H:%M} UTC, objects: "
                f"{', '.join(row['objects']) or 'none'}); in {history} days before it used "
                f"{len(known)} address(es): {', '.join(sorted(known)[:5])}.{egress}",
                observed=row["window_calls"], baseline=len(known),
                evidence={"ips": [row["ip"]], "known_ips": sorted(known)[:20], "entities": row["objects"],
                          "users": row["users"], "counts": {"calls": row["window_calls"]}},
            )
        )  # fmt: skip
    return findings


def new_connected_app(ctx: DetectorContext) -> list[Finding]:
    """A connected app never seen before in an org with history."""
    p = ctx.params("new_connected_app")
    apps = _first_seen(ctx, [])
    org_first = ctx.activity.group_by("org_id").agg(org_first=pl.col("first_ts").min())
    findings = []
    for row in apps.join(org_first, on="org_id").iter_rows(named=True):
        history = (row["first_ts"] - row["org_first"]).days
        if not ctx.in_window(row["first_ts"]) or history < p["min_history_days"]:
            continue
        if row["window_calls"] < p["min_calls"]:
            continue
        declared = ctx.catalog("connected_app", row["entity_id"])
        score = 40 if declared else 60 + min(20, row["window_calls"] / 100)
        findings.append(
            Finding(
                "new_connected_app", "geo_identity", row["org_id"], "connected_app", row["entity_id"],
                row["entity_label"], row["first_ts"], row["last_ts"], score,
                f"first appeared on {row['first_ts']:%Y-%m-%d %H:%M} UTC after {history} days of org history, "
                f"with {fmt(row['window_calls'])} calls by {', '.join(row['users']) or 'unknown users'} from "
                f"{', '.join(row['ips'][:5])} on {', '.join(row['objects'][:8]) or 'no object'}"
                + (f"; it is declared in the catalog as {declared.name}." if declared else "; it is not in the catalog."),
                observed=row["window_calls"], baseline=0,
                evidence={"ips": row["ips"], "users": row["users"], "entities": row["objects"],
                          "counts": {"calls": row["window_calls"]}},
            )
        )  # fmt: skip
    return findings


def new_user_for_app(ctx: DetectorContext) -> list[Finding]:
    """A user acting through a connected app for the first time."""
    p = ctx.params("new_user_for_app")
    pairs = _first_seen(ctx, ["user_id"]).join(_app_history(ctx), on=["org_id", "entity_id"])
    findings = []
    for row in pairs.filter(pl.col("user_id").is_not_null()).iter_rows(named=True):
        history = (row["first_ts"] - row["app_first"]).days
        if not ctx.in_window(row["first_ts"]) or history < p["min_history_days"]:
            continue
        if row["window_calls"] < p["min_calls"]:
            continue
        earlier = pairs.filter(
            (pl.col("org_id") == row["org_id"])
            & (pl.col("entity_id") == row["entity_id"])
            & (pl.col("first_ts") < row["first_ts"])
        )
        user = (row["users"] or [row["user_id"]])[0]
        findings.append(
            Finding(
                "new_user_for_app", "geo_identity", row["org_id"], "connected_app", row["entity_id"],
                row["entity_label"], row["first_ts"], row["last_ts"], 55 + min(15, row["window_calls"] / 50),
                f"was used by {user} ({row['user_id']}) for the first time: {fmt(row['window_calls'])} calls "
                f"from {', '.join(row['ips'][:5])}; in {history} days before it was used by "
                f"{earlier.height} other user(s).",
                observed=row["window_calls"], baseline=earlier.height,
                evidence={"users": [user], "ips": row["ips"], "entities": row["objects"],
                          "counts": {"calls": row["window_calls"]}},
            )
        )  # fmt: skip
    return findings
