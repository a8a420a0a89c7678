"""Errors: error-rate jumps and creeps, bursts of authentication failures, failures then success.

Error shares are binomial questions against a smoothed background rate; failure counts are
Poisson or negative-binomial questions against the key's own background, so an integration with
20,000 logins a day and a few 401s every day stays calm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import polars as pl

from workbench.detect import scoring
from workbench.detect.base import Detector, DetectorContext, Finding, day_window, emit, fmt, listed, one_in
from workbench.detect.profiles import network_of

FAMILY = "error"


@dataclass(frozen=True)
class ErrorRateJump:
    min_calls: int = 100
    min_errors: int = 10
    min_jump_points: float = 5.0  # percentage points above the background rate


@dataclass(frozen=True)
class AuthFailureBurst:
    min_failures: int = 10
    baseline_days: int = 14


@dataclass(frozen=True)
class ProbeThenSuccess:
    min_failures: int = 3
    window_minutes: int = 30
    baseline_days: int = 14


def error_rate_jump(ctx: DetectorContext, p: ErrorRateJump) -> list[Finding]:
    """A day whose error share is well above the entity's background share. The background is
    the lower of the last 14 days and a frozen baseline ending a week earlier, so a creep over
    days (2% to 18% in a week) is compared with where it started."""
    days = ctx.profiles.daily.filter(
        ctx.judged() & (pl.col("calls") >= p.min_calls) & (pl.col("errors") >= p.min_errors)
    )
    if days.is_empty():
        return []
    recent = scoring.smoothed_rate(days["past_errors"], days["past_calls"])
    frozen = scoring.smoothed_rate(days["frozen_errors"], days["frozen_calls"])
    has_frozen = days["frozen_calls"].to_numpy() >= 3 * p.min_calls
    background = np.where(has_frozen, np.minimum(recent, frozen), recent)
    rate = days["errors"].to_numpy() / days["calls"].to_numpy()
    jump = rate - background
    tail = scoring.rate_tail(days["errors"], days["calls"], background)
    jump_cap = np.interp(jump * 100, [0, 5, 10, 20, 40], [0, 40, 55, 70, 80])
    # Errors packed into one hour are an outage blip, not a trend: low at most.
    blip = days["peak_error_share"].to_numpy() >= 0.8
    score = scoring.bounded(
        scoring.score_from_surprise(scoring.surprise(tail)),
        jump_cap,
        np.where(blip, 35.0, 100.0),
        scoring.history_cap(days["active_days_before"]),
    )
    days = days.with_columns(
        background=pl.Series(background),
        rate=pl.Series(rate),
        jump=pl.Series(jump),
        tail=pl.Series(tail),
        blip=pl.Series(blip),
        creep=pl.Series(has_frozen & (frozen < recent)),
        score=pl.Series(score),
        **day_window(),
        observed=pl.Series(rate * 100),
        baseline=pl.Series(background * 100),
    ).filter(pl.col("jump") * 100 >= p.min_jump_points)
    return emit(
        days,
        "error_rate_jump",
        FAMILY,
        lambda r: (
            f"had {r['rate']:.1%} errors on {r['day']} ({fmt(r['errors'])} of {fmt(r['calls'])} calls) against "
            f"a background of {r['background']:.1%}"
            + (" (its share before the last week: the rate has been creeping up)" if r["creep"] else "")
            + f": +{r['jump'] * 100:.1f} points, {one_in(r['tail'])}."
            + (" The errors fall in one hour: an isolated outage." if r["blip"] else "")
        ),
        lambda r: {
            "counts": {
                "errors": r["errors"],
                "calls": r["calls"],
                "background_pct": round(r["background"] * 100, 2),
            }
        },
    )


def auth_failure_burst(ctx: DetectorContext, p: AuthFailureBurst) -> list[Finding]:
    """An hour with far more failed logins or 401/403 responses, for one user or from one
    address, than that key's own background and its worst hour of the last two weeks."""
    failures = ctx.auth.filter(pl.col("failures") > 0)
    if failures.is_empty():
        return []
    found: list[Finding] = []
    window = f"{p.baseline_days}d"
    for key, kind in (("user_id", "user"), ("ip", "ip")):
        hourly = (
            failures.filter(pl.col(key).is_not_null())
            .group_by("org_id", key, "hour")
            .agg(
                failures=pl.col("failures").sum(),
                users=pl.col("user_name").drop_nulls().unique().sort(),
                ips=pl.col("ip").drop_nulls().unique().sort(),
                user_name=pl.col("user_name").drop_nulls().first(),
            )
            .sort("hour")
            .with_columns(
                past_sum=pl.col("failures").rolling_sum_by("hour", window, closed="left").over("org_id", key),
                past_max=pl.col("failures").rolling_max_by("hour", window, closed="left").over("org_id", key),
            )
            .with_columns(pl.col("past_sum", "past_max").fill_null(0))
        )
        judged = hourly.filter(
            ctx.judged("hour")
            & (pl.col("failures") >= p.min_failures)
            & (pl.col("failures") >= 2 * pl.col("past_max"))
        )
        if judged.is_empty():
            continue
        # Background failures per hour over the whole baseline (every hour, not only failing ones).
        rate = (judged["past_sum"].to_numpy() + 0.5) / (p.baseline_days * 24)
        tail = scoring.poisson_tail(judged["failures"], rate)
        ratio = judged["failures"].to_numpy() / np.maximum(judged["past_max"].to_numpy(), 1)
        score = scoring.bounded(
            scoring.score_from_surprise(scoring.surprise(tail)), scoring.ratio_cap(ratio * 2)
        )
        judged = judged.with_columns(tail=pl.Series(tail), score=pl.Series(score), kind=pl.lit(kind))
        if kind == "user":
            judged = ctx.with_actor(judged.rename({key: "user15"}))
        else:
            judged = judged.with_columns(
                entity_type=pl.lit("ip"), entity_id=pl.col("ip"), entity_label=pl.col("ip")
            )
        judged = judged.with_columns(
            window_start=pl.col("hour"),
            window_end=pl.col("hour") + pl.duration(hours=1),
            observed=pl.col("failures").cast(pl.Float64),
            baseline=pl.col("past_max").cast(pl.Float64),
        )
        found += emit(
            judged,
            "auth_failure_burst",
            FAMILY,
            lambda r: (
                f"had {fmt(r['failures'])} authentication failures in the hour from {r['hour']:%Y-%m-%d %H:00} UTC "
                f"(users: {listed(r['users'])}; addresses: {listed(r['ips'])}); in the previous {p.baseline_days} "
                f"days it had {fmt(r['past_sum'])} in all and {fmt(r['past_max'])} in its worst hour: {one_in(r['tail'])}."
            ),
            lambda r: {
                "users": r["users"],
                "ips": r["ips"],
                "counts": {"failures": r["failures"], "previous_worst_hour": r["past_max"]},
            },
        )
    return found


