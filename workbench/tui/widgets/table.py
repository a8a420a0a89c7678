"""The tables: a DataTable with vim keys, copy and sort, the keys every table shares, and literal
text cells (log strings are never markup)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable

from workbench.render import inert

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
"""Severities sort by rank (critical above high), not alphabetically."""


class Cell(Text):
    """One line of literal text, cheap for a DataTable: its width is measured once, where it is
    made (a worker can make it), and a cell rendered without wrapping skips Rich's line wrapping
    (the table crops it to the column). The table measures every cell of every new row on the UI
    thread and renders each visible one; plain Text made paging 200 raw events stall the loop."""

    def __init__(self, text: str, style: str = "") -> None:
        super().__init__(text, style=style, end="", no_wrap=True)
        self._width = cell_len(text)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self._width, self._width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        if options.no_wrap and "\n" not in self.plain:
            yield from self.render(console)
        else:
            yield from super().__rich_console__(console, options)


def cell_text(value: Any) -> str:
    """A value as a table shows it, exactly and inert: log strings are never markup, ESC shows as
    ␛ and a line feed as a placeholder (one line); times to the minute, integers with separators."""
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M")
    elif isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:,}"
    return inert(value)


def literal(value: Any, style: str = "") -> Text:
    """A DataTable cell that shows the value exactly (see `cell_text`)."""
    return Cell(cell_text(value), style=style)


TABLE_BINDINGS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False, id="table.down"),
    Binding("k", "cursor_up", "Up", show=False, id="table.up"),
    Binding("g", "scroll_top", "Top", show=False, id="table.top"),
    Binding("G", "scroll_bottom", "Bottom", show=False, id="table.bottom"),
    Binding("less_than_sign", "column(-1)", "Column left", show=False, id="table.column_left"),
    Binding("greater_than_sign", "column(1)", "Column right", show=False, id="table.column_right"),
    Binding("y", "copy_cell", "Copy cell", show=False, id="table.copy_cell"),
    Binding("s", "sort_column", "Sort by column", show=False, id="table.sort"),
]
"""The keys every table shares (each table class lists them in its own BINDINGS)."""

# Textual takes a widget's CSS (and its component classes) from the first DOM class among its
# bases only, so the mixin is a plain class at run time (the table's widget class comes next);
# the type checker sees a Widget.
if TYPE_CHECKING:
    _Mixin = Widget
else:
    _Mixin = object


class TableActions(_Mixin):
    """The actions of TABLE_BINDINGS (vim keys, a column cursor that `s` sorts by and `y`
    copies), over a small surface both tables offer: the built-in DataTable (`WorkbenchTable`)
    and the line-API table of the panes and raw events (`PageTable`). Listed before the widget
    class in the bases."""

    BINDINGS: ClassVar[list[BindingType]] = TABLE_BINDINGS

    _sort_reverse = False

    if TYPE_CHECKING:  # what the concrete tables provide (declared only, never shadowing theirs)

        @property
        def row_count(self) -> int: ...

        @property
        def cursor_row(self) -> int: ...

        @property
        def cursor_column(self) -> int: ...

        def move_cursor(
            self,
            *,
            row: int | None = None,
            column: int | None = None,
            animate: bool = False,
            scroll: bool = True,
        ) -> None: ...

        def get_row_at(self, row_index: int) -> list[Any]: ...

    @property
    def column_labels(self) -> list[str]:
        """The columns' labels, in order."""
        raise NotImplementedError

    def _sort_rows(self, column: int, reverse: bool) -> None:
        """Reorder the rows by COLUMN's cells (`sort_key`)."""
        raise NotImplementedError

    def action_scroll_top(self) -> None:
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self.move_cursor(row=max(self.row_count - 1, 0))

    def column_name(self, index: int | None = None) -> str:
        """The label of column INDEX (default: the column under the cursor)."""
        labels = self.column_labels
        if not labels:
            return ""
        return labels[min(self.cursor_column if index is None else index, len(labels) - 1)]

    def action_column(self, step: int) -> None:
        count = len(self.column_labels)
        if not count:
            return
        column = max(0, min(count - 1, self.cursor_column + step))
        self.move_cursor(column=column)
        self.border_subtitle = f"column: {self.column_name(column)} (s sorts, y copies)"

    def action_copy_cell(self) -> None:
        if not self.row_count:
            return
        row = self.get_row_at(self.cursor_row)
        column = min(self.cursor_column, len(row) - 1)
        value = row[column].plain if isinstance(row[column], Text) else str(row[column])
        self.app.copy_to_clipboard(value)
        self.app.notify(f"copied: {value[:60]}", timeout=2, markup=False)

    def action_sort_column(self) -> None:
        count = len(self.column_labels)
        if count:
            self.sort_by(min(self.cursor_column, count - 1))

    def sort_by(self, column: int) -> None:
        """Sort by COLUMN; the first sort is descending (the highest severity, score or count
        first), the next one ascending."""
        self._sort_reverse = not self._sort_reverse
        self._sort_rows(column, self._sort_reverse)
        arrow = "down" if self._sort_reverse else "up"
        self.border_subtitle = f"sorted by {self.column_name()} ({arrow}; < > picks the column)"


class WorkbenchTable(TableActions, DataTable[Text]):
    """A DataTable with the shared table keys (vim keys, a column cursor, sort and copy): the
    Queries pane's results, whose columns change with each query (the other tables are
    `PageTable`s, which draw faster)."""

    BINDINGS: ClassVar[list[BindingType]] = TABLE_BINDINGS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    @property
    def column_labels(self) -> list[str]:
        return [c.label.plain for c in self.columns.values()]

    def _sort_rows(self, column: int, reverse: bool) -> None:
        self.sort(list(self.columns)[column], key=sort_key, reverse=reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        self.move_cursor(column=event.column_index)
        self.sort_by(event.column_index)


def sort_key(cell: Any) -> Any:
    """Severities by rank, numbers (with separators) by value, other text alphabetically."""
    text = cell.plain if isinstance(cell, Text) else str(cell)
    if text in SEVERITY_RANK:
        return (0, float(SEVERITY_RANK[text]), "")
    number = text.replace(",", "")
    try:
        return (0, float(number), "")
    except ValueError:
        return (1, 0.0, text.lower())
