"""The baseline layer: one pass computes every entity's profile from the days strictly before
each judged day, and detectors read it instead of recomputing history in their own loops.

An entity is the connected app when a call has one, else the user (see `entity_activity`); the
org as a whole is an entity for volume. Days without activity are zero rows between an entity's
first day and its org's last day, or medians would lie. Every statistic for day D uses days
before D only (a shift by one before each rolling window).

What a profile holds per entity and day:
- volume: the median of comparable days (weekdays with weekdays, weekend with weekend) over
  about four weeks, a short median of the last five (a level that rises and holds is adopted),
  variance for the count tail, how often such days are active;
- learned periods: weekly jobs (the same weekday active in 3 of 4 weeks or more) and close-cycle
  days (last and first business day, the 15th or the business day before it) that burst before;
- an hour-of-day profile (calls per hour of the previous 28 days);
- error and authentication-failure background rates, recent and frozen before the last week;
- the day the entity was last active (dormancy).
Known sets (addresses, networks, objects, users) with first-seen dates come from `first_seen`.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

import polars as pl

ENTITY = ["org_id", "entity_type", "entity_id"]
HOURS = [f"h{h:02d}" for h in range(24)]
PAST_HOURS = [f"past_h{h:02d}" for h in range(24)]

# Window lengths in comparable days: about four weeks of weekdays or of weekend days.
WEEKDAY_WINDOW, WEEKEND_WINDOW, SHORT_WINDOW = 20, 8, 5
SAME_WEEKDAY_WINDOW = 6  # six weeks of Tuesdays
HOUR_PROFILE_DAYS = 28
ERROR_WINDOW_DAYS = 14
FROZEN_GAP_DAYS = 7  # the frozen error baseline ends a week before the judged day


def entity_activity(activity: pl.DataFrame) -> pl.DataFrame:
    """Hourly activity keyed by the entity it belongs to: the connected app when there is one,
    else the user. An integration user acting through its app is judged as the app, so the two
    are not flagged twice for the same thing."""
    frame = activity.with_columns(
        entity_type=pl.when(pl.col("connected_app_id").is_not_null())
        .then(pl.lit("connected_app"))
        .otherwise(pl.lit("user")),
        # Ids compare on their first 15 characters (an 18-character id is the same app).
        entity_id=pl.coalesce(pl.col("connected_app_id").str.slice(0, 15), "user_id", pl.lit("unknown")),
        day=pl.col("hour").dt.date(),
        hour_of_day=pl.col("hour").dt.hour(),
    )
    labels = frame.group_by(ENTITY).agg(
        entity_label=pl.coalesce(
            pl.col("connected_app_name").drop_nulls().first(),
            pl.col("client_name").drop_nulls().first(),
            pl.col("user_name").drop_nulls().first(),
            pl.col("entity_id").first(),
        )
    )
    return frame.join(labels, on=ENTITY, how="left")


def network_of(ip: pl.Expr) -> pl.Expr:
    """The /24 of an IPv4 address or the /48 of an IPv6 one, as text."""
    v4 = ip.str.extract(r"^(\d+\.\d+\.\d+)\.\d+$")
    v6 = ip.str.to_lowercase().str.extract(r"^([0-9a-f]{0,4}:[0-9a-f]{0,4}:[0-9a-f]{0,4})")
    return pl.coalesce(v4, v6)


def _previous_business_day(day: pl.Expr) -> pl.Expr:
    return day - pl.duration(days=pl.when(day.dt.weekday() == 1).then(3).otherwise(1))


def _cycle_kind(frame: pl.DataFrame) -> pl.DataFrame:
    """Mark close-cycle days: 'month end' (the last two business days of a month and the first
    of the next) and 'mid-month' (the 15th, or the business day before it when it falls on a
    weekend, and the business day before that); `cycle_id` names the close they belong to."""
    day = pl.col("day")
    month_end = day.dt.month_end()
    month_start = day.dt.month_start()
    mid = pl.date(day.dt.year(), day.dt.month(), 15)
    last_bd = month_end - pl.duration(days=(month_end.dt.weekday() - 5).clip(lower_bound=0))
    first_bd = month_start + pl.duration(
        days=pl.when(month_start.dt.weekday() >= 6).then(8 - month_start.dt.weekday()).otherwise(0)
    )
    mid_bd = mid - pl.duration(days=(mid.dt.weekday() - 5).clip(lower_bound=0))
    marked = frame.select(day.unique()).with_columns(
        cycle_kind=pl.when((day == last_bd) | (day == _previous_business_day(last_bd)) | (day == first_bd))
        .then(pl.lit("month end"))
        .when((day == mid_bd) | (day == _previous_business_day(mid_bd)))
        .then(pl.lit("mid-month")),
        # A close that ends on the 1st belongs with the last days of the month before.
        cycle_id=(day + pl.duration(days=5)).dt.month_start(),
    )
    return frame.join(marked, on="day", how="left")


def _rolling(expr: pl.Expr, window: int, how: str) -> pl.Expr:
    """A rolling statistic over the previous WINDOW rows (strictly before the current one)."""
    previous = expr.shift(1)
    if how == "median":
        return previous.rolling_median(window, min_samples=1)
    if how == "mean":
        return previous.rolling_mean(window, min_samples=1)
    if how == "var":
        return previous.rolling_var(window, min_samples=2)
    if how == "sum":
        return previous.rolling_sum(window, min_samples=1)
    if how == "max":
        return previous.rolling_max(window, min_samples=1)
    raise ValueError(how)


def daily_profile(observed: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Zero-fill OBSERVED (one row per active key and day) to a calendar from each key's first
    day to its org's last day, then add the profile columns for each day."""
    org_last = observed.group_by("org_id").agg(org_last=pl.col("day").max())
    calendar = (
        observed.group_by(keys)
        .agg(first_day=pl.col("day").min())
        .join(org_last, on="org_id")
        .with_columns(day=pl.date_ranges("first_day", "org_last"))
        .explode("day")
        .drop("org_last")
    )
    numeric = [c for c, t in observed.schema.items() if t.is_numeric() and c not in keys]
    frame = (
        calendar.join(observed, on=[*keys, "day"], how="left")
        .with_columns(pl.col(numeric).fill_null(0))
        .sort([*keys, "day"])
        .with_columns(
            weekday=pl.col("day").dt.weekday(),
            weekend=pl.col("day").dt.weekday() >= 6,
            active=pl.col("calls") > 0,
            history_days=(pl.col("day") - pl.col("first_day")).dt.total_days(),
        )
    )
    frame = _cycle_kind(frame)
    kind = [*keys, "weekend"]
    calls = pl.col("calls").cast(pl.Float64)
    active = pl.col("active").cast(pl.Float64)

    def by_kind(how: str, weekday_window: int, weekend_window: int, expr: pl.Expr = calls) -> pl.Expr:
        return (
            pl.when(pl.col("weekend"))
            .then(_rolling(expr, weekend_window, how).over(kind))
            .otherwise(_rolling(expr, weekday_window, how).over(kind))
        )

    frame = frame.with_columns(
        long_median=by_kind("median", WEEKDAY_WINDOW, WEEKEND_WINDOW),
        short_median=by_kind("median", SHORT_WINDOW, 3),
        comparable_var=by_kind("var", WEEKDAY_WINDOW, WEEKEND_WINDOW),
        comparable_active=by_kind("mean", WEEKDAY_WINDOW, WEEKEND_WINDOW, active),
        comparable_days=pl.int_range(pl.len())
        .over(kind)
        .clip(upper_bound=pl.when(pl.col("weekend")).then(WEEKEND_WINDOW).otherwise(WEEKDAY_WINDOW)),
        weekday_active=_rolling(active, SAME_WEEKDAY_WINDOW, "mean").over([*keys, "weekday"]),
        weekday_median=_rolling(calls, SAME_WEEKDAY_WINDOW, "median").over([*keys, "weekday"]),
        weekday_var=_rolling(calls, SAME_WEEKDAY_WINDOW, "var").over([*keys, "weekday"]),
        weekday_days=pl.int_range(pl.len()).over([*keys, "weekday"]),
        recent_active=_rolling(active, HOUR_PROFILE_DAYS, "mean").over(keys),
        last_active_day=pl.when(pl.col("active")).then(pl.col("day")).shift(1).forward_fill().over(keys),
    )
    # Close-cycle days: the same kind of close in earlier months (only closes with at least two
    # of their days in the history: a close cut by the start of the data says nothing), and
    # whether it burst then.
    cycle = [*keys, "cycle_kind"]
    closes = (
        frame.filter(pl.col("cycle_kind").is_not_null())
        .group_by([*cycle, "cycle_id"])
        .agg(close_calls=calls.max(), close_level=pl.col("long_median").min(), close_days=pl.len())
        .sort("cycle_id")
    )
    complete = (
        closes.filter(pl.col("close_days") >= 2)
        .with_columns(
            previous_cycle_calls=pl.col("close_calls").rolling_max(2, min_samples=1).over(cycle),
            previous_cycle_level=pl.col("close_level"),
        )
        .select(*cycle, "cycle_id", "previous_cycle_calls", "previous_cycle_level")
    )
    closes = closes.select(*cycle, "cycle_id").join_asof(
        complete,
        on="cycle_id",
        by=cycle,
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    frame = frame.join(closes, on=[*cycle, "cycle_id"], how="left")
    # The same day of the month: a job that bursts on the 20th every month.
    monthday = [*keys, "monthday"]
    frame = frame.with_columns(monthday=pl.col("day").dt.day()).with_columns(
        previous_month_calls=calls.shift(1).over(monthday),
        # The level then, where enough comparable days backed it (an early day's level is noise).
        previous_month_level=pl.when(pl.col("comparable_days") >= 5)
        .then(pl.col("long_median"))
        .shift(1)
        .over(monthday),
    )
    frame = frame.with_columns(
        recurring_burst=(
            (
                pl.col("cycle_kind").is_not_null()
                & (
                    pl.col("previous_cycle_calls")
                    >= 2 * pl.col("previous_cycle_level").fill_null(0).clip(lower_bound=1)
                )
            )
            | (
                pl.col("previous_month_calls")
                >= 2 * pl.col("previous_month_level").fill_null(0).clip(lower_bound=1)
            )
        ).fill_null(False),
        previous_cycle_calls=pl.when(
            pl.col("previous_month_calls")
            >= 2 * pl.col("previous_month_level").fill_null(0).clip(lower_bound=1)
        )
        .then(pl.max_horizontal("previous_cycle_calls", "previous_month_calls"))
        .otherwise(pl.col("previous_cycle_calls")),
        weekly=(
            (pl.col("weekday_active") >= 0.75)
            & (pl.col("weekday_days") >= 3)
            & (pl.col("comparable_active") < 0.75)
        ).fill_null(False),
    )
    level = pl.max_horizontal(pl.col("long_median"), pl.col("short_median")).fill_null(0)
    expected = (
        pl.when(pl.col("weekly")).then(pl.max_horizontal(pl.col("weekday_median"), level)).otherwise(level)
    )
    expected = (
        pl.when(pl.col("recurring_burst"))
        .then(pl.max_horizontal(expected, 0.8 * pl.col("previous_cycle_calls")))
        .otherwise(expected)
    )
    spread = pl.when(pl.col("weekly")).then(pl.col("weekday_var")).otherwise(pl.col("comparable_var"))
    return frame.with_columns(expected=expected).with_columns(
        # Overdispersed counts: never tighter than Poisson, never a coefficient of variation under 25%.
        variance=pl.max_horizontal(spread.fill_null(0), pl.col("expected"), (0.25 * pl.col("expected")) ** 2),
        usual_day=pl.col("weekly") | (pl.col("comparable_active") >= 0.5) | pl.col("recurring_burst"),
    )


class Profiles:
    """Every entity's profile, built once per scan from the hourly aggregate."""

    def __init__(self, activity: pl.DataFrame, auth: pl.DataFrame) -> None:
        self.activity = activity  # from entity_activity()
        self.auth = auth

    @cached_property
    def hourly(self) -> pl.DataFrame:
        """Per entity and hour: calls, errors, distinct objects."""
        return self.activity.group_by([*ENTITY, "day", "hour_of_day", "hour"]).agg(
            calls=pl.col("calls").sum(),
            errors=pl.col("errors").sum(),
            objects=pl.col("entity_name").drop_nulls().n_unique(),
        )

    @cached_property
    def labels(self) -> pl.DataFrame:
        """Each entity's label."""
        return self.activity.group_by(ENTITY).agg(entity_label=pl.col("entity_label").first())

    @cached_property
    def observed(self) -> pl.DataFrame:
        """Per entity and active day: what it did."""
        per_day = self.activity.group_by([*ENTITY, "day"]).agg(
            calls=pl.col("calls").sum(),
            errors=pl.col("errors").sum(),
            rows=pl.col("rows_processed").sum(),
            ips=pl.col("ip").n_unique(),
            objects=pl.col("entity_name").drop_nulls().n_unique(),
            writes=pl.col("writes").sum(),
            bulk=pl.col("bulk_calls").sum(),
            first_ts=pl.col("first_ts").min(),
            last_ts=pl.col("last_ts").max(),
        )
        peaks = (
            # Ties go to the earliest hour, so the busiest hour (and a finding's id) is stable.
            self.hourly.sort(["calls", "hour"], descending=[True, False])
            .group_by([*ENTITY, "day"])
            .agg(
                peak_calls=pl.col("calls").first(),
                peak_hour=pl.col("hour").first(),
                peak_objects=pl.col("objects").max(),
                peak_error_share=pl.col("errors").max() / pl.col("errors").sum().clip(lower_bound=1),
            )
        )
        return per_day.join(peaks, on=[*ENTITY, "day"])

    @cached_property
    def daily(self) -> pl.DataFrame:
        """Per entity and calendar day: observed counts and the profile before that day."""
        frame = daily_profile(self.observed, ENTITY)
        errors, calls = pl.col("errors").cast(pl.Float64), pl.col("calls").cast(pl.Float64)
        peak = pl.col("peak_calls").cast(pl.Float64)
        return frame.with_columns(
            past_errors=_rolling(errors, ERROR_WINDOW_DAYS, "sum").over(ENTITY),
            past_calls=_rolling(calls, ERROR_WINDOW_DAYS, "sum").over(ENTITY),
            frozen_errors=errors.shift(FROZEN_GAP_DAYS + 1).rolling_sum(21, min_samples=1).over(ENTITY),
            frozen_calls=calls.shift(FROZEN_GAP_DAYS + 1).rolling_sum(21, min_samples=1).over(ENTITY),
            # The usual busiest hour, over active days only (a silent day has no busiest hour).
            past_peak=_rolling(pl.when(pl.col("active")).then(peak), HOUR_PROFILE_DAYS, "median").over(
                ENTITY
            ),
            past_peak_high=_rolling(pl.when(pl.col("active")).then(peak), HOUR_PROFILE_DAYS, "max").over(
                ENTITY
            ),
            past_peak_var=_rolling(pl.when(pl.col("active")).then(peak), HOUR_PROFILE_DAYS, "var").over(
                ENTITY
            ),
            past_peak_objects=_rolling(
                pl.when(pl.col("active")).then(pl.col("peak_objects").cast(pl.Float64)),
                HOUR_PROFILE_DAYS,
                "max",
            ).over(ENTITY),
            active_days_before=pl.col("active").cast(pl.Int64).cum_sum().shift(1).fill_null(0).over(ENTITY),
        ).join(self.labels, on=ENTITY, how="left")

    @cached_property
    def org_daily(self) -> pl.DataFrame:
        """The org's total API calls per day, profiled like an entity."""
        observed = self.observed.group_by("org_id", "day").agg(pl.col("calls").sum())
        return daily_profile(observed, ["org_id"]).with_columns(
            entity_type=pl.lit("org"), entity_id=pl.col("org_id"), entity_label=pl.lit("all API activity")
        )

    @cached_property
    def hours(self) -> pl.DataFrame:
        """Per entity and calendar day: calls in each hour of the day (h00..h23) and in the same
        hour over the previous 28 days (past_h00..past_h23)."""
        wide = self.hourly.pivot(
            on="hour_of_day", index=[*ENTITY, "day"], values="calls", aggregate_function="sum"
        )
        wide = wide.rename({str(h): HOURS[h] for h in range(24) if str(h) in wide.columns})
        wide = wide.with_columns(pl.lit(0, pl.Int64).alias(c) for c in HOURS if c not in wide.columns)
        calendar = self.daily.select(*ENTITY, "day", "history_days", "active_days_before")
        frame = (
            calendar.join(wide, on=[*ENTITY, "day"], how="left")
            .with_columns(pl.col(HOURS).fill_null(0).cast(pl.Float64))
            .sort([*ENTITY, "day"])
        )
        return frame.with_columns(
            _rolling(pl.col(h), HOUR_PROFILE_DAYS, "sum").over(ENTITY).fill_null(0).alias(p)
            for h, p in zip(HOURS, PAST_HOURS, strict=True)
        )

    def first_seen(self, value: str, frame: pl.DataFrame | None = None) -> pl.DataFrame:
        """Per entity and VALUE (an address, object, user...): when it was first seen, and how
        often the entity met new values before that (new values per day of history, with half
        a value of prior so that 'never' is not certainty)."""
        source = self.activity if frame is None else frame
        entity_first = source.group_by(ENTITY).agg(entity_first=pl.col("first_ts").min())
        pairs = (
            source.filter(pl.col(value).is_not_null())
            .group_by([*ENTITY, value])
            .agg(first_ts=pl.col("first_ts").min(), last_ts=pl.col("last_ts").max())
            .join(entity_first, on=ENTITY)
            .with_columns(
                first_day=pl.col("first_ts").dt.date(),
                history_days=(
                    pl.col("first_ts").dt.date() - pl.col("entity_first").dt.date()
                ).dt.total_days(),
            )
            .sort([*ENTITY, "first_ts"])
        )
        return (
            pairs.with_columns(
                known_before=(pl.col("first_day").rank("min").over(ENTITY) - 1).cast(pl.Int64),
                known_on_first_day=(pl.col("history_days") == 0).sum().over(ENTITY),
            )
            .with_columns(
                new_before=(pl.col("known_before") - pl.col("known_on_first_day")).clip(lower_bound=0),
            )
            .with_columns(
                novelty_rate=(pl.col("new_before") + 0.5) / (pl.col("history_days") + 1),
            )
        )


def in_window(column: str, start: datetime, end: datetime) -> pl.Expr:
    """Rows whose COLUMN (a day or a timestamp) falls in the judged window."""
    col = pl.col(column)
    return (col >= start) & (col < end) if column != "day" else (col >= start.date()) & (col < end.date())