def _failures_before(
    frame: pl.DataFrame, failures: pl.DataFrame, key: str, moment: pl.Expr, name: str
) -> pl.DataFrame:
    """FRAME with NAME: how many failures of its key came strictly before MOMENT (an as-of join
    on the failures' running count)."""
    probe = frame.with_columns(__at=moment).sort("__at")
    joined = probe.join_asof(
        failures.rename({"ts": "__at", "cum": name}),
        on="__at",
        by=["org_id", key],
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,  # sorted on __at above
    )
    return joined.with_columns(pl.col(name).fill_null(0)).drop("__at")


def probe_then_success(ctx: DetectorContext, p: ProbeThenSuccess) -> list[Finding]:
    """Authentication failures, then a successful login from the same address or for the same
    user within 30 minutes, when the failures are far more than that key's background rate:
    guessing or token probing that worked. Counted with as-of joins on cumulative failure
    counts, never by filtering the failures once per success."""
    rows = ctx.raw("auth_failures_then_success")
    if rows.is_empty():
        return []
    window = timedelta(minutes=p.window_minutes)
    slots = p.baseline_days * 24 * 60 / p.window_minutes
    found: list[Finding] = []
    first_success = (
        rows.filter(pl.col("success"))
        .group_by("org_id", network=network_of(pl.col("ip")))
        .agg(first_ok=pl.col("ts").min())
    )
    for key in ("ip", "user15"):
        keyed = rows.filter(pl.col(key).is_not_null())
        failures = (
            keyed.filter(~pl.col("success"))
            .sort("ts", "request_id", nulls_last=True)
            .select("org_id", key, "ts", cum=pl.int_range(1, pl.len() + 1).over("org_id", key))
        )
        successes = keyed.filter(pl.col("success") & ctx.judged("ts")).sort(
            "ts", "request_id", nulls_last=True
        )
        if failures.is_empty() or successes.is_empty():
            continue

        counted = _failures_before(successes, failures, key, pl.col("ts"), "cum_now")
        counted = _failures_before(counted, failures, key, pl.col("ts") - window, "cum_window")
        counted = _failures_before(
            counted, failures, key, pl.col("ts") - timedelta(days=p.baseline_days), "cum_baseline"
        )
        counted = counted.with_columns(
            burst=pl.col("cum_now") - pl.col("cum_window"),
            background=(pl.col("cum_window") - pl.col("cum_baseline")) / slots,
        ).filter(pl.col("burst") >= p.min_failures)
        if counted.is_empty():
            continue
        tail = scoring.poisson_tail(counted["burst"], counted["background"].to_numpy() + 0.05)
        score = scoring.bounded(
            scoring.score_from_surprise(scoring.surprise(tail)),
            scoring.ratio_cap(counted["burst"].to_numpy() / (counted["background"].to_numpy() + 0.2)),
        )
        counted = counted.with_columns(
            tail=pl.Series(tail), score=pl.Series(score), day=pl.col("ts").dt.date()
        )
        if counted.is_empty():
            continue
        # The failing rows behind each finding, for its evidence (few rows: a join, not a scan).
        behind = (
            counted.select("org_id", key, success_ts="ts")
            .join(keyed.filter(~pl.col("success")), on=["org_id", key])
            .filter((pl.col("ts") < pl.col("success_ts")) & (pl.col("ts") >= pl.col("success_ts") - window))
            .group_by("org_id", key, "success_ts")
            .agg(
                first_failure=pl.col("ts").min(),
                failed_ids=pl.col("request_id").sort_by("ts", "request_id").head(10),
                failed_ips=pl.col("ip").drop_nulls().unique().sort(),
                failed_users=pl.col("user_name").drop_nulls().unique().sort(),
            )
        )
        counted = counted.join(behind, left_on=["org_id", key, "ts"], right_on=["org_id", key, "success_ts"])
        # Failures from networks (/24) that logged in successfully long before are an integration's
        # background noise (expired tokens refreshed, rotating cloud workers); probing comes from
        # somewhere new.
        familiar = (
            counted.select("org_id", key, "ts", "first_failure", ip_tried=pl.col("failed_ips"))
            .explode("ip_tried")
            .with_columns(network=network_of(pl.col("ip_tried")))
            .join(first_success, on=["org_id", "network"], how="left")
            .group_by("org_id", key, "ts")
            .agg(
                familiar=(pl.col("first_ok") < pl.col("first_failure") - timedelta(hours=1))
                .fill_null(False)
                .all()
            )
        )
        counted = ctx.with_actor(
            counted.join(familiar, on=["org_id", key, "ts"], how="left")
            .with_columns(
                familiar=pl.col("familiar").fill_null(False),
                score=pl.when(pl.col("familiar").fill_null(False))
                .then(pl.col("score").clip(upper_bound=35))
                .otherwise(pl.col("score")),
            )
            # One finding per key and day: the most surprising success, the earliest of equals
            # (the joins above leave rows in no set order, and ties must not pick at random).
            .sort(
                ["score", "burst", "ts", "request_id"], descending=[True, True, False, False], nulls_last=True
            )
            .unique(["org_id", key, "day"], keep="first", maintain_order=True)
        )
        counted = counted.with_columns(
            window_start=pl.col("first_failure"),
            window_end=pl.col("ts"),
            observed=pl.col("burst").cast(pl.Float64),
            baseline=pl.col("background").cast(pl.Float64),
            same=pl.lit("address" if key == "ip" else "user"),
        )
        found += emit(
            counted,
            "probe_then_success",
            FAMILY,
            lambda r: (
                f"{fmt(r['burst'])} authentication failures from the same {r['same']} between "
                f"{r['first_failure']:%H:%M} and {r['ts']:%H:%M} UTC on {r['ts']:%Y-%m-%d}, then a successful "
                f"login by {r['user_name'] or r['user15']} from {r['ip']}; its background is "
                f"{r['background']:.2f} failures per {p.window_minutes} minutes ({one_in(r['tail'])})."
                + (
                    " The failing addresses are in networks it logs in from: likely token refreshes."
                    if r["familiar"]
                    else ""
                )
            ),
            lambda r: {
                "request_ids": [*r["failed_ids"], r["request_id"]],
                "ips": sorted({*r["failed_ips"], *([r["ip"]] if r["ip"] else [])}),
                "users": r["failed_users"],
                "counts": {"failures": r["burst"], "background_per_window": round(r["background"], 3)},
            },
        )
    # The same burst seen by address and by user is one finding: keep the stronger telling.
    return list({f.id: f for f in sorted(found, key=lambda f: (f.score, f.observed or 0))}.values())


DETECTORS = [
    Detector(
        "error_rate_jump",
        FAMILY,
        error_rate_jump,
        "error share well above the background, or creeping up",
        ErrorRateJump,
    ),
    Detector(
        "auth_failure_burst",
        FAMILY,
        auth_failure_burst,
        "failed logins or 401/403 far above the background",
        AuthFailureBurst,
    ),
    Detector(
        "probe_then_success",
        FAMILY,
        probe_then_success,
        "a burst of failures, then a successful login",
        ProbeThenSuccess,
    ),
]
