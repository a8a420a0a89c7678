"""Reading the dates and times a user types (UTC), with messages that name the option.

The bottom layer: the CLI and the services read `--since 2025-11-01` or `--start 2025-11-17T03:00Z`
the same way. Every function raises `TimeError` (a `ValueError`) whose message says what was given
and what was expected, ready to show as a one-line error.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


class TimeError(ValueError):
    """A date or time that cannot be read; the message names the option and the value."""


def parse_date(value: str | None, option: str) -> date | None:
    """A day (YYYY-MM-DD), or None when none was given."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise TimeError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from None


def day_bound(value: str | None, option: str, end: bool = False) -> datetime | None:
    """The start of a day (naive UTC), or for an END the start of the day after it."""
    day = parse_date(value, option)
    if day is None:
        return None
    start = datetime(day.year, day.month, day.day)
    return start + timedelta(days=1) if end else start


def parse_moment(value: str, option: str, end: bool = False) -> datetime:
    """A UTC time (ISO 8601, 'Z' allowed) as naive UTC; a bare date means its start, or for an
    END the start of the day after (so `--end 2025-11-20` includes that day)."""
    text = value.strip().removesuffix("Z").replace(" ", "T")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeError(
            f"{option} {value!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if end and len(text) == 10:
        moment += timedelta(days=1)
    return moment


def days_before(days: int, today: date | None = None) -> date:
    """The day DAYS before TODAY (default: today, local clock)."""
    return (today or date.today()) - timedelta(days=days)
