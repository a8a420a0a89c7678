"""A table whose rows are replaced wholesale: the raw events screen's pages, and the panes'
tables (Anomalies, IPs, Overview, Timeline hours).

Textual's DataTable costs 50-100 ms of UI-thread time per page turn whatever the page size: it
clears and re-adds every row, measures every cell of every new row on the next idle, and renders
each visible cell through Rich (padding, wrapping, cropping); showing a pane with a large one
drew its visible cells again (25-40 ms in one event-loop step). Here the rows are laid out ahead
(`lay_out`, in a worker where it can be: every cell made inert, the columns' widths fixed, each
row made one line of text, a styled cell its own piece), so the UI thread only swaps a list in,
and drawing a line is cropping one string to the screen (the line API renders only the lines on
screen, as the Report pane's `LongText` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from workbench.tui.widgets.table import TABLE_BINDINGS, TableActions, cell_text, sort_key

MAX_WIDTH = 60
"""A column is never wider than this (longer values end in …; `y` copies the whole value): one
long user agent or hostile string would otherwise push every other column off the screen."""
PADDING = 1
"""Blank cells either side of a value, as DataTable draws them."""


def fit(text: str, width: int) -> str:
    """TEXT padded or cut (ending in …) to exactly WIDTH cells (wide characters counted as two)."""
    length = cell_len(text)
    if length <= width:
        return text + " " * (width - length)
    return set_cell_size(text, width - 1) + "…"


def line_of(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One row as a line of text: each cell fitted to its column, with DataTable's padding."""
    pad = " " * PADDING
    return "".join(f"{pad}{fit(cell, width)}{pad}" for cell, width in zip(cells, widths, strict=True))


class Styled(NamedTuple):
    """A cell value drawn in a style of its own (a severity's colour, a flag in red)."""

    value: Any
    style: str
    """A Rich style, e.g. "bold red" (never markup: the value stays literal text)."""


Piece = tuple[str, Style | None]
"""Part of a styled row's line, and the style drawn over the row's (None: the row's own)."""


@dataclass(frozen=True)
class PageLayout:
    """Rows laid out for `PageTable` (made in a worker where it can be: nothing here touches the UI)."""

    widths: tuple[int, ...]
    """Each column's width in cells (without padding)."""
    cells: list[tuple[str, ...]]
    """Each row's cells as shown (`cell_text`: inert), whole: what `y` copies."""
    lines: list[str]
    """Each row as the one line drawn."""
    keys: list[str] = field(default_factory=list)
    """Each row's key (what the table's messages carry), or none at all."""
    pieces: list[tuple[Piece, ...]] = field(default_factory=list)
    """Each row's line in pieces when a cell of it is `Styled` (else empty: drawn as one piece);
    empty when no row is styled."""

    def reordered(self, order: Sequence[int]) -> PageLayout:
        """The same rows in ORDER (indexes into these)."""

        def pick(items: list[Any]) -> list[Any]:
            return [items[n] for n in order] if items else items

        return PageLayout(self.widths, pick(self.cells), pick(self.lines), pick(self.keys), pick(self.pieces))


def lay_out(
    labels: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[int] = (),
    keys: Sequence[str] = (),
) -> PageLayout:
    """ROWS' cells and lines (a value may be `Styled`), for columns LABELS, with KEYS (one per row,
    or none). A column is as wide as its label and its widest cell (at most MAX_WIDTH), and never
    narrower than in WIDTHS (the page shown before), so the columns do not jump about as the
    user pages on."""
    cells: list[tuple[str, ...]] = []
    styles: dict[int, dict[int, Style]] = {}  # row -> column -> style, for the styled cells only
    for n, row in enumerate(rows):
        texts = []
        for column, value in enumerate(row):
            if isinstance(value, Styled):
                if value.style:
                    styles.setdefault(n, {})[column] = Style.parse(value.style)
                value = value.value
            texts.append(cell_text(value))
        cells.append(tuple(texts))
    before = tuple(widths) or (0,) * len(labels)
    new = tuple(
        max(
            before[n],
            cell_len(label),
            min(MAX_WIDTH, max((cell_len(row[n]) for row in cells), default=0)),
        )
        for n, label in enumerate(labels)
    )
    pieces = [pieces_of(row, new, styles.get(n, {})) for n, row in enumerate(cells)] if styles else []
    return PageLayout(new, cells, [line_of(row, new) for row in cells], list(keys), pieces)


