"""Geography and identity: new addresses, networks and countries, new connected apps (and
look-alikes of known ones), new users acting through an app, anonymizers, calls outside declared
egress, impossible travel.

A new value is weighed by how often the entity meets new values (its novelty rate: new values per
day of history, from profiles.first_seen), how many new values the day brought (a Poisson tail on
that rate), how much of the day's activity they carry, and how far they are from what is known:
the same /24 (or /48) or the same ASN as a known address is a small step. The enrichment-based
checks read ip_info and stay silent until `workbench enrich` ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.detect import scoring
from workbench.detect.base import Detector, DetectorContext, Finding, emit, fmt, listed, one_in
from workbench.detect.profiles import ENTITY, network_of

FAMILY = "geo_identity"


@dataclass(frozen=True)
class NewValue:
    """A value (address, user, country, ASN) new to an entity: how much activity it needs and
    how much history makes 'new' meaningful."""

    min_calls: int = 5
    min_history_days: int = 7


@dataclass(frozen=True)
class NewConnectedApp:
    min_calls: int = 20
    min_history_days: int = 7


@dataclass(frozen=True)
class AnonymizerIp:
    min_calls: int = 1


@dataclass(frozen=True)
class NonAllowlistedIp:
    min_calls: int = 3


@dataclass(frozen=True)
class ImpossibleGeography:
    max_kmh: float = 1000.0
    max_accuracy_km: float = 1000.0


FLAG_WEIGHTS = {
    "is_tor": ("Tor exit", 80),
    "is_proxy": ("public proxy", 70),
    "is_vpn": ("VPN", 60),
    "is_hosting": ("hosting provider", 50),
}


def describe_ip(info: dict[str, Any]) -> str:
    """'Berlin, DE, AS60729 Stiftung Erneuerbare Freiheit, Tor exit' for one ip_info row."""
    parts = [p for p in (info.get("city"), info.get("country_code")) if p]
    if info.get("asn"):
        parts.append(f"AS{info['asn']} {info.get('as_org') or ''}".strip())
    parts += [label for flag, (label, _) in FLAG_WEIGHTS.items() if info.get(flag)]
    return ", ".join(parts) or info.get("kind", "unknown")


def _apps(ctx: DetectorContext) -> pl.DataFrame:
    return ctx.app_activity


def _apps_seen(ctx: DetectorContext) -> pl.DataFrame:
    """The apps' activity plus their LoginHistory logins (orgs without Login event logs): where
    they were seen from, for the address, country and network checks."""
    return ctx.app_presence


def _new_values_per_day(
    ctx: DetectorContext, frame: pl.DataFrame, value: str, min_calls: int, min_history_days: int
) -> pl.DataFrame:
    """Per entity and judged day: the values first seen that day (with the calls they carried),
    the entity's novelty rate before, and the Poisson tail of meeting that many new values."""
    seen = ctx.profiles.first_seen(value, frame)
    fresh = seen.filter(ctx.judged("first_ts") & (pl.col("history_days") >= 1))
    if fresh.is_empty():
        return pl.DataFrame()
    usage = (
        frame.join(fresh.select(*ENTITY, value, "first_day"), on=[*ENTITY, value])
        .filter(pl.col("day") == pl.col("first_day"))
        .group_by(*ENTITY, value)
        .agg(
            calls=pl.col("calls").sum(),
            # LoginHistory logins counted among them (see DetectorContext.entity_presence).
            logins=pl.col("calls").filter(pl.col("login")).sum() if "login" in frame.columns else pl.lit(0),
            objects=pl.col("entity_name").drop_nulls().unique().sort(),
            users=pl.col("user_name").drop_nulls().unique().sort(),
            ips=pl.col("ip").drop_nulls().unique().sort(),
        )
    )
    fresh = fresh.join(usage, on=[*ENTITY, value]).filter(pl.col("calls") >= min_calls)
    if fresh.is_empty():
        return pl.DataFrame()
    day_calls = (
        frame.group_by(*ENTITY, "day").agg(day_calls=pl.col("calls").sum()).rename({"day": "first_day"})
    )
    known = seen.select(*ENTITY, pl.col(value).alias("known"), known_first=pl.col("first_ts"))
    per_day = (
        fresh.group_by(*ENTITY, "first_day")
        .agg(
            # Most calls first; equal counts by value, so the list never depends on the joins' order.
            values=pl.col(value).sort_by(["calls", value], descending=[True, False]),
            new_calls=pl.col("calls").sum(),
            new_logins=pl.col("logins").sum(),
            first_ts=pl.col("first_ts").min(),
            last_ts=pl.col("last_ts").max(),
            novelty_rate=pl.col("novelty_rate").first(),
            history_days=pl.col("history_days").min(),
            known_before=pl.col("known_before").min(),
            objects=pl.col("objects").explode().unique().sort(),
            users=pl.col("users").explode().unique().sort(),
            ips=pl.col("ips").explode().unique().sort(),
        )
        .join(day_calls, on=[*ENTITY, "first_day"], how="left")
        .with_columns(new_count=pl.col("values").list.len(), share=pl.col("new_calls") / pl.col("day_calls"))
    )
    known_lists = (
        per_day.select(*ENTITY, "first_day", "first_ts")
        .join(known, on=ENTITY)
        .filter(pl.col("known_first") < pl.col("first_ts").dt.truncate("1d"))
        .group_by(*ENTITY, "first_day")
        .agg(known=pl.col("known").sort())
    )
    per_day = per_day.join(known_lists, on=[*ENTITY, "first_day"], how="left").with_columns(
        pl.col("known").fill_null([])
    )
    tail = scoring.poisson_tail(per_day["new_count"], per_day["novelty_rate"])
    return (
        per_day.with_columns(tail=pl.Series(tail), surprise=pl.Series(scoring.surprise(tail)))
        .filter(pl.col("history_days") >= 1)
        .with_columns(thin=pl.col("history_days") < min_history_days)
    )


