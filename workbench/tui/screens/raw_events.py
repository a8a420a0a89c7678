"""The bottom of every drill-down: the raw events of one scope (an hour of an integration, an
address), a page at a time from the store (never the whole scope). Pages are read by key: the
next one starts after the last row shown, the previous one ends before the first, so the
thousandth page comes as fast as the first."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, Static

from workbench import views
from workbench.render import csv_text
from workbench.tui.state import PaneContext
from workbench.tui.widgets.footer import KeysFooter
from workbench.tui.widgets.page_table import PageLayout, PageTable, lay_out
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
        # Priority: the table has focus, and its own pagedown/pageup would only scroll it.
        Binding("right_square_bracket,pagedown", "page(1)", "Next page", priority=True, id="raw.next_page"),
        Binding(
            "left_square_bracket,pageup", "page(-1)", "Previous page", priority=True, id="raw.previous_page"
        ),
        Binding("ctrl+e", "app.export", "Export events page as CSV", priority=True, id="export.report"),
    ]

    def __init__(self, context: PaneContext, scope: views.EventScope) -> None:
        super().__init__()
        self.context = context
        self.running = context.running
        self.store = context.store
        self.scope = scope
        self.start_row = 0
        """The position in the scope of the first row shown (0-based)."""
        self.page: views.EventsPage | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"Raw events: {self.scope.describe()}"), id="raw-caption")
        yield PageTable(views.RAW_EVENT_COLUMNS, id="raw-events")
        yield Static("", id="raw-status", markup=False)
        yield KeysFooter()

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """The rows shown."""
        return self.page.rows if self.page else []

    @property
    def more(self) -> bool:
        """Whether rows follow the page shown."""
        return bool(self.page and self.page.after)

    def on_mount(self) -> None:
        self.query_one("#raw-events").focus()
        self.load_page(0)

    def load_page(self, step: int) -> None:
        """Read the first page (STEP 0), the next (1) or the previous (-1) one, in a worker."""
        self.busy = True
        self.say("running... (esc cancels)")
        after = self.page.last if self.page and step > 0 else None
        before = self.page.first if self.page and step < 0 else None
        widths = self.query_one("#raw-events", PageTable).widths
        self._page_worker(step, after, before, widths)

    @work(thread=True, exclusive=True, group="raw-events")
    def _page_worker(
        self,
        step: int,
        after: views.EventKey | None,
        before: views.EventKey | None,
        widths: tuple[int, ...],
    ) -> None:
        def read(cursor: Any) -> tuple[views.EventsPage, PageLayout]:
            page = views.raw_events(cursor, self.scope, PAGE, after=after, before=before)
            # Laid out here, so the UI thread only swaps the page in.
            return page, lay_out(views.RAW_EVENT_COLUMNS, page.rows, widths)

        self.fetch(read, lambda shown: self.show(*shown, step=step))

    def show(self, page: views.EventsPage, layout: PageLayout, step: int = 0) -> None:
        self.busy = False
        if step > 0:
            self.start_row += len(self.rows)
        elif step < 0:
            self.start_row = max(0, self.start_row - len(page.rows))
        if not page.before:  # nothing before it: this is the first page, whatever was counted
            self.start_row = 0
        self.page = page
        self.query_one("#raw-events", PageTable).set_page(layout)
        first, last = self.start_row + 1, self.start_row + len(page.rows)
        more = "; ] next page" if page.after else " (the last page)"
        back = ", [ previous" if page.before else ""
        shown = f"rows {first:,}-{last:,}{more}{back}" if page.rows else "no events in this scope"
        self.say(f"{shown}; q or esc returns")

    def say(self, status: str | Text) -> None:
        """Show STATUS under the table. The line's size is fixed (app.tcss), so no layout: laying
        the screen out again cost a few ms of UI time twice a page turn."""
        self.query_one("#raw-status", Static).update(status, layout=False)

    def fail(self, error: BaseException) -> None:
        self.busy = False
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        self.say(Text(f"query failed: {first}", style="red"))

    def cancelled(self) -> None:
        self.busy = False
        self.say("cancelled; q or esc returns")

    def action_page(self, step: int) -> None:
        page = self.page
        if self.busy or page is None or not (page.after if step > 0 else page.before):
            return
        self.load_page(step)

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
