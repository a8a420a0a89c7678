"""Timeline: one integration's hourly volume, errors, addresses and objects, findings marked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Select, Sparkline, Static

from workbench import views
from workbench.render import inert
from workbench.tui.messages import FocusMoved, FocusStepped
from workbench.tui.panes.base import Pane
from workbench.tui.screens.raw_events import RawEventsScreen
from workbench.tui.state import PaneContext, WorkbenchState
from workbench.tui.widgets.page_table import PageTable, lay_out

ZOOM_DAYS = (1, 3, 7, 14, 30)
HOUR_COLUMNS = ("hour (UTC)", "calls", "errors", "addresses", "objects", "findings")


class TimelinePane(Pane):
    """Step by hour (, .) or day ([ ]), zoom (+ -); the focused time is shared with the other panes.

    The entity shown is the focused one (`WorkbenchState.focus_entity`) once there is one: picking
    another here moves the focus, and a finding opened elsewhere moves it here.
    """

    NAME = "timeline"
    TITLE = "Timeline"
    KEY = "3"
    FOCUS = "#timeline-hours"
    EXPORT = "hours as CSV"

    BINDINGS = [
        Binding("left_square_bracket", "step(-24)", "Day back", id="timeline.day_back"),
        Binding("right_square_bracket", "step(24)", "Day on", id="timeline.day_on"),
        Binding("comma", "step(-1)", "Hour back", show=False, id="timeline.hour_back"),
        Binding("full_stop", "step(1)", "Hour on", show=False, id="timeline.hour_on"),
        Binding("plus,equals_sign", "zoom(-1)", "Zoom in", id="timeline.zoom_in"),
        Binding("minus", "zoom(1)", "Zoom out", id="timeline.zoom_out"),
    ]

    def __init__(self, context: PaneContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.entity_id: str | None = None
        """The entity shown (the select's value)."""
        self.zoom = 2  # index into ZOOM_DAYS: 7 days

    def compose(self) -> ComposeResult:
        yield Select([], prompt="integration or user", id="timeline-entity", allow_blank=True)
        yield Static("", id="timeline-summary")
        yield Static("calls per hour", classes="caption")
        yield Sparkline([], id="timeline-calls")
        yield Static("errors per hour", classes="caption")
        yield Sparkline([], id="timeline-errors")
        # A line-API table: a DataTable drew its visible cells again each time the pane was shown
        # or left (5-12 ms of one event-loop step).
        yield PageTable(HOUR_COLUMNS, id="timeline-hours")

    def state_changed(self, before: WorkbenchState, after: WorkbenchState) -> None:
        if after.focus_entity is not None and after.focus_entity != self.entity_id:
            self.entity_id = after.focus_entity
            self.loaded = True  # the select picks the entity up, then its change loads the hours
            self.load_entities()
        elif after.focus_time != before.focus_time:
            self.load_timeline()

    @work(thread=True, exclusive=True, group="timeline-entities")
    def load_entities(self) -> None:
        self.fetch(views.entities, self._set_entities)

    def _set_entities(self, entities: list[dict[str, Any]]) -> None:
        select = self.query_one("#timeline-entity", Select)
        # Text prompts: an entity label from the logs is shown as it is, never read as markup.
        options = [(Text(inert(_entity_label(e))), e["entity_id"]) for e in entities]
        select.set_options(options)
        # Without a focused entity yet, show the busiest one (without making it the focus).
        self.entity_id = self.entity_id or (entities[0]["entity_id"] if entities else None)
        if self.entity_id and any(value == self.entity_id for _, value in options):
            select.value = self.entity_id

    @on(Select.Changed, "#timeline-entity")
    def entity_changed(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str):
            return
        if event.value != self.entity_id:  # the user picked another one: it becomes the focus
            self.entity_id = event.value
            self.post_message(FocusMoved(event.value, self.state.focus_time))
        self.load()

    def window(self) -> tuple[datetime, datetime]:
        days = ZOOM_DAYS[self.zoom]
        focus = self.state.focus_time
        start = (focus - timedelta(hours=days * 12)).replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=days)

    def load(self) -> None:
        if not self.query_one("#timeline-entity", Select).value or self.entity_id is None:
            self.load_entities()
            return
        self.load_timeline()

    @work(thread=True, exclusive=True, group="timeline")
    def load_timeline(self) -> None:
        if self.entity_id is None:
            return
        start, end = self.window()
        entity_id = self.entity_id
        self.fetch(lambda cursor: views.timeline(cursor, entity_id, start, end), self.show)

    def show(self, data: dict[str, Any]) -> None:
        start, end = data["start"], data["end"]
        focus_time = self.state.focus_time
        calls = views.hour_series(data["hours"], start, end)
        errors = views.hour_series(data["hours"], start, end, "errors")
        self.query_one("#timeline-calls", Sparkline).data = calls
        self.query_one("#timeline-errors", Sparkline).data = errors
        marks = data["findings"]
        summary = Text(
            f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC ({ZOOM_DAYS[self.zoom]} days), focus "
            f"{focus_time:%Y-%m-%d %H:%M}: {int(sum(calls)):,} calls, {int(sum(errors)):,} errors, "
            f"{len(marks)} finding(s)\n"
        )
        for f in marks[:6]:
            style = "red" if f["severity"] in ("high", "critical") else "yellow"
            summary.append(
                f"  ▲ {f['window_start']:%m-%d %H:%M} {inert(f['detector'])} ({f['severity']})\n", style=style
            )
        self.query_one("#timeline-summary", Static).update(summary)
        by_hour: dict[datetime, list[str]] = {}
        for f in marks:
            by_hour.setdefault(f["window_start"].replace(minute=0, second=0, microsecond=0), []).append(
                f["detector"]
            )
        hours = data["hours"]
        rows = [
            [
                row["hour"],
                row["calls"],
                row["errors"],
                row["ips"],
                row["objects"],
                ", ".join(by_hour.get(row["hour"], [])),
            ]
            for row in hours
        ]
        table = self.query_one("#timeline-hours", PageTable)
        table.set_page(lay_out(HOUR_COLUMNS, rows, keys=[row["hour"].isoformat() for row in hours]))
        focus_row = 0  # the cursor on the focused hour: the last one at or before it
        for index, row in enumerate(hours):
            if row["hour"] <= focus_time:
                focus_row = index
        if hours:
            table.move_cursor(row=focus_row)

    @on(PageTable.RowSelected, "#timeline-hours")
    def open_hour(self, event: PageTable.RowSelected) -> None:
        """Enter on an hour: its raw events (q or Escape come back here)."""
        if self.entity_id is None or event.row_key is None:
            return
        hour = datetime.fromisoformat(event.row_key)
        scope = views.EventScope(entity_id=self.entity_id, start=hour, end=hour + timedelta(hours=1))
        self.app.push_screen(RawEventsScreen(self.context, scope))

    def action_step(self, hours: int) -> None:
        self.post_message(FocusStepped(hours))  # the app moves the focus; state_changed reloads

    def action_zoom(self, direction: int) -> None:
        self.zoom = max(0, min(len(ZOOM_DAYS) - 1, self.zoom + direction))
        self.load_timeline()


def _entity_label(e: dict[str, Any]) -> str:
    return f"{e['label']} ({e['entity_type']}, {e['calls']:,} calls)"
