"""Overview: orgs, coverage calendar (days x event types, gaps visible), totals, findings, top apps."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Static

from workbench import views
from workbench.render import inert
from workbench.store.status import StoreStatus
from workbench.tui.messages import FocusMoved
from workbench.tui.panes.base import Pane
from workbench.tui.widgets.page_table import PageLayout, PageTable, Styled, lay_out
from workbench.tui.widgets.table import SEVERITY_STYLE, literal

SEVERITIES = ("critical", "high", "medium", "low")
FAMILY_COLUMNS = ("family", *SEVERITIES)
TOP_COLUMNS = ("integration (by risk)", "risk", "privilege", "calls", "objects", "first seen", "last seen")


class OverviewPane(Pane):
    """What the store holds and where to look first; Enter on an integration opens its Timeline."""

    last_seen: dict[str, Any] = {}

    NAME = "overview"
    TITLE = "Overview"
    KEY = "1"
    FOCUS = "#overview-top"
    PRELOAD = True
    EXPORT = "integrations as CSV"

    def compose(self) -> ComposeResult:
        yield Static("loading...", id="overview-totals")
        yield Static("", id="overview-coverage")
        # Line-API tables, laid out in the worker: a DataTable drew its visible cells again each
        # time the pane was shown or left (5-12 ms of one event-loop step).
        yield PageTable(FAMILY_COLUMNS, id="overview-findings")
        yield PageTable(TOP_COLUMNS, id="overview-top")

    @work(thread=True, exclusive=True, group="overview")
    def load(self) -> None:
        def read(cursor: Any) -> tuple[views.Overview, PageLayout, PageLayout]:
            data = views.overview(cursor, self.context.settings)
            return data, _families(data), _top(data)

        self.fetch(read, lambda found: self.show(*found))

    def show(self, data: views.Overview, families: PageLayout, top_rows: PageLayout) -> None:
        status = data.status
        self.query_one("#overview-totals", Static).update(literal(_totals(status)))
        self.query_one("#overview-coverage", Static).update(_calendar(status))
        findings = self.query_one("#overview-findings", PageTable)
        findings.set_page(families)
        findings.border_title = (
            "Findings by family and severity" if data.findings_by else "No findings yet: run `workbench scan`"
        )
        top = self.query_one("#overview-top", PageTable)
        top.border_title = "Integrations by risk (highest finding score), then privilege"
        top.set_page(top_rows)
        self.last_seen = {app["connected_app_id"]: app["last_seen"] for app in data.top_by_risk}

    @on(PageTable.RowSelected, "#overview-top")
    def open_integration(self, event: PageTable.RowSelected) -> None:
        """Enter on an integration: its Timeline, at its last activity (one level down)."""
        app_id = event.row_key
        if app_id:
            moment = self.last_seen.get(app_id) or self.state.focus_time
            self.post_message(FocusMoved(app_id, moment, open_timeline=True))


def _families(data: views.Overview) -> PageLayout:
    """Findings counted by family and severity, each count in its severity's colour."""
    rows = []
    for family in sorted({r["category"] for r in data.findings_by}):
        counts = {r["severity"]: r["findings"] for r in data.findings_by if r["category"] == family}
        rows.append([family, *(Styled(str(counts.get(s, "")), SEVERITY_STYLE[s]) for s in SEVERITIES)])
    return lay_out(FAMILY_COLUMNS, rows)


def _top(data: views.Overview) -> PageLayout:
    """The integrations by risk, keyed by connected app id (enter opens its Timeline)."""
    rows = [
        [
            app["name"],
            str(app["risk"]),
            str(app["privilege"]),
            app["calls"],
            str(len(app["objects"] or [])),
            f"{app['first_seen']:%Y-%m-%d}",
            f"{app['last_seen']:%Y-%m-%d}",
        ]
        for app in data.top_by_risk
    ]
    return lay_out(TOP_COLUMNS, rows, keys=[app["connected_app_id"] for app in data.top_by_risk])


def _totals(status: StoreStatus) -> str:
    """The one-line summary of the store."""
    if not (status.first_event and status.last_event):
        return "The store is empty: run `workbench ingest PATH` or `workbench fetch`."
    return (
        f"{len(status.orgs)} org(s): {', '.join(status.orgs)}  |  {status.events:,} events from "
        f"{status.first_event:%Y-%m-%d} to {status.last_event:%Y-%m-%d}  |  "
        f"{status.total_files - status.refused_files} files, {status.refused_files} refused, "
        f"{status.rejected_rows:,} rejected rows"
    )


def _calendar(status: StoreStatus) -> Text:
    """Days x event types as text: a block where events exist, a red dot for a day without."""
    last = status.last_event.date() if status.last_event else date.today()
    first = max(status.first_event.date(), last - timedelta(days=34)) if status.first_event else last
    text = Text(f"Coverage {first} to {last} (a red dot is a day without events)\n", style="italic")
    width = max((len(f"{c.org_id} {c.event_type}") for c in status.coverage), default=10)
    for c in status.coverage:
        missing = set(c.missing_days)
        begin = c.first_event.date() if c.first_event else last
        end = c.last_event.date() if c.last_event else last
        text.append(inert(f"{c.org_id} {c.event_type}").ljust(width) + " ")
        day = first
        while day <= last:
            if day < begin or day > end:
                text.append(" ")
            elif day in missing:
                text.append("·", style="bold red")
            else:
                text.append("█", style="green")
            day += timedelta(days=1)
        text.append("\n")
    return text
