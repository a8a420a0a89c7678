"""Indicators: client strings of known attacker tooling."""

from __future__ import annotations

import polars as pl

from workbench.detect.base import Detector, DetectorContext, Finding, NoParams, emit, listed
from workbench.detect.scoring import SINGLE_SIGNAL_CAP

FAMILY = "ioc"


def suspicious_client(ctx: DetectorContext, _: NoParams) -> list[Finding]:
    """Logins or calls whose user agent or client name is on the suspicious-client list; the
    list's weight is the score of one sighting."""
    weights = {k.lower(): (k, v) for k, v in ctx.settings.suspicious_clients.items()}
    if not weights:
        return []
    rows = ctx.raw("suspicious_clients", {"clients": list(weights)})
    if rows.is_empty():
        return []
    listed_clients = pl.DataFrame(
        {
            "client_key": list(weights),
            "name": [n for n, _ in weights.values()],
            "weight": [w for _, w in weights.values()],
        }
    )
    rows = ctx.with_actor(
        rows.with_columns(
            day=pl.col("first_ts").dt.date(), client_key=pl.col("client").str.to_lowercase()
        ).join(listed_clients, on="client_key")
    )
    has_app = pl.col("connected_app_id").is_not_null()
    rows = rows.with_columns(
        entity_type=pl.when(has_app).then(pl.lit("connected_app")).otherwise(pl.col("entity_type")),
        entity_id=pl.when(has_app)
        .then(pl.col("connected_app_id").str.slice(0, 15))
        .otherwise(pl.col("entity_id")),
    ).sort("first_ts")
    kinds = rows.group_by("org_id", "user15", "client_key", "day", "event_type").agg(
        count=pl.col("events").sum()
    )
    kinds = (
        kinds.sort("event_type")
        .group_by("org_id", "user15", "client_key", "day")
        .agg(kinds=pl.struct(pl.col("count"), pl.col("event_type")))
    )
    found = (
        rows.group_by("org_id", "user15", "client_key", "day")
        .agg(
            entity_type=pl.col("entity_type").first(),
            entity_id=pl.col("entity_id").first(),
            entity_label=pl.col("entity_label").first(),
            name=pl.col("name").first(),
            events=pl.col("events").sum(),
            window_start=pl.col("first_ts").min(),
            window_end=pl.col("last_ts").max(),
            ips=pl.col("ip").drop_nulls().unique().sort(),
            users=pl.col("user_name").drop_nulls().unique().sort(),
            request_ids=pl.col("request_ids").explode().head(10),
            weight=pl.col("weight").first(),
        )
        .join(kinds, on=["org_id", "user15", "client_key", "day"])
        .filter(ctx.judged("window_start"))
        .with_columns(
            # Listed tooling is one signal: critical needs another family beside it.
            score=(pl.col("weight") + pl.col("events").clip(upper_bound=10))
            .clip(upper_bound=SINGLE_SIGNAL_CAP)
            .cast(pl.Float64),
            observed=pl.col("events").cast(pl.Float64),
            baseline=pl.lit(0.0),
        )
    )
    return emit(
        found,
        "suspicious_client",
        FAMILY,
        lambda r: (
            f"used the client {r['name']!r}, listed as attacker tooling, {r['events']} time(s) "
            f"({_kinds(r['kinds'])}) between "
            f"{r['window_start']:%Y-%m-%d %H:%M} and {r['window_end']:%H:%M} UTC from {listed(r['ips'])}."
        ),
        lambda r: {
            "request_ids": r["request_ids"],
            "ips": r["ips"],
            "users": r["users"],
            "clients": [r["name"]],
            "counts": {"events": r["events"]},
        },
    )


def _kinds(counts: list[dict[str, object]]) -> str:
    return ", ".join(f"{c['count']} {c['event_type']}" for c in counts)


DETECTORS = [
    Detector("suspicious_client", FAMILY, suspicious_client, "client strings of known attacker tooling"),
]