def pieces_of(cells: Sequence[str], widths: Sequence[int], styles: dict[int, Style]) -> tuple[Piece, ...]:
    """A row's line (as `line_of` makes it) in pieces: each styled cell's text its own piece, the
    rest run together; empty without STYLES."""
    if not styles:
        return ()
    pad = " " * PADDING
    pieces: list[Piece] = []
    plain = ""
    for column, (cell, width) in enumerate(zip(cells, widths, strict=True)):
        style = styles.get(column)
        if style is None:
            plain += f"{pad}{fit(cell, width)}{pad}"
            continue
        pieces += [(plain + pad, None), (fit(cell, width), style)]
        plain = pad
    return (*pieces, (plain, None))


class PageTable(TableActions, ScrollView, can_focus=True):
    """Rows laid out by `lay_out` under a header that stays put; a row cursor, zebra stripes and
    the shared table keys (`TableActions`), as the other tables have. Like DataTable with a row
    cursor, it says when the cursor lands on a row (`RowHighlighted`) and when a row is chosen
    (`RowSelected`: enter, or a click on the cursor's row), naming the row by its key."""

    class RowMessage(Message):
        """About one row: its index and key."""

        def __init__(self, table: PageTable, cursor_row: int, row_key: str | None) -> None:
            super().__init__()
            self.table = table
            self.cursor_row = cursor_row
            self.row_key = row_key
            """The row's key (None when the rows have no keys)."""

        @property
        def control(self) -> PageTable:
            return self.table

    class RowHighlighted(RowMessage):
        """The cursor moved to another row (or rows were shown under it)."""

    class RowSelected(RowMessage):
        """Enter on a row (or a click on the cursor's row): one level down."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "page-table--header",
        "page-table--cursor",
        "page-table--even-row",
    }
    # DataTable's look (the same theme variables), so this table looks like every other one.
    DEFAULT_CSS = """
    PageTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .page-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .page-table--header { background-tint: $foreground 5%; }
        }
        &:dark > .page-table--even-row { background: $surface-darken-1 40%; }
        & > .page-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .page-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .page-table--even-row { background: $surface-lighten-1 50%; }
        & > .page-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    # DataTable's keys with a row cursor: up/down/pageup/pagedown move it, left/right/home/end
    # scroll sideways, enter selects (the raw events screen takes pageup/pagedown first).
    BINDINGS: ClassVar[list[BindingType]] = [
        *TABLE_BINDINGS,
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_left_edge", "Home", show=False),
        Binding("end", "scroll_right_edge", "End", show=False),
    ]

    def __init__(self, labels: Sequence[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._labels = tuple(cell_text(label) for label in labels)
        self._layout = lay_out(self._labels, [])
        self._header = line_of(self._labels, self._layout.widths)
        self._cursor = (0, 0)
        """(row, column); the column is what `y` copies and `s` sorts by."""
        self._width = cell_len(self._header)

    # --- the surface TableActions (and the tests) use ----------------------------------------------

    @property
    def column_labels(self) -> list[str]:
        return list(self._labels)

    @property
    def widths(self) -> tuple[int, ...]:
        """The columns' widths now: a worker lays the next page out with (at least) these."""
        return self._layout.widths

    @property
    def row_count(self) -> int:
        return len(self._layout.lines)

    @property
    def cursor_row(self) -> int:
        return self._cursor[0]

    @property
    def cursor_column(self) -> int:
        return self._cursor[1]

    def get_row_at(self, row_index: int) -> list[str]:
        """Row ROW_INDEX's cells (whole, as shown: inert)."""
        return list(self._layout.cells[row_index])

    def row_key(self, row_index: int) -> str | None:
        """Row ROW_INDEX's key (None without keys, or past the last row)."""
        keys = self._layout.keys
        return keys[row_index] if 0 <= row_index < len(keys) else None

    def get_row_index(self, key: str) -> int:
        """The row whose key is KEY (ValueError if none is)."""
        return self._layout.keys.index(key)

    def set_page(self, layout: PageLayout) -> None:
        """Show LAYOUT's rows from the top, the cursor on the first (its column kept)."""
        self._layout = layout
        self._header = line_of(self._labels, layout.widths)
        self._width = cell_len(self._header)
        self._cursor = (0, self._cursor[1])
        self.border_subtitle = ""  # new rows come in their given order, whatever was sorted
        self.virtual_size = Size(self._width, len(layout.lines) + 1)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()
        if layout.lines:  # the cursor is on a (new) row, as DataTable says when rows arrive
            self.post_message(self.RowHighlighted(self, 0, self.row_key(0)))

    def move_cursor(
        self,
        *,
        row: int | None = None,
        column: int | None = None,
        animate: bool = False,
        scroll: bool = True,
    ) -> None:
        """Move the cursor to ROW and/or COLUMN (kept inside the table), scrolling it into view."""
        last_row, last_column = max(self.row_count - 1, 0), len(self._labels) - 1
        new_row = self._cursor[0] if row is None else max(0, min(row, last_row))
        new_column = self._cursor[1] if column is None else max(0, min(column, last_column))
        moved = new_row != self._cursor[0] and self.row_count > 0
        self._cursor = (new_row, new_column)
        if scroll:
            body = self._body_height()  # the header stays put
            top = self.scroll_offset.y
            if new_row < top:
                self.scroll_to(y=new_row, animate=animate, immediate=True)
            elif new_row >= top + body:
                self.scroll_to(y=new_row - body + 1, animate=animate, immediate=True)
        self.refresh()
        if moved:
            self.post_message(self.RowHighlighted(self, new_row, self.row_key(new_row)))

    def _sort_rows(self, column: int, reverse: bool) -> None:
        cells = self._layout.cells
        order = sorted(range(len(cells)), key=lambda n: sort_key(cells[n][column]), reverse=reverse)
        self._layout = self._layout.reordered(order)
        self.refresh()
        if self.row_count:  # another row is under the cursor now
            self.post_message(self.RowHighlighted(self, self.cursor_row, self.row_key(self.cursor_row)))

    # --- keys and the mouse -----------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(row=self.cursor_row - self._body_height())

    def action_page_down(self) -> None:
        self.move_cursor(row=self.cursor_row + self._body_height())

    def action_select_cursor(self) -> None:
        if self.row_count:
            self.post_message(self.RowSelected(self, self.cursor_row, self.row_key(self.cursor_row)))

    def _body_height(self) -> int:
        """Rows on screen under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def action_scroll_left_edge(self) -> None:
        self.scroll_to(x=0, animate=False)

    def action_scroll_right_edge(self) -> None:
        self.scroll_to(x=self.max_scroll_x, animate=False)

    def on_click(self, event: events.Click) -> None:
        """A click on a row moves the cursor there (on the cursor's row, selects it, as in a
        DataTable); on the header, sorts by that column."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x, edge = offset.x + self.scroll_offset.x, 0
            for column, width in enumerate(self._layout.widths):
                edge += width + 2 * PADDING
                if x < edge:
                    self.move_cursor(column=column, scroll=False)
                    self.sort_by(column)
                    return
            return
        row = self.scroll_offset.y + offset.y - 1
        if row >= self.row_count:
            return
        if row == self.cursor_row:
            self.action_select_cursor()
        else:
            self.move_cursor(row=row)

    # --- drawing ------------------------------------------------------------------------------------

    _looks: tuple[Style, Style, Style, Style] | None = None
    """The styles of one drawing pass (base, header, cursor, even row), looked up once for all its
    lines: each lookup walks the widget's ancestors (a third of the time a line took)."""

    def render_lines(self, crop: Region) -> list[Strip]:
        self._looks = self._style_looks()
        try:
            return super().render_lines(crop)
        finally:
            self._looks = None  # the next pass (after a focus or theme change) looks again

    def _style_looks(self) -> tuple[Style, Style, Style, Style]:
        base = self.rich_style
        return (
            base,
            base + self.get_component_rich_style("page-table--header"),
            base + self.get_component_rich_style("page-table--cursor"),
            base + self.get_component_rich_style("page-table--even-row"),
        )

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base, header, cursor, even = self._looks or self._style_looks()
        if y == 0:
            text, style = self._header, header
        else:
            row = scroll_y + y - 1
            if row >= self.row_count:
                return Strip.blank(width, base)
            text = self._layout.lines[row]
            style = cursor if row == self.cursor_row else even if row % 2 == 0 else base
            pieces = self._layout.pieces[row] if self._layout.pieces else ()
            if pieces:  # a styled cell's colour over the row's look (cursor, stripes), as DataTable
                segments = [Segment(part, style if own is None else style + own) for part, own in pieces]
                return Strip(segments, self._width).crop_extend(scroll_x, scroll_x + width, style)
        # The text is inert (no control characters) and never parsed as markup: plain segments.
        strip = Strip([Segment(text, style)], self._width)
        return strip.crop_extend(scroll_x, scroll_x + width, style)
