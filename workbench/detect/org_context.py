"""Org context: what the org's own records say (OAuth token snapshots, the setup audit trail,
connected apps), beside the event logs.

- `dormant_token_used`: a token whose LastUsedDate jumps, between two snapshots, after 30 or more
  idle days (a key that sat unused for weeks and is suddenly turned again).
- `setup_change_before_activity`: a setup change naming an app, or the app's creation, shortly
  before another detector found unusual activity by that app.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from workbench.detect.base import Detector, DetectorContext, Finding, emit
from workbench.detect.scoring import SINGLE_SIGNAL_CAP
from workbench.findings import MEDIUM

FAMILY = "org_context"


@dataclass(frozen=True)
class DormantTokenUsed:
    """Idle days before a token's use counts as a wake-up."""

    min_gap_days: int = 30


def dormant_token_used(ctx: DetectorContext, p: DormantTokenUsed) -> list[Finding]:
    """Tokens used again after at least MIN_GAP_DAYS idle, seen between two token snapshots; the
    longer the sleep, the higher the score."""
    rows = ctx.raw("token_wakeups", {"min_gap_days": p.min_gap_days})
    if rows.is_empty():
        return []
    found = (
        rows.with_columns(
            entity_type=pl.lit("connected_app"),
            entity_id=pl.coalesce("app_id", "app_name", pl.lit("unknown")),
            entity_label=pl.coalesce("app_name", "app_id", pl.lit("unknown")),
            window_start=pl.col("woke_at"),
            window_end=pl.col("woke_at") + pl.duration(hours=1),
        )
        .filter(ctx.judged("window_start"))
        .with_columns(
            # 30 idle days score 58, 120 days 67: a long sleep is one signal, never critical alone.
            score=(pl.lit(55.0) + (pl.col("idle_days") / 10).clip(upper_bound=25)).clip(
                upper_bound=SINGLE_SIGNAL_CAP
            ),
            observed=pl.col("idle_days").cast(pl.Float64),
            baseline=pl.lit(float(p.min_gap_days)),
        )
        .sort("window_start")
        .unique(["org_id", "entity_id", "window_start"], keep="first", maintain_order=True)
    )
    return emit(
        found,
        "dormant_token_used",
        "temporal",
        lambda r: (
            f"an OAuth token of {r['entity_label']} held by {r['user_name'] or r['user_id']} was used at "
            f"{r['woke_at']:%Y-%m-%d %H:%M} UTC after {r['idle_days']} idle days (last used "
            f"{r['idle_since']:%Y-%m-%d}, threshold {p.min_gap_days} days); token created {r['created_date']:%Y-%m-%d}."
            if r["created_date"]
            else f"an OAuth token of {r['entity_label']} was used after {r['idle_days']} idle days."
        ),
        lambda r: {
            "users": [r["user_name"] or r["user_id"]],
            "connected_apps": [r["entity_id"]],
            "counts": {
                "idle_days": r["idle_days"],
                "use_count": r["use_count"],
                "previous_use_count": r["previous_count"],
            },
        },
    )


@dataclass(frozen=True)
class SetupChangeBeforeActivity:
    """How long before a finding a setup change still counts as its prelude."""

    lead_days: int = 7


def setup_change_before_activity(ctx: DetectorContext, p: SetupChangeBeforeActivity) -> list[Finding]:
    """Setup changes that name an app (its name or id in the audit trail's text), or the app's
    creation, within LEAD_DAYS before a finding at medium or above on that app: a new app or a
    relaxed policy followed by unusual activity."""
    flagged = [f for f in ctx.prior if f.entity_type == "connected_app" and f.score >= MEDIUM]
    if not flagged:
        return []
    changes = ctx.raw("setup_changes")
    if changes.is_empty():
        return []
    lead = timedelta(days=p.lead_days)
    names: dict[str, set[str]] = {}
    for app_id, name in ctx.raw("connected_app_names").iter_rows():
        names.setdefault(str(app_id).lower(), set()).add(str(name))
    text = pl.col("change").str.to_lowercase()
    results: list[dict[str, object]] = []
    for finding in flagged:
        app_id = finding.entity_id[:15].lower()
        # Names shorter than 3 characters would match inside any word.
        called = {n for n in {finding.entity_label.lower(), app_id, *names.get(app_id, set())} if len(n) >= 3}
        named = pl.any_horizontal([text.str.contains(n, literal=True) for n in sorted(called)])
        prelude = changes.filter(
            (pl.col("changed_at") >= finding.window_start - lead)
            & (pl.col("changed_at") <= finding.window_start)
            & (named | (pl.col("app_id").str.to_lowercase() == app_id))
        )
        if prelude.is_empty():
            continue
        first = prelude.row(0, named=True)
        hours = (finding.window_start - first["changed_at"]).total_seconds() / 3600
        results.append(
            {
                "org_id": finding.org_id,
                "entity_type": "connected_app",
                "entity_id": finding.entity_id,
                "entity_label": finding.entity_label,
                "window_start": first["changed_at"],
                "window_end": finding.window_end,
                # Closer in time, more telling: from 60 (a week before) to 75 (the same hour).
                "score": min(SINGLE_SIGNAL_CAP, 60 + 15 * max(0.0, 1 - hours / (24 * p.lead_days))),
                "observed": hours,
                "baseline": float(24 * p.lead_days),
                "changes": [str(c) for c in prelude["change"].to_list()[:5]],
                "by": sorted({str(b) for b in prelude["created_by"].to_list() if b}),
                "followed_by": finding.detector,
                "finding_id": finding.id,
            }
        )
    if not results:
        return []
    frame = pl.DataFrame(results)  # the findings it follows are in the judged days already
    return emit(
        frame,
        "setup_change_before_activity",
        "sequence",
        lambda r: (
            f"{r['entity_label']}: setup change(s) {'; '.join(r['changes'])!r} "
            f"{r['observed']:.0f} hour(s) before {r['followed_by']} found unusual activity"
            + (f" (changed by {', '.join(r['by'])})" if r["by"] else "")
            + "."
        ),
        lambda r: {
            "connected_apps": [r["entity_id"]],
            "users": r["by"],
            "changes": r["changes"],
            "related_findings": [r["finding_id"]],
        },
    )


DETECTORS = [
    Detector(
        "dormant_token_used",
        FAMILY,
        dormant_token_used,
        "an OAuth token used again after weeks idle (token snapshots)",
        DormantTokenUsed,
    ),
    Detector(
        "setup_change_before_activity",
        FAMILY,
        setup_change_before_activity,
        "a new connected app or a setup change naming an app shortly before unusual activity by it",
        SetupChangeBeforeActivity,
        reads_prior=True,
    ),
]