def _activity(r: dict[str, Any]) -> str:
    """'1,204 calls', or '9 calls and logins, 9 of them LoginHistory logins' where logins count."""
    if not r.get("new_logins"):
        return f"{fmt(r['new_calls'])} calls"
    return f"{fmt(r['new_calls'])} calls and logins, {fmt(r['new_logins'])} of them LoginHistory logins"


def _carry_cap(share: pl.Series) -> np.ndarray:
    """How much of the day the new values carry caps the score: one stray call is not a takeover."""
    return np.interp(share.fill_null(0).to_numpy(), [0, 0.01, 0.1, 0.5, 1.0], [25, 40, 55, 68, 75])


def new_ip(ctx: DetectorContext, p: NewValue) -> list[Finding]:
    """A connected app calling from addresses it never used, weighed by how stable its
    addresses are and how far the new ones are from the known ones."""
    apps = _apps_seen(ctx)
    day = _new_values_per_day(ctx, apps, "ip", p.min_calls, p.min_history_days)
    if day.is_empty():
        return []
    known_nets = day.select(
        *ENTITY, "first_day", known_nets=pl.col("known").list.eval(network_of(pl.element()))
    )
    nets = day.select(*ENTITY, "first_day", new_nets=pl.col("values").list.eval(network_of(pl.element())))
    day = day.join(known_nets, on=[*ENTITY, "first_day"]).join(nets, on=[*ENTITY, "first_day"])
    day = day.with_columns(
        same_network=(pl.col("new_nets").list.set_difference(pl.col("known_nets")).list.len() == 0)
        & (pl.col("known").list.len() > 0)
    )
    asn_known = _same_asn(ctx, day)
    day = day.join(asn_known, on=[*ENTITY, "first_day"], how="left").with_columns(
        pl.col("same_asn").fill_null(False)
    )
    score = scoring.bounded(
        25 + 12 * day["surprise"].to_numpy(),
        _carry_cap(day["share"]),
        np.where(day["same_network"].to_numpy(), 30.0, 100.0),
        np.where(day["same_asn"].to_numpy(), 45.0, 100.0),
        np.where(day["thin"].to_numpy(), scoring.THIN_HISTORY_CAP, 100.0),
    )
    day = _catalog_egress(ctx, day.with_columns(score=pl.Series(score)))
    day = day.with_columns(
        window_start=pl.col("first_ts"),
        window_end=pl.col("last_ts"),
        observed=pl.col("new_calls").cast(pl.Float64),
        baseline=pl.col("known").list.len().cast(pl.Float64),
    ).join(ctx.profiles.labels, on=ENTITY, how="left")

    def explain(r: dict[str, Any]) -> str:
        step = (
            " They are in networks (/24) it already used: a small step."
            if r["same_network"]
            else (" They are in networks (ASN) it already used." if r["same_asn"] else "")
        )
        egress = f" Outside the declared egress ranges of {r['declared']}." if r["outside_egress"] else ""
        return (
            f"called from {r['new_count']} new address(es) on {r['first_day']}: {listed(r['values'])} "
            f"({_activity(r)}, {r['share']:.0%} of its day; objects: {listed(r['objects'], 6)}). In "
            f"{r['history_days']} days before it used {len(r['known'])} address(es) ({listed(r['known'], 4)}) and met "
            f"{r['novelty_rate']:.2f} new ones a day: {one_in(r['tail'])}.{step}{egress}"
        )

    return emit(
        day,
        "new_ip",
        FAMILY,
        explain,
        lambda r: {
            "ips": r["values"],
            "known_ips": r["known"][:20],
            "entities": r["objects"],
            "users": r["users"],
            "counts": {"calls": r["new_calls"], "share": round(r["share"], 3), "known_ips": len(r["known"])},
        },
    )


