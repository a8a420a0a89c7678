"""The bottom of every drill-down: the raw events of one scope (an hour of an integration, an
address), a page at a time from the store (LIMIT/OFFSET, never the whole scope)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from workbench import views
from workbench.render import csv_text
from workbench.tui.state import PaneContext
from workbench.tui.widgets.table import WorkbenchTable, literal
from workbench.tui.work import Loader

PAGE = 200
"""Rows per page."""


class RawEventsScreen(Loader, Screen[None]):
    """Raw events of a scope: `]`/`[` page on and back, q or Escape return (Escape first cancels a
    query that is still running)."""

    LABEL = "raw events"
    EXPORT = "events page as CSV"
    BINDINGS = [
        Binding("escape", "back_or_cancel", "Back", id="raw.back"),
        Binding("q", "back", "Back", show=False, id="raw.back_q"),
        Binding("right_square_bracket,pagedown", "page(1)", "Next page", id="raw.next_page"),
        Binding("left_square_bracket,pageup", "page(-1)", "Previous page", id="raw.previous_page"),
        Binding("ctrl+e", "app.export", "Export events page as CSV", priority=True, id="export.report"),
    ]

    def __init__(self, context: PaneContext, scope: views.EventScope) -> None:
        super().__init__()
        self.context = context
        self.running = context.running
        self.store = context.store
        self.scope = scope
        self.start_row = 0
        self.more = False
        self.rows: list[tuple[Any, ...]] = []
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"Raw events: {self.scope.describe()}"), id="raw-caption")
        table = WorkbenchTable(id="raw-events")
        table.add_columns(*views.RAW_EVENT_COLUMNS)
        yield table
        yield Static("", id="raw-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#raw-events").focus()
        self.load_page()

    def load_page(self) -> None:
        self.busy = True
        self.query_one("#raw-status", Static).update("running... (esc cancels)")
        self._page_worker(self.start_row)

    @work(thread=True, exclusive=True, group="raw-events")
    def _page_worker(self, offset: int) -> None:
        self.fetch(lambda cursor: views.raw_events(cursor, self.scope, offset, PAGE), self.show)

    def show(self, page: tuple[list[tuple[Any, ...]], bool]) -> None:
        self.busy = False
        self.rows, self.more = page
        table = self.query_one("#raw-events", WorkbenchTable)
        table.clear()
        for row in self.rows:
            table.add_row(*(literal(v) for v in row))
        first, last = self.start_row + 1, self.start_row + len(self.rows)
        more = "; ] next page" if self.more else " (the last page)"
        back = ", [ previous" if self.start_row else ""
        shown = f"rows {first:,}-{last:,}{more}{back}" if self.rows else "no events in this scope"
        self.query_one("#raw-status", Static).update(f"{shown}; q or esc returns")

    def fail(self, error: BaseException) -> None:
        self.busy = False
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        self.query_one("#raw-status", Static).update(Text(f"query failed: {first}", style="red"))

    def cancelled(self) -> None:
        self.busy = False
        self.query_one("#raw-status", Static).update("cancelled; q or esc returns")

    def action_page(self, step: int) -> None:
        if self.busy or (step > 0 and not self.more) or (step < 0 and not self.start_row):
            return
        self.start_row = max(0, self.start_row + step * PAGE)
        self.load_page()

    def action_back_or_cancel(self) -> None:
        if self.busy and self.running.interrupt():
            return
        self.action_back()

    def action_back(self) -> None:
        self.dismiss(None)

    def export(self) -> tuple[str, str] | None:
        """This page of events as CSV (ctrl+e)."""
        if not self.rows:
            return None
        return "events.csv", csv_text(list(views.RAW_EVENT_COLUMNS), [list(r) for r in self.rows])
