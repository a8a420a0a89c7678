"""The pane base class: what a tab declares about itself, and how it loads data off the UI thread.

A pane never imports the app. It reads the shared state (`self.state`), gets a cursor per worker
from its `PaneContext`, and tells the app what happened by posting a message
(`workbench.tui.messages`); the app answers by calling `state_changed`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Vertical

from workbench.render import csv_text
from workbench.tui.state import PaneContext, WorkbenchState
from workbench.tui.widgets.table import TableActions, WorkbenchTable
from workbench.tui.work import Loader, RunningQueries


class Pane(Loader, Vertical):
    """A tab's content: loads its data in a thread worker with its own DuckDB cursor."""

    NAME: ClassVar[str]
    """The pane's id in actions, binding ids (`go.NAME`) and widget ids (`tab-NAME`, `NAME-pane`)."""
    TITLE: ClassVar[str]
    """The tab's label and the palette's `go: TITLE`."""
    KEY: ClassVar[str]
    """The key that opens the tab."""
    FOCUS: ClassVar[str | None] = None
    """The widget that takes the keys when the tab opens (None: leave focus alone)."""
    PRELOAD: ClassVar[bool] = False
    """Load when the app starts rather than on the first visit."""
    EXPORT: ClassVar[str] = "table as CSV"
    """What ctrl+e writes from this pane (the footer says `Export EXPORT`)."""

    loaded = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        if "NAME" in cls.__dict__:
            # ctrl+e exports whatever this pane shows, and the footer says what: one binding per
            # pane under the app's id, so rebinding `export.report` moves them all. A priority
            # binding, so it works from a text box too (where ctrl+e would otherwise mean "end").
            # Set before Textual's own __init_subclass__ merges the class's bindings.
            own: list[BindingType] = list(cls.__dict__.get("BINDINGS", []))
            export = Binding(
                "ctrl+e", "app.export", f"Export {cls.EXPORT}", priority=True, id="export.report"
            )
            cls.BINDINGS = [*own, export]
            cls.LABEL = cls.TITLE
        super().__init_subclass__(**kwargs)

    def __init__(self, context: PaneContext, **kwargs: Any) -> None:
        kwargs.setdefault("id", f"{self.NAME}-pane")
        super().__init__(**kwargs)
        self.context = context
        self.running: RunningQueries = context.running
        self.store = context.store

    @property
    def state(self) -> WorkbenchState:
        """The shared state now (read-only: post a message to change it)."""
        return self.context.state()

    def state_changed(self, before: WorkbenchState, after: WorkbenchState) -> None:
        """The app changed the shared state (after a message); a pane that shows it reacts here."""

    def load(self) -> object:
        """Fetch and show the pane's data (each pane starts its own worker)."""
        return None

    def ensure_loaded(self) -> None:
        """Load on the first visit only; ctrl+r reloads (revisiting a tab costs nothing)."""
        if not self.loaded:
            self.loaded = True
            self.load()

    def export(self) -> tuple[str, str] | None:
        """What ctrl+e writes: (default file name, text), or None when there is nothing yet. By
        default the pane's main table (its FOCUS) as CSV."""
        # Either kind of table (a DataTable or a PageTable): both offer the TableActions surface.
        tables = self.query(self.FOCUS or WorkbenchTable).results(TableActions)
        table = next(iter(tables), None)
        if table is None or not table.row_count:
            return None
        headers = table.column_labels
        rows = [
            [getattr(cell, "plain", cell) for cell in table.get_row_at(r)] for r in range(table.row_count)
        ]
        return f"{self.NAME}.csv", csv_text(headers, rows)
