"""The scan pipeline shared by `scan`, `demo` and the TUI: choose the judged days, run the suite,
store the findings, remember how far the store has been judged."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from workbench.config import Settings
from workbench.detect.load import Loading
from workbench.detect.registry import DetectorFailure, build_context, detect
from workbench.store.findings import save_findings
from workbench.store.queries import first_row

# A day is judged only with this many days of history before it in the store.
MIN_HISTORY_DAYS = 7
LAST_JUDGED_KEY = "scan_last_judged_day"
# Events dated after now plus this are not trusted to place the scan window (a row from 2099
# must not move the judged days out of reach).
FUTURE_SLACK = timedelta(days=2)


class ScanError(Exception):
    """A scan that cannot run as asked; the message says why."""


@dataclass
class JudgedDays:
    """Which days a scan judges, and which it could not (too little history before them)."""

    first: date | None
    last: date | None
    too_little_history: tuple[date, date] | None = None
    reason: str = ""

    @property
    def empty(self) -> bool:
        return self.first is None or self.last is None or self.first > self.last

    def describe(self) -> str:
        """One line for stderr: what is judged, what is not and why."""
        if self.empty:
            text = f"no day to judge{': ' + self.reason if self.reason else ''}"
        else:
            count = (self.last - self.first).days + 1  # type: ignore[operator]
            text = f"judging {count} day(s), {self.first} to {self.last} (UTC)"
            if self.reason:
                text += f" ({self.reason})"
        if self.too_little_history:
            start, end = self.too_little_history
            text += (
                f"; not judged for too little history (fewer than {MIN_HISTORY_DAYS} days before): "
                f"{start}" + (f" to {end}" if end != start else "")
            )
        return text


@dataclass
class ScanResult:
    """A finished scan: the judged days, the findings, the detectors that failed, timings."""

    days: JudgedDays
    findings: pl.DataFrame
    failures: list[DetectorFailure] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.failures


def _store_days(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and last day of activity, ignoring anything dated in the future."""
    horizon = datetime.now(UTC).replace(tzinfo=None) + FUTURE_SLACK
    row = first_row(
        con.execute(
            "SELECT min(first_ts)::DATE, max(last_ts)::DATE FROM hourly_activity WHERE first_ts < ?",
            [horizon],
        )
    )
    return (row[0], row[1]) if row else (None, None)


def last_judged_day(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last day an earlier default scan judged, if any."""
    row = first_row(con.execute("SELECT value FROM meta WHERE key = ?", [LAST_JUDGED_KEY]))
    return date.fromisoformat(row[0]) if row else None


def judged_days(
    con: duckdb.DuckDBPyConnection,
    since: date | None = None,
    until: date | None = None,
    all_days: bool = False,
) -> JudgedDays:
    """Every day with enough history on a store never scanned; after that the days since the last
    scan (the last judged day again, since it may have been partial); or exactly --since/--until."""
    first, last = _store_days(con)
    if first is None or last is None:
        return JudgedDays(None, None, reason="the store has no API activity yet")
    earliest = first + timedelta(days=MIN_HISTORY_DAYS)
    reason = ""
    if since or until:
        start, end = since or earliest, until or last
        reason = "as asked"
    elif all_days:
        start, end, reason = earliest, last, "every day with enough history"
    else:
        previous = last_judged_day(con)
        if previous is None:
            start, end, reason = earliest, last, "first scan of this store: every day with enough history"
        else:
            start, end, reason = (
                max(previous, earliest),
                last,
                f"since the last scan, which judged up to {previous}",
            )
    skipped = None
    if start < earliest:
        skipped = (start, min(end, earliest - timedelta(days=1)))
        start = earliest
    return JudgedDays(start, end, skipped, reason)


def run_scan(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    days: JudgedDays,
    detectors: list[str] | None = None,
    save: bool = True,
    loading: Loading | None = None,
) -> ScanResult:
    """Run the suite over DAYS (history before them is the baseline), store the findings and
    remember the last judged day. LOADING: the aggregates' queries, if the caller started them
    early (see detect.load); a scan with nothing to judge waits for them to end."""
    if days.empty:
        if loading is not None:
            loading.finish()
        return ScanResult(days, detect_nothing())
    assert days.first is not None and days.last is not None
    started = time.perf_counter()
    start = datetime.combine(days.first, datetime.min.time())
    end = datetime.combine(days.last + timedelta(days=1), datetime.min.time())
    ctx = build_context(con, settings, start, end, loading)
    loaded = time.perf_counter()
    run = detect(ctx, detectors)
    detected = time.perf_counter()
    if save:
        save_findings(con, run.findings, replace=(start, end, detectors))
        if detectors is None:
            previous = last_judged_day(con)
            if previous is None or days.last >= previous:
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)", [LAST_JUDGED_KEY, days.last.isoformat()]
                )
    seconds = {"load": loaded - started, "detect": detected - loaded, "store": time.perf_counter() - detected}
    return ScanResult(
        days, run.findings, run.failures, seconds | {f"detector:{k}": v for k, v in run.seconds.items()}
    )


def detect_nothing() -> pl.DataFrame:
    """An empty findings frame."""
    from workbench.findings import findings_frame

    return findings_frame([])
