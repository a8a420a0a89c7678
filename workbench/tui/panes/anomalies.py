"""Anomalies: every finding, sortable and filterable, with detail, sparkline and triage."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import DataTable, Input, Sparkline, Static

from workbench import views
from workbench.render import inert, to_csv
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
    EXPORT = "findings as CSV"

    BINDINGS = [Binding("i", "copy_id", "Copy finding id", id="anomalies.copy_id")]

    def __init__(self, context: PaneContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.rows: list[dict[str, Any]] = []
        """The findings shown (the filter applied)."""
        self.every: list[dict[str, Any]] = []
        """Every stored finding, as last loaded: the filter narrows these as you type."""
        # Decisions are stored one at a time, in the order they were made (a note after a status).
        self._triage_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="/ filter: words, detector:new_ip, severity:high, status:new, date:2025-11-19, since:...",
            id="anomaly-filter",
        )
        with Horizontal(id="anomaly-body"):
            table = WorkbenchTable(id="anomalies")
            table.add_columns(*COLUMNS)
            yield table
            with VerticalScroll(id="anomaly-side"):
                yield Static("Select a finding.", id="anomaly-detail")
        yield Sparkline([], id="anomaly-sparkline")

    @work(thread=True, exclusive=True, group="anomalies")
    def load(self) -> None:
        self.fetch(lambda cursor: views.anomalies(cursor, ""), self.show)

    def state_changed(self, before: WorkbenchState, after: WorkbenchState) -> None:
        if after.triage_version != before.triage_version:
            self.load()  # show the new status where the cursor was

    def show(self, found: tuple[list[dict[str, Any]], list[str]]) -> None:
        every, suggestions = found
        self.every = every
        self.query_one("#anomaly-filter", Input).suggester = SuggestFromList(
            suggestions, case_sensitive=False
        )
        self.show_rows(views.filter_findings(every, self.query_one("#anomaly-filter", Input).value))

    def show_rows(self, rows: list[dict[str, Any]], first: bool = False) -> None:
        """Show ROWS, the cursor where it was (or on the first one: FIRST, after a new filter)."""
        self.rows = rows
        table = self.query_one("#anomalies", WorkbenchTable)
        keep = 0 if first else table.cursor_row
        table.clear()
        for f in rows:
            table.add_row(*_cells(f), key=f["id"])
        table.border_title = f"{len(rows)} of {len(self.every)} finding(s)"
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1))
            self.describe(rows[min(keep, len(rows) - 1)])
        else:
            self.query_one("#anomaly-detail", Static).update("No finding matches the filter.")

    @on(Input.Changed, "#anomaly-filter")
    def filter_typed(self, event: Input.Changed) -> None:
        """The filter applies as you type, the cursor on the first match."""
        self.show_rows(views.filter_findings(self.every, event.value), first=True)

    @on(Input.Submitted, "#anomaly-filter")
    def filter_changed(self, event: Input.Submitted) -> None:
        moment = views.filter_moment(event.value)
        if moment is not None:  # date:/since: moves the focus time there too
            self.post_message(FocusMoved(None, moment))
        self.query_one("#anomalies", WorkbenchTable).focus()

    def action_copy_id(self) -> None:
        finding = self.selected()
        if finding:
            self.app.copy_to_clipboard(finding["id"])
            self.app.notify(f"copied finding id {finding['id']}", timeout=2)

    def export(self) -> tuple[str, str] | None:
        return ("findings.csv", to_csv(self.rows, with_triage=True)) if self.rows else None

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
        self.query_one("#anomaly-detail", Static).update(finding_detail(f))
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


def finding_detail(f: dict[str, Any]) -> Text:
    """A finding as labelled fields: what, who, when, why, then its evidence field by field."""
    detail = Text()
    detail.append(f"{f['severity'].upper()} {f['score']}  ", style=SEVERITY_STYLE.get(f["severity"], ""))
    detail.append(f"{inert(f['detector'])} ({inert(f['category'])})\n", style="bold")
    _field(detail, "finding id", f"{inert(f['id'])}  (i copies)")
    _field(
        detail, "entity", f"{inert(f['entity_label'])}  [{inert(f['entity_type'])} {inert(f['entity_id'])}]"
    )
    _field(detail, "window", f"{f['window_start']:%Y-%m-%d %H:%M} to {f['window_end']:%Y-%m-%d %H:%M} UTC")
    _field(detail, "observed", f"{f['observed']}   baseline {f['baseline']}")
    _field(detail, "status", f"{f['status']}" + (f"  note: {inert(f['note'])}" if f.get("note") else ""))
    detail.append("\n" + inert(f["explanation"]) + "\n\n")
    evidence = f.get("evidence") or {}
    if evidence:
        detail.append("evidence\n", style="bold underline")
    for label, items, more in views.evidence_fields(evidence if isinstance(evidence, dict) else {}):
        more_text = f" (+{more} more)" if more else ""
        if sum(len(item) + 2 for item in items) <= 60:  # short values: one line
            _field(detail, label, ", ".join(items) + more_text)
            continue
        detail.append(f"{label}:\n", style="bold")
        for item in items:
            detail.append(f"  {item}\n")
        if more:
            detail.append(f"  +{more} more\n", style="italic")
    return detail


def _field(text: Text, label: str, value: str) -> None:
    text.append(f"{label}: ", style="bold")
    text.append(value + "\n")


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