def _same_asn(ctx: DetectorContext, day: pl.DataFrame) -> pl.DataFrame:
    """Per entity-day: whether every new address is in an ASN the entity's known ones are in."""
    schema = {
        "org_id": pl.Utf8,
        "entity_type": pl.Utf8,
        "entity_id": pl.Utf8,
        "first_day": pl.Date,
        "same_asn": pl.Boolean,
    }
    if ctx.ip_info.is_empty():
        return pl.DataFrame(schema=schema)
    asn = ctx.ip_info.select("ip", "asn").filter(pl.col("asn").is_not_null())
    new = day.select(*ENTITY, "first_day", ip=pl.col("values")).explode("ip").join(asn, on="ip", how="left")
    old = day.select(*ENTITY, "first_day", ip=pl.col("known")).explode("ip").join(asn, on="ip", how="inner")
    old_asns = old.group_by(*ENTITY, "first_day").agg(old=pl.col("asn").unique())
    return (
        new.join(old_asns, on=[*ENTITY, "first_day"], how="left")
        .with_columns(hit=pl.col("old").list.contains(pl.col("asn")).fill_null(False))
        .group_by(*ENTITY, "first_day")
        .agg(same_asn=pl.col("hit").all())
        .cast(schema)  # type: ignore[arg-type]
    )


def _catalog_egress(ctx: DetectorContext, day: pl.DataFrame) -> pl.DataFrame:
    """Addresses outside an app's declared egress ranges raise the score."""
    outside, declared = [], []
    for etype, eid, values in day.select("entity_type", "entity_id", "values").iter_rows():
        entry = ctx.catalog(etype, eid)
        out = entry is not None and any(entry.egress_allows(ip) is False for ip in values)
        outside.append(out)
        declared.append(entry.name if entry else None)
    return day.with_columns(
        outside_egress=pl.Series(outside, dtype=pl.Boolean), declared=pl.Series(declared, dtype=pl.Utf8)
    ).with_columns(
        score=pl.when(pl.col("outside_egress")).then(pl.col("score") + 15).otherwise(pl.col("score"))
    )


def _normal_name(label: pl.Expr) -> pl.Expr:
    return label.str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")


