"""Temporal: activity at hours or on days an entity does not use; a job's window moving."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from workbench.detect.base import DetectorContext, Finding, confidence, day_start, fmt, per_entity


def _hour_matrix(group: pl.DataFrame) -> tuple[list, np.ndarray]:
    """Days (sorted) and a days x 24 matrix of calls for one entity."""
    days = sorted(set(group["day"].to_list()))
    index = {d: i for i, d in enumerate(days)}
    matrix = np.zeros((len(days), 24))
    for day, hour, calls in group.select("day", "hour_of_day", "calls").iter_rows():
        matrix[index[day], hour] += calls
    return days, matrix


def _hour_ranges(hours: list[int]) -> str:
    return ", ".join(f"{h:02d}:00-{h + 1:02d}:00" for h in hours)


def off_hours(ctx: DetectorContext) -> list[Finding]:
    """Calls in hours of the day (or on weekend days) the entity never or rarely used, or outside
    the hours its catalog entry declares."""
    p = ctx.params("off_hours")
    findings = []
    for (org, etype, eid, label), group in per_entity(ctx.entity_activity):
        days, matrix = _hour_matrix(group)
        entry = ctx.catalog(etype, eid)
        for i, day in enumerate(days):
            if not ctx.in_window(day):
                continue
            past = [j for j, d in enumerate(days) if day - timedelta(days=p["baseline_days"]) <= d < day]
            declared = entry is not None and entry.expected_hours is not None
            if len(past) < p["min_history_days"] and not declared:
                continue
            profile = matrix[past].sum(axis=0)
            share = profile / max(profile.sum(), 1.0)
            today = matrix[i]
            if declared:
                odd = [h for h in range(24) if today[h] > 0 and not entry.in_hours(h)]  # type: ignore[union-attr]
            else:
                odd = [h for h in range(24) if today[h] > 0 and share[h] < p["rare_share"]]
            calls = float(today[odd].sum())
            if calls < p["min_calls"]:
                continue
            never = [h for h in odd if profile[h] == 0]
            usual = [h for h in range(24) if share[h] >= 0.02]
            usual_text = f"{min(usual):02d}:00-{max(usual) + 1:02d}:00" if usual else "none"
            expected = (
                f"declared {entry.hours_text()}"  # type: ignore[union-attr]
                if declared
                else f"its usual hours over {len(past)} days are {usual_text} UTC"
            )
            score = (60 if never or declared else 45) + min(20, np.log2(calls / p["min_calls"] + 1) * 6)
            first, last = min(odd), max(odd)
            findings.append(
                Finding(
                    "off_hours", "temporal", org, etype, eid, label,
                    day_start(day) + timedelta(hours=first), day_start(day) + timedelta(hours=last + 1),
                    score * (1.0 if declared else confidence(len(past))),
                    f"made {fmt(calls)} calls on {day} at {_hour_ranges(odd)} UTC; {expected}"
                    + (f", and it never used {_hour_ranges(never)} before." if never and not declared else "."),
                    observed=calls, baseline=float(profile[odd].sum()),
                    evidence={"counts": {"calls_off_hours": calls}, "hours": odd},
                )
            )  # fmt: skip
        findings.extend(_weekend_activity(ctx, org, etype, eid, label, days, matrix, p))
    return findings


def _weekend_activity(ctx, org, etype, eid, label, days, matrix, p) -> list[Finding]:  # type: ignore[no-untyped-def]
    """A weekday-only entity (several weekends of history, none used) active on a weekend."""
    findings = []
    entry = ctx.catalog(etype, eid)
    for i, day in enumerate(days):
        if day.weekday() < 5 or not ctx.in_window(day) or matrix[i].sum() < p["min_calls"]:
            continue
        history_start = day - timedelta(days=p["baseline_days"])
        past_days = [d for d in days if history_start <= d < day]
        if not past_days:
            continue
        calendar = [past_days[0] + timedelta(n) for n in range((day - past_days[0]).days)]
        weekends_seen = sum(1 for d in calendar if d.weekday() == 5)
        weekend_active = sum(1 for d in past_days if d.weekday() >= 5)
        declared_days = entry.expected_weekdays if entry else None
        if declared_days is not None:
            if day.weekday() in declared_days:
                continue
        elif weekends_seen < 2 or weekend_active > 0:
            continue
        calls = float(matrix[i].sum())
        findings.append(
            Finding(
                "off_hours", "temporal", org, etype, eid, label, day_start(day), day_start(day) + timedelta(days=1),
                60 * confidence(len(past_days)),
                f"made {fmt(calls)} calls on {day:%A} {day}; "
                + ("its catalog entry declares no activity that day." if declared_days is not None
                   else f"it was never active on {weekends_seen} previous weekends."),
                observed=calls, baseline=0, evidence={"counts": {"calls": calls}},
            )
        )  # fmt: skip
    return findings


def _circular_mean_hour(weights: np.ndarray) -> float:
    angles = np.arange(24) * 2 * np.pi / 24
    x, y = (weights * np.cos(angles)).sum(), (weights * np.sin(angles)).sum()
    return float((np.arctan2(y, x) * 24 / (2 * np.pi)) % 24)


def schedule_shift(ctx: DetectorContext) -> list[Finding]:
    """A scheduled job (calls concentrated in a few hours) now runs at other hours with about the
    same volume: the pattern of a moved job or of someone else driving the account."""
    p = ctx.params("schedule_shift")
    findings = []
    for (org, etype, eid, label), group in per_entity(ctx.entity_activity):
        days, matrix = _hour_matrix(group)
        for i, day in enumerate(days):
            if not ctx.in_window(day):
                continue
            past = [j for j, d in enumerate(days) if day - timedelta(days=p["baseline_days"]) <= d < day]
            if len(past) < p["min_history_days"]:
                continue
            profile = matrix[past].sum(axis=0)
            top = np.argsort(profile)[::-1][:6]
            if profile[top].sum() < p["concentration"] * profile.sum():
                continue  # not a scheduled job
            active = {int(h) for h in top if profile[h] > 0.02 * profile.sum()}
            today = matrix[i]
            total = today.sum()
            outside = sum(today[h] for h in range(24) if h not in active)
            daily = matrix[past].sum(axis=1)
            median = float(np.median(daily[daily > 0])) if (daily > 0).any() else 0.0
            if total == 0 or outside < p["outside_share"] * total or not 0.5 * median <= total <= 2 * median:
                continue
            was, now = _circular_mean_hour(profile), _circular_mean_hour(today)
            shift = min(abs(now - was), 24 - abs(now - was))
            if shift < p["min_shift_hours"]:
                continue
            findings.append(
                Finding(
                    "schedule_shift", "temporal", org, etype, eid, label, day_start(day),
                    day_start(day) + timedelta(days=1), (45 + min(25, shift * 3)) * confidence(len(past)),
                    f"ran its usual volume ({fmt(total)} calls vs median {fmt(median)}) around {now:04.1f}h UTC "
                    f"on {day} instead of around {was:04.1f}h: a shift of {shift:.1f} hours; "
                    f"{fmt(outside)} calls fell outside its usual hours {sorted(active)}.",
                    observed=total, baseline=median,
                    evidence={"counts": {"calls": total, "outside_usual_hours": outside, "shift_hours": shift}},
                )
            )  # fmt: skip
    return findings
