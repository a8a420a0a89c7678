"""The panes' tables (`PageTable` with row keys and styled cells): severity colours drawn on their
cell only, rows named by key in the messages the panes act on, the keys and the mouse of a
DataTable (enter and a click on the cursor's row select, pageup/pagedown move a screen)."""

from __future__ import annotations

from pathlib import Path

from rich.cells import cell_len
from rich.style import Style

from tests.tui.test_tui import SIZE, cell_text, make_app, settle
from workbench.tui.panes.anomalies import AnomaliesPane
from workbench.tui.widgets.page_table import PageTable, Styled, lay_out
from workbench.tui.widgets.table import SEVERITY_STYLE


def test_a_styled_cell_is_a_piece_of_its_own_and_the_line_is_unchanged() -> None:
    labels = ("severity", "who")
    layout = lay_out(labels, [(Styled("high", "red"), "ann"), ("low", "b\x1b[2Jo")], keys=["a", "b"])
    assert layout.keys == ["a", "b"] and layout.cells[1] == ("low", "b\u241b[2Jo")  # inert
    first, second = layout.pieces
    assert "".join(text for text, _ in first) == layout.lines[0]
    assert [(text, style) for text, style in first if style] == [("high    ", Style.parse("red"))]
    assert second == ()  # a row without a styled cell is drawn as one piece
    assert sum(cell_len(text) for text, _ in first) == cell_len(layout.lines[0])
    plain = lay_out(labels, [("high", "ann"), ("low", "b\x1b[2Jo")])
    assert plain.pieces == [] and plain.lines[0] == layout.lines[0]
    assert layout.reordered([1, 0]).keys == ["b", "a"]


async def test_severity_is_drawn_in_its_colour_on_its_cell_only(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        table = app.query_one("#anomalies", PageTable)
        row = next(r for r in range(table.row_count) if cell_text(table, r, 0) in ("critical", "high"))
        table.move_cursor(row=row)
        await pilot.pause()
        # Its colour on the severity cell only, on the cursor's row too (over the cursor's look,
        # as DataTable drew it) and on the rows around it.
        for shown in (row, row + 1):
            severity = cell_text(table, shown, 0).removeprefix("\u2713 ")
            colour = Style.parse(SEVERITY_STYLE[severity]).color
            segments = table.render_line(1 + shown - table.scroll_offset.y)
            coloured = [s.text.strip() for s in segments if colour and s.style and s.style.color == colour]
            assert coloured == ([severity] if colour else [])


async def test_enter_click_and_page_keys_act_on_the_row_under_the_cursor(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        pane = app.pane(AnomaliesPane)
        table = app.query_one("#anomalies", PageTable)
        await pilot.press("g")
        body = table.scrollable_content_region.height - 1
        await pilot.press("pagedown")
        assert table.cursor_row == min(body, table.row_count - 1)
        await pilot.press("pageup")
        assert table.cursor_row == 0
        # A click moves the cursor (and the detail follows); a click on the cursor's row selects it.
        finding_row = next(r for r, (_, f) in enumerate(pane.shown) if f is not None and r < body)
        await pilot.click(table, offset=(2, 1 + finding_row))
        await pilot.pause()
        finding = pane.selected()
        assert table.cursor_row == finding_row and finding is not None
        assert finding["id"] in str(app.query_one("#anomaly-detail").render())
        await pilot.click(table, offset=(2, 1 + finding_row))
        await settle(pilot, app)
        assert app.active == "timeline" and app.focus_time == finding["window_start"]
