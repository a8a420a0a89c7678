"""Geography and identity: new IPs, countries and networks, new connected apps, new users
acting through an app, anonymizers, calls outside declared egress, impossible travel.

"Seen before" sets per connected app, with a minimum activity so one stray request is not an
alert. The enrichment-based checks read ip_info and stay silent until `workbench enrich` ran.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import polars as pl

from workbench.detect.base import DetectorContext, Finding, fmt, moment, per_entity


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


# Enrichment-based checks: they stay silent until `workbench enrich` has filled ip_info.

FLAG_WEIGHTS = {"is_tor": ("Tor exit", 80), "is_proxy": ("public proxy", 70), "is_vpn": ("VPN", 60),
                "is_hosting": ("hosting provider", 50)}  # fmt: skip


def describe_ip(info: dict[str, Any]) -> str:
    """'Berlin, DE, AS60729 Stiftung Erneuerbare Freiheit, Tor exit' for one ip_info row."""
    parts = [p for p in (info.get("city"), info.get("country_code")) if p]
    if info.get("asn"):
        parts.append(f"AS{info['asn']} {info.get('as_org') or ''}".strip())
    parts += [label for flag, (label, _) in FLAG_WEIGHTS.items() if info.get(flag)]
    return ", ".join(parts) or info.get("kind", "unknown")


def _with_ip_info(ctx: DetectorContext) -> pl.DataFrame:
    if ctx.ip_info.is_empty():
        return pl.DataFrame()
    return ctx.entity_activity.join(ctx.ip_info, on="ip", how="inner")


def _new_network_value(ctx: DetectorContext, detector: str, column: str, what: str) -> list[Finding]:
    """An app seen from a country (or ASN) it never used: its egress is normally stable."""
    p = ctx.params(detector)
    frame = _with_ip_info(ctx)
    if frame.is_empty():
        return []
    apps = frame.filter((pl.col("entity_type") == "connected_app") & pl.col(column).is_not_null())
    window = (pl.col("hour") >= ctx.window_start) & (pl.col("hour") < ctx.window_end)
    pairs = apps.group_by("org_id", "entity_id", "entity_label", column).agg(
        first_ts=pl.col("first_ts").min(), last_ts=pl.col("last_ts").max(),
        window_calls=pl.col("calls").filter(window).sum(), ips=pl.col("ip").filter(window).unique().sort(),
        label=pl.col("as_org" if column == "asn" else "country").first(),
    ).join(_app_history(ctx), on=["org_id", "entity_id"])  # fmt: skip
    findings = []
    for row in pairs.iter_rows(named=True):
        if not ctx.in_window(row["first_ts"]) or row["window_calls"] < p["min_calls"]:
            continue
        history = (row["first_ts"] - row["app_first"]).days
        if history < 1:
            continue
        known = pairs.filter(
            (pl.col("org_id") == row["org_id"]) & (pl.col("entity_id") == row["entity_id"])
            & (pl.col("first_ts") < row["first_ts"])
        )  # fmt: skip
        names = [
            f"{'AS' if column == 'asn' else ''}{v} {lab or ''}".strip()
            for v, lab in known.select(column, "label").rows()
        ]
        value = f"{'AS' if column == 'asn' else ''}{row[column]} {row['label'] or ''}".strip()
        stable = known.height <= (3 if column == "asn" else 2)
        score = (65 if column == "asn" else 60) + (15 if stable else 0) + min(10, row["window_calls"] / 20)
        note = ""
        if history < 7:
            score, note = min(score, 39), f" Only {history} days of history: low confidence."
        findings.append(
            Finding(
                detector, "geo_identity", row["org_id"], "connected_app", row["entity_id"], row["entity_label"],
                row["first_ts"], row["last_ts"], score,
                f"called from a new {what}, {value}: {fmt(row['window_calls'])} calls from "
                f"{', '.join(row['ips'][:5])} starting {row['first_ts']:%Y-%m-%d %H:%M} UTC; in {history} days "
                f"before it used {known.height}: {', '.join(names[:5]) or 'none'}.{note}",
                observed=row["window_calls"], baseline=known.height,
                evidence={"ips": row["ips"], "counts": {"calls": row["window_calls"]}, column: [str(row[column])]},
            )
        )  # fmt: skip
    return findings


def new_country(ctx: DetectorContext) -> list[Finding]:
    """A connected app calling from a country it never called from."""
    return _new_network_value(ctx, "new_country", "country_code", "country")


def new_asn(ctx: DetectorContext) -> list[Finding]:
    """A connected app calling from a network (ASN) it never used: a strong signal, since an
    integration's egress network is stable."""
    return _new_network_value(ctx, "new_asn", "asn", "network")


