"""Sequences: reconnaissance followed by export; bulk jobs created then deleted."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from workbench.detect.base import DetectorContext, Finding, fmt, moment, number


def recon_then_export(ctx: DetectorContext) -> list[Finding]:
    """Object lists, describes, limits and count queries, then within the window a bulk query
    or large query from the same app (or user, or address)."""
    p = ctx.params("recon_then_export")
    calls = ctx.raw("recon_and_export_calls", {"min_export_rows": p["min_export_rows"]})
    findings: list[Finding] = []
    if calls.is_empty():
        return findings
    window = timedelta(minutes=p["window_minutes"])
    calls = calls.with_columns(
        actor=pl.coalesce("connected_app_id", "user15", "ip"), day=pl.col("ts").dt.date()
    ).sort("ts")
    # Bulk job logs carry no app id: attach them to the app their user acts through.
    calls = calls.with_columns(
        actor=pl.struct("org_id", "user15", "actor").map_elements(
            lambda r: ctx.app_of_user.get((r["org_id"], r["user15"]), (r["actor"], ""))[0]
            if r["actor"] == r["user15"] else r["actor"],
            return_dtype=pl.Utf8,
        )
    )  # fmt: skip
    sessions: list[dict] = []
    for (org, actor), group in calls.partition_by(["org_id", "actor"], as_dict=True).items():
        recon = group.filter(pl.col("recon").is_not_null())
        exports = group.filter(pl.col("export").is_not_null())
        for day, day_exports in exports.partition_by("day", as_dict=True).items():
            start = moment(day_exports["ts"].min())
            before = recon.filter(
                (pl.col("ts") <= day_exports["ts"].max()) & (pl.col("ts") >= start - window)
            )
            if before.height < p["min_recon_calls"]:
                continue
            sessions.append(
                {"org": org, "actor": actor, "day": day[0], "recon": before, "exports": day_exports}
            )
    routine: dict[tuple[str, str], int] = {}
    for session in sessions:
        routine[(session["org"], session["actor"])] = routine.get((session["org"], session["actor"]), 0) + 1
    for session in sessions:
        recon, exports = session["recon"], session["exports"]
        first, last = moment(recon["ts"].min()), moment(exports["ts"].max())
        if not ctx.in_window(first):
            continue
        earlier = sum(1 for s in sessions if (s["org"], s["actor"]) == (session["org"], session["actor"])
                      and s["day"] < session["day"])  # fmt: skip
        sample = exports.row(0, named=True)
        user15 = sample["user15"]
        if session["actor"] == sample["connected_app_id"] or (session["org"], user15) in ctx.app_of_user:
            etype, eid, label = ctx.actor(session["org"], user15, sample["user_name"])
            if session["actor"] == sample["connected_app_id"]:
                eid = session["actor"]
        else:
            etype, eid, label = "user", session["actor"], sample["user_name"] or session["actor"]
        kinds = recon.group_by("recon").len().sort("len", descending=True)
        recon_text = ", ".join(f"{n} {k}" for k, n in kinds.rows())
        targets = sorted(set(exports["entity_name"].drop_nulls().to_list()))
        exported = exports.filter(pl.col("export").is_in(["bulk query job", "large query"]))
        rows = int(number(exported["rows_processed"].sum()))
        export_kinds = exports.group_by("export").len().sort("len", descending=True)
        export_text = ", ".join(f"{n} {k}" for k, n in export_kinds.rows())
        score = 70 + (10 if rows >= 50_000 else 0) + (5 if len(targets) > 1 else 0)
        note = ""
        if earlier >= 3:
            score, note = 35, f" The same pattern ran on {earlier} earlier days: likely routine."
        ips = sorted(set(recon["ip"].drop_nulls().to_list()) | set(exports["ip"].drop_nulls().to_list()))
        minutes = (last - first).total_seconds() / 60
        findings.append(
            Finding(
                "recon_then_export", "sequence", session["org"], etype, eid, label, first, last, score,
                f"ran {recon.height} reconnaissance calls ({recon_text}) from {first:%Y-%m-%d %H:%M} UTC, then "
                f"exported within {minutes:.0f} minutes ({export_text}) on {', '.join(targets) or 'unknown objects'}"
                f"{f', {fmt(rows)} rows' if rows else ''}; addresses: {', '.join(ips[:6])}.{note}",
                observed=recon.height, baseline=earlier,
                evidence={"request_ids": [*recon["request_id"].to_list()[:5], *exports["request_id"].to_list()[:5]],
                          "ips": ips, "entities": targets,
                          "counts": {"recon_calls": recon.height, "export_calls": exports.height, "rows": rows}},
            )
        )  # fmt: skip
    return findings


def bulk_job_deleted(ctx: DetectorContext) -> list[Finding]:
    """A bulk job deleted soon after it was created: what an intruder does to hide an export."""
    p = ctx.params("bulk_job_deleted")
    jobs = ctx.raw("bulk_job_lifecycle")
    findings: list[Finding] = []
    if jobs.is_empty():
        return findings
    window = timedelta(minutes=p["window_minutes"])
    deleted = jobs.filter(pl.col("deleted_at").is_not_null()).sort("first_seen")
    for job in deleted.iter_rows(named=True):
        lifetime = job["deleted_at"] - job["first_seen"]
        if lifetime > window or not ctx.in_window(job["first_seen"]):
            continue
        if job["connected_app_id"]:
            etype, eid, label = ctx.actor(job["org_id"], job["user15"], job["user_name"])
            eid = job["connected_app_id"]
        else:
            etype, eid, label = ctx.actor(job["org_id"], job["user15"], job["user_name"])
        score = (
            65 + (15 if job["job_kind"] == "query" else 0) + (10 if lifetime <= timedelta(minutes=5) else 0)
        )
        findings.append(
            Finding(
                "bulk_job_deleted", "sequence", job["org_id"], etype, eid, label, job["first_seen"],
                job["deleted_at"], score,
                f"deleted bulk {job['job_kind']} job {job['job_id']} ({job['entity_name'] or 'unknown object'}) "
                f"{lifetime.total_seconds() / 60:.1f} minutes after it first appeared at "
                f"{job['first_seen']:%Y-%m-%d %H:%M:%S} UTC, from {', '.join(job['ips'] or ['unknown'])}.",
                observed=lifetime.total_seconds(), baseline=window.total_seconds(),
                evidence={"request_ids": job["request_ids"], "ips": job["ips"] or [], "jobs": [job["job_id"]],
                          "entities": [job["entity_name"]] if job["entity_name"] else []},
            )
        )  # fmt: skip
    return findings
