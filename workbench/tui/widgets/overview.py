"""Overview: orgs, coverage calendar (days x event types, gaps visible), totals, findings, top apps."""

from __future__ import annotations

from datetime import date, timedelta

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from workbench import views
from workbench.safe_text import strip_control
from workbench.store.status import StoreStatus
from workbench.tui.widgets.common import SEVERITY_STYLE, Pane


class OverviewPane(Pane):
    """What the store holds and where to look first."""

    def compose(self) -> ComposeResult:
        yield Static("loading...", id="overview-totals")
        yield Static("", id="overview-coverage")
        yield Static("", id="overview-findings")
        yield Static("", id="overview-top")

    @work(thread=True, exclusive=True, group="overview")
    def load(self) -> None:
        try:
            data = views.overview(self.workbench.cursor(), self.workbench.settings)
        except Exception as exc:  # shown, never a crash
            self.app.call_from_thread(self.fail, exc)
            return
        self.app.call_from_thread(self.show, data)

    def show(self, data: views.Overview) -> None:
        status = data.status
        self.query_one("#overview-totals", Static).update(Text(
            f"{len(status.orgs)} org(s): {', '.join(status.orgs)}  |  {status.events:,} events from "
            f"{status.first_event:%Y-%m-%d} to {status.last_event:%Y-%m-%d}  |  "
            f"{status.total_files - status.refused_files} files, {status.refused_files} refused, "
            f"{status.rejected_rows:,} rejected rows" if status.first_event and status.last_event
            else "The store is empty: run `workbench ingest PATH` or `workbench fetch`."
        ))  # fmt: skip
        self.query_one("#overview-coverage", Static).update(_calendar(status))
        findings = Table(title="Findings by family and severity", expand=False)
        findings.add_column("family")
        for severity in ("critical", "high", "medium", "low"):
            findings.add_column(severity, justify="right")
        families = sorted({r["category"] for r in data.findings_by})
        for family in families:
            counts = {r["severity"]: r["findings"] for r in data.findings_by if r["category"] == family}
            findings.add_row(family, *(Text(str(counts.get(s, "")), style=SEVERITY_STYLE[s])
                                       for s in ("critical", "high", "medium", "low")))  # fmt: skip
        if not families:
            findings.add_row("no findings yet: run `workbench scan`", "", "", "", "")
        self.query_one("#overview-findings", Static).update(findings)
        top = Table(title="Integrations: by risk (highest finding score), then volume", expand=False)
        for name in ("app", "risk", "privilege", "calls", "objects", "first seen", "last seen"):
            top.add_column(name)
        for app in data.top_by_risk:
            top.add_row(
                Text(strip_control(app["name"])), str(app["risk"]), str(app["privilege"]), f"{app['calls']:,}",
                str(len(app["objects"] or [])), f"{app['first_seen']:%Y-%m-%d}", f"{app['last_seen']:%Y-%m-%d}",
            )  # fmt: skip
        self.query_one("#overview-top", Static).update(top)


def _calendar(status: StoreStatus) -> Table:
    """Days x event types: a block where events exist, a red dot for a day without."""
    table = Table(
        title="Coverage (last 35 days; red dot = no events that day)", expand=False, show_edge=False
    )
    table.add_column("org / event type")
    table.add_column("days")
    last = status.last_event.date() if status.last_event else date.today()
    first = max(status.first_event.date(), last - timedelta(days=34)) if status.first_event else last
    for c in status.coverage:
        missing = set(c.missing_days)
        begin = c.first_event.date() if c.first_event else last
        end = c.last_event.date() if c.last_event else last
        cells = Text()
        day = first
        while day <= last:
            if day < begin or day > end:
                cells.append(" ")
            elif day in missing:
                cells.append("·", style="bold red")
            else:
                cells.append("█", style="green")
            day += timedelta(days=1)
        table.add_row(Text(f"{strip_control(c.org_id)} {strip_control(c.event_type)}"), cells)
    return table
