"""The raw events table (`PageTable`): pages laid out in a worker, drawn a line at a time, and
still a table a user drives with the keys and the mouse; hostile log strings shown as text."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, write_log
from tests.tui.test_tui import SIZE, make_app, screen_text, settle
from workbench import views
from workbench.cli import app as cli
from workbench.tui.screens import raw_events
from workbench.tui.screens.raw_events import RawEventsScreen
from workbench.tui.widgets.page_table import MAX_WIDTH, PageTable, fit, lay_out
from workbench.tui.widgets.table import sort_key

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # sets the clipboard in most terminals
MARKUP = "[link=https://evil.example]x[/link][@click=app.quit]q[/]"
BIDI = "\u202eevil\u200b"
NIGHT_IP = "185.220.101.9"
LONG = "/services/data/v62.0/" + "a" * 150
# Every character `workbench.render.inert` replaces, as it would reach the screen raw.
RAW_UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)


# --- the layout (pure) -----------------------------------------------------------------------------


def test_a_page_is_laid_out_in_columns_of_one_width() -> None:
    labels = ("time", "user", "resource")
    rows = [(datetime(2025, 11, 20, 2, 5), "ann", 1234), (datetime(2025, 11, 20, 2, 6), "bo", 5)]
    layout = lay_out(labels, rows)
    assert layout.widths == (16, 4, 8)  # the widest of the label and the cells
    assert layout.cells[0] == ("2025-11-20 02:05", "ann", "1,234")
    assert layout.lines[0] == " 2025-11-20 02:05  ann   1,234    "
    assert {cell_len(line) for line in layout.lines} == {16 + 4 + 8 + 3 * 2}


def test_columns_only_widen_page_to_page_and_a_long_value_is_cut() -> None:
    labels = ("user", "resource")
    first = lay_out(labels, [("a-rather-long-user-name", "/q")])
    second = lay_out(labels, [("bo", LONG)], first.widths)
    assert second.widths == (len("a-rather-long-user-name"), MAX_WIDTH)  # kept, and capped
    assert second.cells[0][1] == LONG  # whole: what `y` copies
    assert second.lines[0].rstrip().endswith("a…")
    assert cell_len(second.lines[0]) == sum(second.widths) + 2 * 2


def test_wide_characters_count_as_two_cells() -> None:
    assert fit("東京", 5) == "東京 " and cell_len(fit("東京都庁舎", 5)) == 5
    layout = lay_out(("city",), [("東京",), ("Paris",)])
    assert layout.widths == (5,) and {cell_len(line) for line in layout.lines} == {7}


def test_hostile_strings_are_laid_out_inert() -> None:
    layout = lay_out(("client", "object"), [(f"Client{OSC52}{MARKUP}", f"Case{BIDI}\nx")])
    for text in (*layout.cells[0], layout.lines[0]):
        assert RAW_UNSAFE.search(text) is None
    assert "␛]52" in layout.cells[0][0] and MARKUP in layout.cells[0][0]


# --- through the app, on a store ingested from a hostile log ------------------------------------------


@pytest.fixture
def hostile_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """250 night events from one address, every free-text field hostile (two pages' worth)."""
    monkeypatch.setenv("WORKBENCH_TUI_SETTINGS", str(tmp_path / "tui.json"))
    start = datetime(2025, 11, 20, 2)
    rows = [
        api_row(
            ts=(start + timedelta(seconds=n)).strftime("%Y%m%d%H%M%S.000"),
            request_id=f"req{n:03}\x1b[2J",
            ip=NIGHT_IP,
            client=f"Client{OSC52}{MARKUP}",
            entity=f"Case{BIDI}",
            resource=LONG if n == 0 else "/v62.0/query",
        )
        for n in range(250)
    ]
    write_log(tmp_path / "logs" / "ApiTotalUsage.csv", API_TOTAL_USAGE_HEADER, rows)
    db = tmp_path / "hostile.duckdb"
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "logs"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


async def test_hostile_raw_events_show_as_text_and_copy_whole(hostile_db: Path) -> None:
    app = make_app(hostile_db)
    async with app.run_test(size=(240, 36)) as pilot:  # wide enough for every column
        await settle(pilot, app)
        app.push_screen(RawEventsScreen(app.context, views.EventScope(ip=NIGHT_IP)))
        await settle(pilot, app)
        table = app.screen.query_one("#raw-events", PageTable)
        assert table.row_count == raw_events.PAGE
        first = table.get_row_at(0)
        assert first[6].startswith("Client␛]52;c;cHduZWQ=") and first[6].endswith(MARKUP)
        assert first[7] == "req000␛[2J"
        assert RAW_UNSAFE.search(first[3]) is None and first[3].startswith("Case")
        # Every line drawn is one plain segment: no link, no click action, no raw escape.
        for y in range(table.size.height):
            for segment in table.render_line(y):
                assert RAW_UNSAFE.search(segment.text) is None
                assert segment.style is None or not (segment.style.link or segment.style.meta)
        shown = screen_text(app)
        assert "[link=https://evil.example]x[/link]" in shown and "\x1b" not in shown
        assert "a…" in shown  # the long resource is cut on screen ...
        for _ in range(4):
            await pilot.press("greater_than_sign")
        assert table.column_name() == "resource"
        await pilot.press("y")
        assert app.clipboard == LONG  # ... and copied whole
        await pilot.press("right_square_bracket")  # the second (last) page: hostile too
        await settle(pilot, app)
        assert table.row_count == 50 and table.get_row_at(0)[7] == "req200␛[2J"
        assert "rows 201-250 (the last page)" in screen_text(app)
    app.store.close()


# --- keys, cursor and mouse, on the demo store --------------------------------------------------------


async def test_the_cursor_moves_scrolls_sorts_and_resets_on_a_new_page(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.push_screen(RawEventsScreen(app.context, views.EventScope()))
        await settle(pilot, app)
        table = app.screen.query_one("#raw-events", PageTable)
        assert app.focused is table and table.cursor_row == 0
        await pilot.press("down", "j", "j", "k")
        assert table.cursor_row == 2
        cursor_line, other_line = list(table.render_line(1 + 2)), list(table.render_line(1 + 1))
        assert cursor_line[0].style != other_line[0].style  # highlighted
        await pilot.press("G")  # the last row, scrolled into view under the header
        assert table.cursor_row == raw_events.PAGE - 1
        assert table.scroll_offset.y == raw_events.PAGE - (table.scrollable_content_region.height - 1)
        bottom = table.scrollable_content_region.height - 1
        assert table.render_line(bottom).text.strip().startswith(table.get_row_at(raw_events.PAGE - 1)[0])
        assert table.render_line(0).text.split()[:3] == ["time", "user", "address"]  # the header stays
        await pilot.press("g")
        assert table.cursor_row == 0 and table.scroll_offset.y == 0
        await pilot.press("end")  # sideways, as DataTable does with a row cursor
        assert table.scroll_offset.x == table.max_scroll_x > 0
        assert table.render_line(0).text.split()[-2:] == ["event", "type"]
        await pilot.press("home")
        assert table.scroll_offset.x == 0
        await pilot.click(table, offset=(2, 4))  # the fourth row on screen
        assert table.cursor_row == 3
        # Sort the page by request id, descending, then the next page: the store's order again.
        for _ in range(7):
            await pilot.press("greater_than_sign")
        await pilot.press("s")
        ids = [table.get_row_at(r)[7] for r in range(table.row_count)]
        assert ids == sorted(ids, key=sort_key, reverse=True)
        assert "sorted by request id" in str(table.border_subtitle)
        await pilot.press("pagedown")
        await settle(pilot, app)
        assert table.cursor_row == 0 and table.scroll_offset.y == 0 and not table.border_subtitle
        assert table.cursor_column == 7  # the column cursor stays where the user put it
        times = [table.get_row_at(r)[0] for r in range(table.row_count)]
        assert times == sorted(times)
    app.store.close()