def new_connected_app(ctx: DetectorContext, p: NewConnectedApp) -> list[Finding]:
    """A connected app never seen before in an org with history; one that copies the name of a
    known app under another id is a look-alike, much worse."""
    apps = _apps(ctx)
    if apps.is_empty():
        return []
    first = apps.group_by(ENTITY).agg(
        first_ts=pl.col("first_ts").min(),
        last_ts=pl.col("last_ts").max(),
        label=pl.col("entity_label").first(),
    )
    window = ctx.judged("hour")
    usage = (
        apps.filter(window)
        .group_by(ENTITY)
        .agg(
            window_calls=pl.col("calls").sum(),
            ips=pl.col("ip").drop_nulls().unique().sort(),
            users=pl.col("user_name").drop_nulls().unique().sort(),
            objects=pl.col("entity_name").drop_nulls().unique().sort(),
        )
    )
    org_first = ctx.activity.group_by("org_id").agg(org_first=pl.col("first_ts").min())
    fresh = (
        first.join(usage, on=ENTITY)
        .join(org_first, on="org_id")
        .with_columns(history=(pl.col("first_ts") - pl.col("org_first")).dt.total_days())
        .filter(
            ctx.judged("first_ts")
            & (pl.col("history") >= p.min_history_days)
            & (pl.col("window_calls") >= p.min_calls)
        )
    )
    if fresh.is_empty():
        return []
    earlier = first.select(
        "org_id",
        twin_id="entity_id",
        twin_label="label",
        twin_first="first_ts",
        key=_normal_name(pl.col("label")),
    )
    twins = (
        fresh.with_columns(key=_normal_name(pl.col("label")))
        .join(earlier, on=["org_id", "key"])
        .filter((pl.col("twin_id") != pl.col("entity_id")) & (pl.col("twin_first") < pl.col("first_ts")))
        .group_by(ENTITY)
        .agg(twin_id=pl.col("twin_id").first(), twin_label=pl.col("twin_label").first())
    )
    fresh = fresh.join(twins, on=ENTITY, how="left")
    declared = [ctx.catalog("connected_app", eid) is not None for eid in fresh["entity_id"]]
    fresh = fresh.with_columns(declared=pl.Series(declared, dtype=pl.Boolean)).with_columns(
        score=pl.when(pl.col("twin_id").is_not_null())
        .then(80.0)
        .when(pl.col("declared"))
        .then(35.0)
        .otherwise(55 + (pl.col("window_calls").log(10) * 3).clip(upper_bound=12)),
        entity_label=pl.col("label"),
        window_start=pl.col("first_ts"),
        window_end=pl.col("last_ts"),
        observed=pl.col("window_calls").cast(pl.Float64),
        baseline=pl.lit(0.0),
    )

    def explain(r: dict[str, Any]) -> str:
        twin = (
            f" It copies the name of the known app {r['twin_label']!r} ({r['twin_id']}) under another id: a look-alike."
            if r["twin_id"]
            else ""
        )
        catalog = "it is declared in the catalog" if r["declared"] else "it is not in the catalog"
        return (
            f"first appeared on {r['first_ts']:%Y-%m-%d %H:%M} UTC after {r['history']} days of org history, with "
            f"{fmt(r['window_calls'])} calls by {listed(r['users'])} from {listed(r['ips'])} on {listed(r['objects'], 8)}; "
            f"{catalog}.{twin}"
        )

    return emit(
        fresh,
        "new_connected_app",
        FAMILY,
        explain,
        lambda r: {
            "ips": r["ips"],
            "users": r["users"],
            "entities": r["objects"],
            "connected_apps": [r["twin_id"]] if r["twin_id"] else [],
            "counts": {"calls": r["window_calls"]},
        },
    )


def new_user_for_app(ctx: DetectorContext, p: NewValue) -> list[Finding]:
    """Users acting through a connected app for the first time, weighed by how often the app
    gains users."""
    day = _new_values_per_day(ctx, _apps(ctx), "user_id", p.min_calls, p.min_history_days)
    if day.is_empty():
        return []
    score = scoring.bounded(
        25 + 12 * day["surprise"].to_numpy(),
        _carry_cap(day["share"]),
        np.where(day["thin"].to_numpy(), scoring.THIN_HISTORY_CAP, 60.0),
    )
    day = day.with_columns(
        score=pl.Series(score),
        window_start=pl.col("first_ts"),
        window_end=pl.col("last_ts"),
        observed=pl.col("new_calls").cast(pl.Float64),
        baseline=pl.col("known").list.len().cast(pl.Float64),
    ).join(ctx.profiles.labels, on=ENTITY, how="left")
    return emit(
        day,
        "new_user_for_app",
        FAMILY,
        lambda r: (
            f"was used by {r['new_count']} new user(s) on {r['first_day']}: {listed(r['users'])} "
            f"({fmt(r['new_calls'])} calls from {listed(r['ips'])}); in {r['history_days']} days before it was "
            f"used by {len(r['known'])} user(s) and gained {r['novelty_rate']:.2f} a day: {one_in(r['tail'])}."
        ),
        lambda r: {
            "users": r["users"],
            "ips": r["ips"],
            "entities": r["objects"],
            "counts": {"calls": r["new_calls"]},
        },
    )


def _with_ip_info(ctx: DetectorContext) -> pl.DataFrame:
    if ctx.ip_info.is_empty():
        return pl.DataFrame()
    return _apps_seen(ctx).join(ctx.ip_info, on="ip", how="inner")


