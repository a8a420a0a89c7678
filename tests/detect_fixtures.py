"""Tiny, hand-made aggregates for detector unit tests (no database needed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from workbench.config import Settings
from workbench.detect.base import DetectorContext

ORG = "00D000000000001"
APP = "0H4000000000001"
USER = "005000000000001"
END = date(2025, 11, 20)  # the last day of every fixture's history

ACTIVITY_SCHEMA = {
    "org_id": pl.Utf8, "hour": pl.Datetime("us"), "connected_app_id": pl.Utf8, "connected_app_name": pl.Utf8,
    "user_id": pl.Utf8, "user_name": pl.Utf8, "client_name": pl.Utf8, "ip": pl.Utf8, "entity_name": pl.Utf8,
    "api_family": pl.Utf8, "http_method": pl.Utf8, "calls": pl.Int64, "errors": pl.Int64,
    "auth_failures": pl.Int64, "rows_processed": pl.Int64, "first_ts": pl.Datetime("us"),
    "last_ts": pl.Datetime("us"),
}  # fmt: skip
AUTH_SCHEMA = {
    "org_id": pl.Utf8, "hour": pl.Datetime("us"), "user_id": pl.Utf8, "user_name": pl.Utf8, "ip": pl.Utf8,
    "failures": pl.Int64, "calls": pl.Int64,
}  # fmt: skip


def row(hour: datetime, calls: int = 10, **overrides: Any) -> dict[str, Any]:
    """One hourly aggregate row of the test app."""
    base = {
        "org_id": ORG, "hour": hour, "connected_app_id": APP, "connected_app_name": "Vendor Sync",
        "user_id": USER, "user_name": "sync@acme.com", "client_name": "Vendor/1.0", "ip": "52.1.1.1",
        "entity_name": "Account", "api_family": "REST", "http_method": "GET", "calls": calls, "errors": 0,
        "auth_failures": 0, "rows_processed": 0, "first_ts": hour + timedelta(minutes=1),
        "last_ts": hour + timedelta(minutes=59),
    }  # fmt: skip
    base.update(overrides)
    return base


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def history(
    days: int = 30,
    hours: Iterable[int] = range(8, 18),
    calls: int = 10,
    end: date = END,
    weekdays_only: bool = False,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """A steady app: the same calls every listed hour of every day up to END."""
    rows = []
    for n in range(days):
        day = end - timedelta(days=days - 1 - n)
        if weekdays_only and day.weekday() >= 5:
            continue
        rows += [row(at(day, h), calls, **overrides) for h in hours]
    return rows


def context(
    rows: list[dict[str, Any]],
    window: tuple[date, date] = (END, END),
    raw: dict[str, pl.DataFrame] | None = None,
    auth: list[dict[str, Any]] | None = None,
    settings: Settings | None = None,
) -> DetectorContext:
    """A detector context over these rows; the window covers whole days, both ends included."""
    frames = raw or {}

    def fetch(name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        return frames.get(name, pl.DataFrame())

    return DetectorContext(
        activity=pl.DataFrame(rows, schema=ACTIVITY_SCHEMA),
        auth=pl.DataFrame(auth or [], schema=AUTH_SCHEMA),
        settings=settings or Settings(),
        window_start=at(window[0], 0),
        window_end=at(window[1], 0) + timedelta(days=1),
        raw=fetch,
    )