def anonymizer_ip(ctx: DetectorContext) -> list[Finding]:
    """Calls or logins from Tor exits, VPNs and public proxies (and hosting networks new to the
    entity), outside the enterprise allowlist; severity by type and volume."""
    p = ctx.params("anonymizer_ip")
    if ctx.ip_info.is_empty():
        return []
    flagged = ctx.ip_info.filter(
        (pl.col("is_tor") | pl.col("is_vpn") | pl.col("is_proxy") | pl.col("is_hosting"))
        & (pl.col("allowlists").list.len() == 0)
    )
    usage = ctx.auth.join(flagged, on="ip", how="inner").filter(
        (pl.col("hour") >= ctx.window_start) & (pl.col("hour") < ctx.window_end)
    )
    if usage.is_empty():
        return []
    usage = usage.with_columns(day=pl.col("hour").dt.date())
    findings = []
    for (org, user, day), group in usage.partition_by(["org_id", "user_id", "day"], as_dict=True).items():
        lines, top = [], 0
        for info in group.group_by("ip").agg(
            pl.col("calls").sum(), pl.col("hour").min().alias("start"), pl.col("hour").max().alias("end"),
            *(pl.col(c).first() for c in ("city", "country_code", "asn", "as_org", "is_tor", "is_vpn", "is_proxy",
                                          "is_hosting", "kind")),
        ).sort("calls", descending=True).iter_rows(named=True):  # fmt: skip
            weight = max((w for flag, (_, w) in FLAG_WEIGHTS.items() if info[flag]), default=0)
            # Integrations run in clouds: a hosting network matters only when the user has history
            # and that network is new to it.
            if weight == 50:
                earlier = _asns_before(ctx, org, user, moment(group["hour"].min()))
                if earlier is None or info["asn"] in earlier:
                    continue
            if info["calls"] < p["min_calls"]:
                continue
            top = max(top, weight + min(10, info["calls"] // 10))
            lines.append((info, weight))
        if not lines:
            continue
        etype, eid, label = ctx.actor(org, user, str(group["user_name"].drop_nulls().first() or ""))
        start = min(i["start"] for i, _ in lines)
        end = max(i["end"] for i, _ in lines) + timedelta(hours=1)
        parts = [f"{i['ip']} ({describe_ip(i)}; {fmt(i['calls'])} events)" for i, _ in lines[:5]]
        findings.append(
            Finding(
                "anonymizer_ip", "geo_identity", org, etype, eid, label, start, end, top,
                f"was used from anonymizing or hosting networks on {day}: {'; '.join(parts)}.",
                observed=sum(i["calls"] for i, _ in lines), baseline=0,
                evidence={"ips": [i["ip"] for i, _ in lines], "counts": {"events": sum(i["calls"] for i, _ in lines)}},
            )
        )  # fmt: skip
    return findings


def _asns_before(ctx: DetectorContext, org: str, user: str, before: Any) -> set[int] | None:
    """The networks (ASNs) a user's traffic came from before a moment; None without history."""
    earlier = ctx.auth.filter(
        (pl.col("org_id") == org) & (pl.col("user_id") == user) & (pl.col("hour") < before)
    )
    if earlier.is_empty():
        return None
    return set(earlier.join(ctx.ip_info.select("ip", "asn"), on="ip")["asn"].drop_nulls().to_list())


def non_allowlisted_ip(ctx: DetectorContext) -> list[Finding]:
    """An app with declared egress ranges (catalog) calling from outside them."""
    p = ctx.params("non_allowlisted_ip")
    findings: list[Finding] = []
    apps = ctx.entity_activity.filter(
        (pl.col("entity_type") == "connected_app") & (pl.col("hour") >= ctx.window_start)
        & (pl.col("hour") < ctx.window_end) & pl.col("ip").is_not_null()
    )  # fmt: skip
    info = {r["ip"]: r for r in ctx.ip_info.iter_rows(named=True)} if not ctx.ip_info.is_empty() else {}
    for (org, eid, label, day), group in apps.partition_by(
        ["org_id", "entity_id", "entity_label", "day"], as_dict=True
    ).items():
        entry = ctx.catalog("connected_app", eid)
        if not entry or not entry.egress_cidrs:
            continue
        per_ip = group.group_by("ip").agg(calls=pl.col("calls").sum(), start=pl.col("first_ts").min(),
                                          end=pl.col("last_ts").max())  # fmt: skip
        outside_ips = [ip for ip in per_ip["ip"].to_list() if entry.egress_allows(ip) is False]
        outside = per_ip.filter(pl.col("ip").is_in(outside_ips))
        if outside.is_empty() or outside["calls"].sum() < p["min_calls"]:
            continue
        calls = int(outside["calls"].sum())
        described = [
            f"{ip} ({describe_ip(info[ip])})" if ip in info else ip for ip in outside["ip"].sort().to_list()
        ]
        cidrs = ", ".join(str(c) for c in entry.egress_cidrs)
        findings.append(
            Finding(
                "non_allowlisted_ip", "geo_identity", org, "connected_app", eid, label,
                moment(outside["start"].min()), moment(outside["end"].max()), 70 + min(15, calls / 10),
                f"made {fmt(calls)} calls on {day} from outside the egress ranges declared for {entry.name} "
                f"({cidrs}): {', '.join(described[:5])}.",
                observed=calls, baseline=0,
                evidence={"ips": outside["ip"].sort().to_list(), "counts": {"calls": calls}},
            )
        )  # fmt: skip
    return findings


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    from math import asin, cos, radians, sin, sqrt

    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    a = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * 6371.0 * asin(sqrt(a))


def impossible_geography(ctx: DetectorContext) -> list[Finding]:
    """The same app from places farther apart than travel allows in the time between calls
    (skipped where the databases' accuracy radius makes the distance meaningless)."""
    p = ctx.params("impossible_geography")
    frame = _with_ip_info(ctx)
    if frame.is_empty():
        return []
    located = frame.filter(
        pl.col("latitude").is_not_null() & (pl.col("accuracy_km").fill_null(0) <= p["max_accuracy_km"])
    )
    segments = located.group_by("org_id", "entity_type", "entity_id", "entity_label", "ip", "hour").agg(
        start=pl.col("first_ts").min(), end=pl.col("last_ts").max(), calls=pl.col("calls").sum(),
        lat=pl.col("latitude").first(), lon=pl.col("longitude").first(), acc=pl.col("accuracy_km").first(),
        place=pl.col("city").first(), country=pl.col("country_code").first(),
    ).sort("start")  # fmt: skip
    findings = []
    for (org, etype, eid, label), group in per_entity(segments):
        rows = group.to_dicts()
        reported_days: set[Any] = set()
        for prev, cur in itertools.pairwise(rows):
            if (
                prev["ip"] == cur["ip"]
                or not ctx.in_window(cur["start"])
                or cur["start"].date() in reported_days
            ):
                continue
            distance = _distance_km(prev["lat"], prev["lon"], cur["lat"], cur["lon"])
            slack = (prev["acc"] or 0) + (cur["acc"] or 0)
            hours = max((cur["start"] - prev["end"]).total_seconds() / 3600, 1 / 60)
            if distance - slack < 500 or (distance - slack) / hours <= p["max_kmh"]:
                continue
            reported_days.add(cur["start"].date())
            speed = (distance - slack) / hours
            findings.append(
                Finding(
                    "impossible_geography", "geo_identity", org, etype, eid, label, prev["end"], cur["start"],
                    65 + min(20, speed / 1000),
                    f"called from {prev['place'] or '?'}, {prev['country'] or '?'} ({prev['ip']}) at "
                    f"{prev['end']:%Y-%m-%d %H:%M} and from {cur['place'] or '?'}, {cur['country'] or '?'} "
                    f"({cur['ip']}) at {cur['start']:%H:%M} UTC: {fmt(distance)} km in {hours:.1f} hours "
                    f"({fmt(speed)} km/h beyond the {fmt(slack)} km accuracy margin).",
                    observed=speed, baseline=p["max_kmh"],
                    evidence={"ips": [prev["ip"], cur["ip"]], "counts": {"distance_km": round(distance),
                              "hours": round(hours, 2)}},
                )
            )  # fmt: skip
    return findings