def _new_network_value(
    ctx: DetectorContext, p: NewValue, detector: str, column: str, what: str
) -> list[Finding]:
    """An app seen from a country (or ASN) it never used: its egress is normally stable."""
    frame = _with_ip_info(ctx)
    if frame.is_empty():
        return []
    frame = frame.filter(pl.col(column).is_not_null()).with_columns(pl.col(column).cast(pl.Utf8))
    day = _new_values_per_day(ctx, frame, column, p.min_calls, p.min_history_days)
    if day.is_empty():
        return []
    names = frame.group_by(column).agg(name=pl.col("as_org" if column == "asn" else "country").first())
    label = dict(names.iter_rows())
    prefix = "AS" if column == "asn" else ""
    base = 35 if column == "asn" else 40
    score = scoring.bounded(
        base + 12 * day["surprise"].to_numpy(),
        _carry_cap(day["share"]) + 5,
        np.where(day["thin"].to_numpy(), scoring.THIN_HISTORY_CAP, 100.0),
    )
    day = day.with_columns(
        score=pl.Series(score),
        window_start=pl.col("first_ts"),
        window_end=pl.col("last_ts"),
        observed=pl.col("new_calls").cast(pl.Float64),
        baseline=pl.col("known").list.len().cast(pl.Float64),
    ).join(ctx.profiles.labels, on=ENTITY, how="left")

    def named(values: list[str]) -> list[str]:
        return [f"{prefix}{v} {label.get(v) or ''}".strip() for v in values]

    return emit(
        day,
        detector,
        FAMILY,
        lambda r: (
            f"called from a new {what} on {r['first_day']}: {listed(named(r['values']))} ({_activity(r)}, "
            f"{r['share']:.0%} of its day, from {listed(r['ips'])}); in {r['history_days']} days before it used "
            f"{len(r['known'])}: {listed(named(r['known']))} ({one_in(r['tail'])})."
        ),
        lambda r: {"ips": r["ips"], "counts": {"calls": r["new_calls"]}, column: r["values"]},
    )


def new_country(ctx: DetectorContext, p: NewValue) -> list[Finding]:
    """A connected app calling from a country it never called from."""
    return _new_network_value(ctx, p, "new_country", "country_code", "country")


def new_asn(ctx: DetectorContext, p: NewValue) -> list[Finding]:
    """A connected app calling from a network (ASN) it never used."""
    return _new_network_value(ctx, p, "new_asn", "asn", "network")


