"""What the store holds: per org x event type coverage, and the days missing inside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb

from workbench.store.queries import first_row, load_query


@dataclass
class Coverage:
    """Coverage of one event type in one org."""

    org_id: str
    event_type: str
    days_covered: int
    first_event: datetime | None
    last_event: datetime | None
    events: int
    files: int
    rejected_rows: int
    missing_days: list[date] = field(default_factory=list)


@dataclass
class StoreStatus:
    """Everything `workbench status` reports."""

    coverage: list[Coverage]
    refused_files: int
    total_files: int

    @property
    def orgs(self) -> list[str]:
        """Distinct org ids, sorted."""
        return sorted({c.org_id for c in self.coverage if c.org_id})

    @property
    def events(self) -> int:
        """All stored events."""
        return sum(c.events for c in self.coverage)

    @property
    def rejected_rows(self) -> int:
        """All rejected rows."""
        return sum(c.rejected_rows for c in self.coverage)

    @property
    def first_event(self) -> datetime | None:
        """Earliest event in the store."""
        return min((c.first_event for c in self.coverage if c.first_event), default=None)

    @property
    def last_event(self) -> datetime | None:
        """Latest event in the store."""
        return max((c.last_event for c in self.coverage if c.last_event), default=None)


def missing_days(days: list[date]) -> list[date]:
    """Days absent between the first and the last of DAYS (a gap an investigator must see)."""
    if not days:
        return []
    present = set(days)
    first, last = min(days), max(days)
    return [
        first + timedelta(n) for n in range((last - first).days + 1) if first + timedelta(n) not in present
    ]


def store_status(con: duckdb.DuckDBPyConnection) -> StoreStatus:
    """Coverage, gaps and file counts of the store."""
    rows = con.execute(load_query("status_by_org_event_type")).fetchall()
    coverage = [Coverage(*row) for row in rows]
    days: dict[tuple[str, str], list[date]] = {}
    for org_id, event_type, day, _ in con.execute(load_query("coverage_by_day")).fetchall():
        days.setdefault((org_id, event_type), []).append(day)
    for item in coverage:
        item.missing_days = missing_days(days.get((item.org_id, item.event_type), []))
    refused, total = first_row(
        con.execute("SELECT count(*) FILTER (WHERE status = 'refused'), count(*) FROM files")
    )  # type: ignore[misc]
    return StoreStatus(coverage, int(refused), int(total))
