"""Indicators: client strings of known attacker tooling."""

from __future__ import annotations

import polars as pl

from workbench.detect.base import DetectorContext, Finding, moment


def suspicious_client(ctx: DetectorContext) -> list[Finding]:
    """Logins or calls whose user agent or client name is on the suspicious-client list."""
    weights = {k.lower(): (k, v) for k, v in ctx.settings.suspicious_clients.items()}
    if not weights:
        return []
    rows = ctx.raw("suspicious_clients", {"clients": list(weights)})
    findings: list[Finding] = []
    if rows.is_empty():
        return findings
    rows = rows.with_columns(day=pl.col("ts").dt.date(), client_key=pl.col("client").str.to_lowercase())
    for (org, user15, client_key, _day), group in rows.partition_by(
        ["org_id", "user15", "client_key", "day"], as_dict=True
    ).items():
        first, last = moment(group["ts"].min()), moment(group["ts"].max())
        if not ctx.in_window(first):
            continue
        name, weight = weights[client_key]
        app = group["connected_app_id"].drop_nulls()
        etype, eid, label = ctx.actor(org, user15, str(group["user_name"].drop_nulls().first() or ""))
        if not app.is_empty():
            etype, eid = "connected_app", app[0]
        ips = sorted(set(group["ip"].drop_nulls().to_list()))
        kinds = ", ".join(f"{n} {t}" for t, n in group.group_by("event_type").len().sort("event_type").rows())
        findings.append(
            Finding(
                "suspicious_client", "ioc", org, etype, eid, label, first, last, weight + min(10, group.height),
                f"used the client {name!r}, listed as attacker tooling, {group.height} time(s) ({kinds}) between "
                f"{first:%Y-%m-%d %H:%M} and {last:%H:%M} UTC from {', '.join(ips[:5]) or 'unknown addresses'}.",
                observed=group.height, baseline=0,
                evidence={"request_ids": group["request_id"].to_list()[:10], "ips": ips,
                          "users": sorted(set(group["user_name"].drop_nulls().to_list())),
                          "clients": [name], "counts": {"events": group.height}},
            )
        )  # fmt: skip
    return findings
