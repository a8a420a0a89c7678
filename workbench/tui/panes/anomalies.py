"""Anomalies: every finding, sortable and filterable, with detail, sparkline and triage."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.suggester import SuggestFromList
from textual.widgets import DataTable, Input, Sparkline, Static

from workbench import views
from workbench.render import inert
from workbench.store.findings import set_triage
from workbench.tui.messages import FocusMoved, TriageChanged
from workbench.tui.panes.base import Pane
from workbench.tui.state import PaneContext, WorkbenchState
from workbench.tui.widgets.table import SEVERITY_STYLE, WorkbenchTable, literal

COLUMNS = ("severity", "score", "detector", "entity", "window (UTC)", "status")


class AnomaliesPane(Pane):
    """The heart of the workbench: findings, their reasons, and triage."""

    NAME = "anomalies"
    TITLE = "Anomalies"
    KEY = "2"
    FOCUS = "#anomalies"
    PRELOAD = True

    def __init__(self, context: PaneContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.rows: list[dict[str, Any]] = []
        # Decisions are stored one at a time, in the order they were made (a note after a status).
        self._triage_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="/ filter: words, detector:new_ip, severity:high, status:new, entity:...",
            id="anomaly-filter",
        )
        with Horizontal(id="anomaly-body"):
            table = WorkbenchTable(id="anomalies")
            table.add_columns(*COLUMNS)
            yield table
            with Horizontal(id="anomaly-side"):
                yield Static("Select a finding.", id="anomaly-detail")
        yield Sparkline([], id="anomaly-sparkline")

    @work(thread=True, exclusive=True, group="anomalies")
    def load(self) -> None:
        text = self.query_one("#anomaly-filter", Input).value
        self.fetch(lambda cursor: views.anomalies(cursor, text), self.show)

    def state_changed(self, before: WorkbenchState, after: WorkbenchState) -> None:
        if after.triage_version != before.triage_version:
            self.load()  # show the new status where the cursor was

    def show(self, found: tuple[list[dict[str, Any]], list[str]]) -> None:
        rows, suggestions = found
        self.rows = rows
        self.query_one("#anomaly-filter", Input).suggester = SuggestFromList(
            suggestions, case_sensitive=False
        )
        table = self.query_one("#anomalies", WorkbenchTable)
        keep = table.cursor_row
        table.clear()
        for f in rows:
            table.add_row(*_cells(f), key=f["id"])
        table.border_title = f"{len(rows)} finding(s)"
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))
            self.describe(rows[min(keep, len(rows) - 1)])

    @on(Input.Submitted, "#anomaly-filter")
    def filter_changed(self) -> None:
        self.load()
        self.query_one("#anomalies", WorkbenchTable).focus()

    @on(DataTable.RowHighlighted, "#anomalies")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        finding = self.selected()
        if finding:
            self.describe(finding)

    @on(DataTable.RowSelected, "#anomalies")
    def open_timeline(self, event: DataTable.RowSelected) -> None:
        finding = self.selected()
        if finding:
            self.post_message(FocusMoved(finding["entity_id"], finding["window_start"], open_timeline=True))

    def selected(self) -> dict[str, Any] | None:
        """The finding under the cursor."""
        table = self.query_one("#anomalies", WorkbenchTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((f for f in self.rows if f["id"] == key), None)

    def describe(self, f: dict[str, Any]) -> None:
        detail = Text()
        detail.append(f"{f['severity'].upper()} {f['score']}  ", style=SEVERITY_STYLE.get(f["severity"], ""))
        detail.append(f"{inert(f['detector'])} ({inert(f['category'])})\n", style="bold")
        detail.append(f"{inert(f['entity_label'])}  [{inert(f['entity_type'])} {inert(f['entity_id'])}]\n")
        detail.append(f"{f['window_start']:%Y-%m-%d %H:%M} to {f['window_end']:%Y-%m-%d %H:%M} UTC\n\n")
        detail.append(inert(f["explanation"]) + "\n\n")
        detail.append(f"observed {f['observed']}   baseline {f['baseline']}\n", style="italic")
        detail.append(
            f"status: {f['status']}" + (f"  note: {inert(f['note'])}" if f.get("note") else "") + "\n\n"
        )
        detail.append("evidence\n", style="bold")
        detail.append(inert(json.dumps(f["evidence"], default=str, indent=1))[:1500])
        self.query_one("#anomaly-detail", Static).update(detail)
        self.sparkline_for(f["entity_id"], f["window_start"])

    @work(thread=True, exclusive=True, group="anomaly-sparkline")
    def sparkline_for(self, entity_id: str, moment: Any) -> None:
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=13)

        def daily(cursor: Any) -> list[float]:
            hours = views.timeline(cursor, entity_id, start, start + timedelta(days=14))["hours"]
            days = [(start + timedelta(days=d), start + timedelta(days=d + 1)) for d in range(14)]
            return [sum(views.hour_series(hours, first, last)) for first, last in days]

        self.fetch(daily, self._set_sparkline)

    def _set_sparkline(self, values: list[float]) -> None:
        sparkline = self.query_one("#anomaly-sparkline", Sparkline)
        sparkline.data = values
        sparkline.tooltip = "calls per day, last 14 days of the entity"

    def triage(self, status: str, note: str | None = None) -> None:
        """Store a decision on the selected finding (in a worker; the app is told when it landed)."""
        finding = self.selected()
        if not finding:
            self.app.notify("no finding selected", severity="warning")
            return
        self.write_triage(finding["id"], status, note, f"{finding['detector']} on {finding['entity_label']}")

    # Not exclusive: every decision must land, even when the next one is made before it did.
    @work(thread=True, group="triage")
    def write_triage(self, finding_id: str, status: str, note: str | None, summary: str) -> None:
        def store(cursor: Any) -> str:
            with self._triage_lock:
                return set_triage(cursor, finding_id, status, note)

        def stored(full_id: str) -> None:
            self.post_message(TriageChanged(full_id, status, summary))  # the app answers: see state_changed

        self.fetch(store, stored)


def _cells(f: dict[str, Any]) -> list[Text]:
    """One finding's row."""
    return [
        literal(f["severity"], SEVERITY_STYLE.get(f["severity"], "")),
        literal(str(f["score"])),
        literal(f["detector"]),
        literal(f["entity_label"]),
        literal(f["window_start"]),
        literal(f["status"]),
    ]