def anonymizer_ip(ctx: DetectorContext, p: AnonymizerIp) -> list[Finding]:
    """Calls or logins from Tor exits, VPNs and public proxies (and hosting networks new to a
    user with history), outside the enterprise allowlist; the score by the kind of network."""
    if ctx.ip_info.is_empty():
        return []
    flags = ctx.ip_info.filter(
        (pl.col("is_tor") | pl.col("is_vpn") | pl.col("is_proxy") | pl.col("is_hosting"))
        & (pl.col("allowlists").list.len() == 0)
    ).with_columns(
        weight=pl.max_horizontal(
            [pl.when(pl.col(flag)).then(weight).otherwise(0) for flag, (_, weight) in FLAG_WEIGHTS.items()]
        )
    )
    usage = ctx.auth.join(flags, on="ip", how="inner").filter(
        ctx.judged("hour") & pl.col("user_id").is_not_null()
    )
    if usage.is_empty():
        return []
    # A hosting network counts only when the user has history and that network is new to it:
    # integrations live in clouds.
    asn_first = (
        ctx.auth.join(ctx.ip_info.select("ip", "asn"), on="ip")
        .group_by("org_id", "user_id", "asn")
        .agg(asn_first=pl.col("hour").min())
    )
    user_first = ctx.auth.group_by("org_id", "user_id").agg(user_first=pl.col("hour").min())
    usage = (
        usage.with_columns(day=pl.col("hour").dt.date())
        .join(asn_first, on=["org_id", "user_id", "asn"], how="left")
        .join(user_first, on=["org_id", "user_id"], how="left")
        .filter(
            (pl.col("weight") > 50)
            | (
                (pl.col("asn_first").dt.date() >= pl.col("day"))
                & (pl.col("user_first").dt.date() < pl.col("day"))
            )
        )
    )
    per_ip = (
        usage.group_by("org_id", "user_id", "day", "ip")
        .agg(
            calls=pl.col("calls").sum(),
            start=pl.col("hour").min(),
            end=pl.col("hour").max(),
            weight=pl.col("weight").first(),
            user_name=pl.col("user_name").drop_nulls().first(),
            **{
                c: pl.col(c).first() for c in ("city", "country_code", "asn", "as_org", "kind", *FLAG_WEIGHTS)
            },
        )
        .filter(pl.col("calls") >= p.min_calls)
    )
    if per_ip.is_empty():
        return []
    described = [describe_ip(row) for row in per_ip.iter_rows(named=True)]
    per_ip = per_ip.with_columns(line=pl.format("{} ({}; {} events)", "ip", pl.Series(described), "calls"))
    per_day = (
        per_ip.sort("weight", "calls", descending=True)
        .group_by("org_id", "user_id", "day")
        .agg(
            ips=pl.col("ip"),
            lines=pl.col("line"),
            events=pl.col("calls").sum(),
            score=(pl.col("weight") + (pl.col("calls") // 10).clip(upper_bound=10))
            .max()
            .clip(upper_bound=scoring.SINGLE_SIGNAL_CAP)
            .cast(pl.Float64),
            window_start=pl.col("start").min(),
            window_end=pl.col("end").max() + pl.duration(hours=1),
            user_name=pl.col("user_name").first(),
        )
    )
    per_day = ctx.with_actor(per_day.rename({"user_id": "user15"})).with_columns(
        observed=pl.col("events").cast(pl.Float64), baseline=pl.lit(0.0)
    )
    return emit(
        per_day,
        "anonymizer_ip",
        FAMILY,
        lambda r: f"was used from anonymizing or hosting networks on {r['day']}: {listed(r['lines'])}.",
        lambda r: {"ips": r["ips"], "counts": {"events": r["events"]}},
    )


def non_allowlisted_ip(ctx: DetectorContext, p: NonAllowlistedIp) -> list[Finding]:
    """An app with declared egress ranges (catalog) calling from outside them."""
    if not any(entry.egress_cidrs for entry in ctx.settings.catalog):
        return []
    apps = _apps(ctx).filter(ctx.judged("hour") & pl.col("ip").is_not_null())
    checks = []
    for eid, ip in apps.select("entity_id", "ip").unique().iter_rows():
        entry = ctx.catalog("connected_app", eid)
        if entry is not None and entry.egress_cidrs and entry.egress_allows(ip) is False:
            checks.append(
                {
                    "entity_id": eid,
                    "ip": ip,
                    "declared": entry.name,
                    "cidrs": ", ".join(map(str, entry.egress_cidrs)),
                }
            )
    if not checks:
        return []
    outside = apps.join(pl.DataFrame(checks), on=["entity_id", "ip"])
    per_day = (
        outside.group_by(*ENTITY, "entity_label", "day")
        .agg(
            calls=pl.col("calls").sum(),
            ips=pl.col("ip").unique().sort(),
            window_start=pl.col("first_ts").min(),
            window_end=pl.col("last_ts").max(),
            declared=pl.col("declared").first(),
            cidrs=pl.col("cidrs").first(),
        )
        .filter(pl.col("calls") >= p.min_calls)
    )
    per_day = per_day.with_columns(
        score=(70 + pl.col("calls") / 10).clip(upper_bound=scoring.SINGLE_SIGNAL_CAP).cast(pl.Float64),
        observed=pl.col("calls").cast(pl.Float64),
        baseline=pl.lit(0.0),
    )
    return emit(
        per_day,
        "non_allowlisted_ip",
        FAMILY,
        lambda r: (
            f"made {fmt(r['calls'])} calls on {r['day']} from outside the egress ranges declared for {r['declared']} "
            f"({r['cidrs']}): {listed(r['ips'])}."
        ),
        lambda r: {"ips": r["ips"], "counts": {"calls": r["calls"]}},
    )


def impossible_geography(ctx: DetectorContext, p: ImpossibleGeography) -> list[Finding]:
    """The same entity from places farther apart than travel allows in the time between calls
    (skipped where the databases' accuracy radius makes the distance meaningless)."""
    if ctx.ip_info.is_empty():
        return []
    located = ctx.entity_presence.join(ctx.ip_info, on="ip", how="inner").filter(
        pl.col("latitude").is_not_null() & (pl.col("accuracy_km").fill_null(0) <= p.max_accuracy_km)
    )
    if located.is_empty():
        return []
    segments = (
        located.group_by(*ENTITY, "entity_label", "ip", "hour")
        .agg(
            start=pl.col("first_ts").min(),
            end=pl.col("last_ts").max(),
            lat=pl.col("latitude").first(),
            lon=pl.col("longitude").first(),
            acc=pl.col("accuracy_km").first().fill_null(0),
            place=pl.col("city").first(),
            country=pl.col("country_code").first(),
        )
        .sort("start")
    )
    previous = {
        c: pl.col(c).shift(1).over(ENTITY) for c in ("ip", "end", "lat", "lon", "acc", "place", "country")
    }
    pairs = segments.with_columns(**{f"prev_{c}": e for c, e in previous.items()}).filter(
        pl.col("prev_ip").is_not_null() & (pl.col("prev_ip") != pl.col("ip")) & ctx.judged("start")
    )
    rad = np.pi / 180
    dlat = (pl.col("lat") - pl.col("prev_lat")) * rad
    dlon = (pl.col("lon") - pl.col("prev_lon")) * rad
    a = (dlat / 2).sin() ** 2 + (pl.col("lat") * rad).cos() * (pl.col("prev_lat") * rad).cos() * (
        dlon / 2
    ).sin() ** 2
    pairs = pairs.with_columns(
        distance=2 * 6371.0 * a.sqrt().arcsin(),
        slack=pl.col("acc") + pl.col("prev_acc"),
        hours=((pl.col("start") - pl.col("prev_end")).dt.total_seconds() / 3600).clip(lower_bound=1 / 60),
    ).with_columns(speed=(pl.col("distance") - pl.col("slack")) / pl.col("hours"))
    pairs = (
        pairs.filter((pl.col("distance") - pl.col("slack") >= 500) & (pl.col("speed") > p.max_kmh))
        .with_columns(day=pl.col("start").dt.date())
        .unique([*ENTITY, "day"], keep="first", maintain_order=True)
        .with_columns(
            score=(65 + pl.col("speed") / 1000).clip(upper_bound=scoring.SINGLE_SIGNAL_CAP),
            # Calls interleave within an hour, and the previous place may be on a day before the
            # judged ones: the window is ordered and starts inside the judged days.
            window_start=pl.max_horizontal(pl.min_horizontal("prev_end", "start"), pl.lit(ctx.window_start)),
            window_end=pl.max_horizontal("prev_end", "start"),
            observed=pl.col("speed"),
            baseline=pl.lit(p.max_kmh),
        )
    )
    return emit(
        pairs,
        "impossible_geography",
        FAMILY,
        lambda r: (
            f"called from {r['prev_place'] or '?'}, {r['prev_country'] or '?'} ({r['prev_ip']}) at "
            f"{r['prev_end']:%Y-%m-%d %H:%M} and from {r['place'] or '?'}, {r['country'] or '?'} ({r['ip']}) at "
            f"{r['start']:%H:%M} UTC: {fmt(r['distance'])} km in {r['hours']:.1f} hours ({fmt(r['speed'])} km/h "
            f"beyond the {fmt(r['slack'])} km accuracy margin)."
        ),
        lambda r: {
            "ips": [r["prev_ip"], r["ip"]],
            "counts": {"distance_km": round(r["distance"]), "hours": round(r["hours"], 2)},
        },
    )


DETECTORS = [
    Detector(
        "new_ip", FAMILY, new_ip, "an app calling from new addresses, weighed by its novelty rate", NewValue
    ),
    Detector(
        "new_connected_app",
        FAMILY,
        new_connected_app,
        "a connected app never seen, or a look-alike",
        NewConnectedApp,
    ),
    Detector("new_user_for_app", FAMILY, new_user_for_app, "new users acting through an app", NewValue),
    Detector("new_country", FAMILY, new_country, "an app calling from a new country", NewValue),
    Detector("new_asn", FAMILY, new_asn, "an app calling from a new network (ASN)", NewValue),
    Detector("anonymizer_ip", FAMILY, anonymizer_ip, "Tor, VPN, proxy or new hosting networks", AnonymizerIp),
    Detector("non_allowlisted_ip", FAMILY, non_allowlisted_ip, "outside declared egress", NonAllowlistedIp),
    Detector("impossible_geography", FAMILY, impossible_geography, "impossible travel", ImpossibleGeography),
]
