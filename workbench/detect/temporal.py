"""Temporal: hours and days an entity does not use; a scheduled job whose window moved.

Both read the hour-of-day profile (profiles.hours: calls per hour today and over the previous
28 days). The share of today's calls in the entity's rare hours is a binomial question against
the history's share in those hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench.detect import scoring
from workbench.detect.base import Detector, DetectorContext, Finding, day_window, emit, fmt, one_in
from workbench.detect.profiles import ENTITY, HOURS, PAST_HOURS

FAMILY = "temporal"


@dataclass(frozen=True)
class OffHours:
    min_history_days: int = 7
    min_calls: int = 20
    rare_share: float = 0.005  # an hour (and its neighbours) with less of the history is rare
    min_weekdays_seen: int = 4  # same weekdays in the history before a silent weekday counts


@dataclass(frozen=True)
class ScheduleShift:
    min_history_days: int = 7
    min_shift_hours: int = 3
    concentration: float = 0.8  # the busiest 6 hours hold this share: a scheduled job
    outside_share: float = 0.7  # today's share outside the usual hours


def _hour_ranges(hours: list[int]) -> str:
    return ", ".join(f"{h:02d}:00-{h + 1:02d}:00" for h in hours)


def _declared_hours(ctx: DetectorContext, entities: pl.DataFrame) -> pl.DataFrame:
    """Per entity with declared hours in the catalog: which hours are outside them (out_h00..)."""
    rows = []
    for org, etype, eid in entities.select(ENTITY).unique().iter_rows():
        entry = ctx.catalog(etype, eid)
        if entry is not None and entry.expected_hours is not None:
            rows.append(
                {"org_id": org, "entity_type": etype, "entity_id": eid, "declared": entry.hours_text()}
                | {f"out_{h}": not entry.in_hours(int(h[1:])) for h in HOURS}
            )
    schema = {"org_id": pl.Utf8, "entity_type": pl.Utf8, "entity_id": pl.Utf8, "declared": pl.Utf8}
    return pl.DataFrame(rows, schema=schema | {f"out_{h}": pl.Boolean for h in HOURS})


def off_hours(ctx: DetectorContext, p: OffHours) -> list[Finding]:
    """Calls in hours the entity never or rarely uses (or outside its declared hours), and
    activity on a weekday it is never active on."""
    return _odd_hours(ctx, p) + _odd_days(ctx, p)


def _odd_hours(ctx: DetectorContext, p: OffHours) -> list[Finding]:
    hours = ctx.profiles.hours.filter(ctx.judged() & (pl.sum_horizontal(HOURS) >= p.min_calls))
    if hours.is_empty():
        return []
    declared = _declared_hours(ctx, hours)
    hours = hours.join(declared, on=ENTITY, how="left").with_columns(
        total=pl.sum_horizontal(HOURS), past_total=pl.sum_horizontal(PAST_HOURS)
    )
    share = [pl.col(c) / pl.col("past_total").clip(lower_bound=1) for c in PAST_HOURS]
    # An hour is rare when it and both neighbours are: a job that drifts by an hour is not odd.
    rare = [
        (share[h] < p.rare_share)
        & (share[(h - 1) % 24] < p.rare_share)
        & (share[(h + 1) % 24] < p.rare_share)
        for h in range(24)
    ]
    odd = [
        pl.when(pl.col("declared").is_not_null()).then(pl.col(f"out_{HOURS[h]}")).otherwise(rare[h])
        & (pl.col(HOURS[h]) > 0)
        for h in range(24)
    ]
    hours = hours.with_columns(
        odd_hours=pl.concat_list([pl.when(o).then(pl.lit(h)) for h, o in enumerate(odd)]).list.drop_nulls(),
        odd_calls=pl.sum_horizontal(
            [pl.when(o).then(pl.col(HOURS[h])).otherwise(0) for h, o in enumerate(odd)]
        ),
        past_odd=pl.sum_horizontal(
            [pl.when(o).then(pl.col(PAST_HOURS[h])).otherwise(0) for h, o in enumerate(odd)]
        ),
        never=pl.concat_list(
            [pl.when(o & (pl.col(PAST_HOURS[h]) == 0)).then(pl.lit(h)) for h, o in enumerate(odd)]
        ).list.drop_nulls(),
        usual=pl.concat_list(
            [pl.when(s >= 0.02).then(pl.lit(h)) for h, s in enumerate(share)]
        ).list.drop_nulls(),
    ).filter(
        (pl.col("odd_calls") >= p.min_calls)
        & ((pl.col("history_days") >= p.min_history_days) | pl.col("declared").is_not_null())
    )
    if hours.is_empty():
        return []
    odd_share = hours["odd_calls"] / hours["total"].clip(lower_bound=1)
    base_rate = scoring.smoothed_rate(hours["past_odd"], hours["past_total"])
    tail = scoring.rate_tail(hours["odd_calls"], hours["total"], base_rate)
    # Effect size: a handful of night calls among millions is not a night shift.
    share_cap = np.interp(odd_share.to_numpy(), [0, 0.005, 0.02, 0.05, 0.2, 0.5], [0, 25, 45, 55, 70, 80])
    is_declared = hours["declared"].is_not_null().to_numpy()
    score = scoring.bounded(
        np.where(is_declared, 70.0, scoring.score_from_surprise(scoring.surprise(tail))),
        share_cap,
        np.where(is_declared, 100.0, scoring.history_cap(hours["active_days_before"])),
    )
    hours = hours.with_columns(
        tail=pl.Series(tail),
        score=pl.Series(score),
        odd_share=odd_share,
        window_start=pl.col("day").cast(pl.Datetime("us"))
        + pl.duration(hours=pl.col("odd_hours").list.min()),
        window_end=pl.col("day").cast(pl.Datetime("us"))
        + pl.duration(hours=pl.col("odd_hours").list.max() + 1),
        observed=pl.col("odd_calls").cast(pl.Float64),
        baseline=pl.col("past_odd").cast(pl.Float64),
        entity_label=pl.lit(None, pl.Utf8),
    )
    hours = hours.drop("entity_label").join(ctx.profiles.labels, on=ENTITY, how="left")

    def explain(r: dict[str, Any]) -> str:
        usual = r["usual"] or []
        usual_text = f"{min(usual):02d}:00-{max(usual) + 1:02d}:00" if usual else "none"
        expected = (
            f"declared {r['declared']} UTC"
            if r["declared"]
            else f"its usual hours over {r['history_days']} days are {usual_text} UTC, with "
            f"{fmt(r['past_odd'])} of {fmt(r['past_total'])} calls in these hours ({one_in(r['tail'])})"
        )
        never = (
            f"; it never used {_hour_ranges(r['never'])} before" if r["never"] and not r["declared"] else ""
        )
        return (
            f"made {fmt(r['odd_calls'])} calls ({r['odd_share']:.0%} of the day) on {r['day']} at "
            f"{_hour_ranges(r['odd_hours'])} UTC; {expected}{never}."
        )

    return emit(
        hours,
        "off_hours",
        FAMILY,
        explain,
        lambda r: {
            "counts": {"calls_off_hours": r["odd_calls"], "calls": r["total"]},
            "hours": r["odd_hours"],
        },
    )


def _odd_days(ctx: DetectorContext, p: OffHours) -> list[Finding]:
    """Active on a weekday it was never active on in the last six weeks (a weekday-only job on
    a Saturday), while otherwise in regular use; or on a day the catalog rules out."""
    days = ctx.profiles.daily.filter(ctx.judged() & (pl.col("calls") >= p.min_calls))
    if days.is_empty():
        return []
    declared = []
    for org, etype, eid in days.select(ENTITY).unique().iter_rows():
        entry = ctx.catalog(etype, eid)
        if entry is not None and entry.expected_weekdays is not None:
            declared.append(
                {
                    "org_id": org,
                    "entity_type": etype,
                    "entity_id": eid,
                    "weekdays": list(entry.expected_weekdays),
                }
            )
    schema: dict[str, Any] = {
        "org_id": pl.Utf8,
        "entity_type": pl.Utf8,
        "entity_id": pl.Utf8,
        "weekdays": pl.List(pl.Int64),
    }
    days = days.join(pl.DataFrame(declared, schema=schema), on=ENTITY, how="left")
    # Polars weekdays run 1 (Monday) to 7; the catalog's 0 (Monday) to 6.
    outside_declared = pl.col("weekdays").is_not_null() & ~pl.col("weekdays").list.contains(
        pl.col("weekday") - 1
    )
    never_that_day = (
        (pl.col("weekday_days") >= p.min_weekdays_seen)
        & (pl.col("weekday_active") == 0)
        & (pl.col("recent_active") >= 0.3)
        & (pl.col("comparable_active") < 0.2)
        & pl.col("weekdays").is_null()
    )
    days = days.filter(outside_declared | never_that_day)
    if days.is_empty():
        return []
    days = days.with_columns(
        declared_day=outside_declared,
        score=pl.when(outside_declared)
        .then(60.0)
        .otherwise(40 + (5 * (pl.col("calls") / p.min_calls + 1).log(2)).clip(upper_bound=20)),
        **day_window(),
        observed=pl.col("calls").cast(pl.Float64),
        baseline=pl.lit(0.0),
    )
    return emit(
        days,
        "off_hours",
        FAMILY,
        lambda r: (
            f"made {fmt(r['calls'])} calls on {r['day']:%A} {r['day']}; "
            + (
                "its catalog entry declares no activity that day."
                if r["declared_day"]
                else f"it was not active on any of the previous {r['weekday_days']} {r['day']:%A}s, though "
                f"active on {r['recent_active']:.0%} of the last 28 days."
            )
        ),
        lambda r: {"counts": {"calls": r["calls"], "same_weekdays_seen": r["weekday_days"]}},
    )


def schedule_shift(ctx: DetectorContext, p: ScheduleShift) -> list[Finding]:
    """A scheduled job (calls concentrated in a few hours) now runs at other hours with about the
    same volume: the pattern of a moved job or of someone else driving the account."""
    hours = ctx.profiles.hours.filter(ctx.judged() & (pl.col("history_days") >= p.min_history_days))
    hours = hours.join(ctx.profiles.daily.select(*ENTITY, "day", "expected"), on=[*ENTITY, "day"])
    angles = [2 * math.pi * h / 24 for h in range(24)]

    def circular_hour(columns: list[str]) -> pl.Expr:
        x = pl.sum_horizontal([pl.col(c) * math.cos(a) for c, a in zip(columns, angles, strict=True)])
        y = pl.sum_horizontal([pl.col(c) * math.sin(a) for c, a in zip(columns, angles, strict=True)])
        return (pl.arctan2(y, x) * 24 / (2 * math.pi)) % 24

    past_total = pl.sum_horizontal(PAST_HOURS)
    usual = [pl.col(c) > 0.02 * past_total for c in PAST_HOURS]
    hours = hours.with_columns(
        total=pl.sum_horizontal(HOURS),
        past_total=past_total,
        top_share=pl.concat_list(PAST_HOURS).list.sort(descending=True).list.head(6).list.sum()
        / past_total.clip(lower_bound=1),
        outside=pl.sum_horizontal(
            [pl.when(u).then(0).otherwise(pl.col(h)) for u, h in zip(usual, HOURS, strict=True)]
        ),
        usual_hours=pl.concat_list(
            [pl.when(u).then(pl.lit(h)) for h, u in enumerate(usual)]
        ).list.drop_nulls(),
        was=circular_hour(PAST_HOURS),
        now=circular_hour(HOURS),
    ).with_columns(
        shift=pl.min_horizontal(
            (pl.col("now") - pl.col("was")).abs(), 24 - (pl.col("now") - pl.col("was")).abs()
        )
    )
    moved = hours.filter(
        (pl.col("total") > 0)
        & (pl.col("top_share") >= p.concentration)
        & (pl.col("outside") >= p.outside_share * pl.col("total"))
        & (pl.col("total") >= 0.5 * pl.col("expected"))
        & (pl.col("total") <= 2 * pl.col("expected"))
        & (pl.col("shift") >= p.min_shift_hours)
    )
    if moved.is_empty():
        return []
    moved = (
        moved.with_columns(
            score=(45 + 3 * pl.col("shift")).clip(upper_bound=72),
            **day_window(),
            observed=pl.col("total").cast(pl.Float64),
            baseline=pl.col("expected"),
        )
        .with_columns(
            score=pl.when(pl.col("active_days_before") < 7)
            .then(pl.col("score").clip(upper_bound=39))
            .otherwise(pl.col("score"))
        )
        .join(ctx.profiles.labels, on=ENTITY, how="left")
    )
    return emit(
        moved,
        "schedule_shift",
        FAMILY,
        lambda r: (
            f"ran its usual volume ({fmt(r['total'])} calls, {fmt(r['expected'])} expected) around "
            f"{r['now']:04.1f}h UTC on {r['day']} instead of around {r['was']:04.1f}h: a shift of "
            f"{r['shift']:.1f} hours; {fmt(r['outside'])} calls fell outside its usual hours {r['usual_hours']}, "
            f"where {r['top_share']:.0%} of its previous 28 days' calls ran."
        ),
        lambda r: {
            "counts": {
                "calls": r["total"],
                "outside_usual_hours": r["outside"],
                "shift_hours": round(r["shift"], 1),
            }
        },
    )


DETECTORS = [
    Detector("off_hours", FAMILY, off_hours, "hours or weekdays the entity does not use", OffHours),
    Detector("schedule_shift", FAMILY, schedule_shift, "a scheduled job's window moved", ScheduleShift),
]
