"""Investigating like lnav and k9s: keys that never get lost, drill-down to raw events and back,
readable finding detail, and long queries that show and cancel."""

from __future__ import annotations

import html
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.tui.test_tui import SIZE, cell_text, make_app, screen_text, settle
from workbench.store.db import open_store
from workbench.tui.panes.anomalies import AnomaliesPane
from workbench.tui.screens.raw_events import RawEventsScreen
from workbench.tui.widgets.table import SEVERITY_RANK

# Hashing ten billion numbers takes minutes on any machine (a bare count(*) over range() does not:
# DuckDB answers it in about a second).
LONG_QUERY = "SELECT count(*) FROM range(10000000000) WHERE hash(range) % 7 = 3"


def svg_text(svg: str) -> str:
    """The text of an SVG screenshot, line by line (styled spans are separate <text> elements)."""
    lines: dict[float, list[str]] = {}
    for match in re.finditer(r'<text[^>]*y="([0-9.]+)"[^>]*>([^<]*)</text>', svg):
        lines.setdefault(float(match.group(1)), []).append(html.unescape(match.group(2)))
    return "\n".join("".join(lines[y]) for y in sorted(lines))


async def wait_for(pilot, condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


# --- keyboard ------------------------------------------------------------------------------------


async def test_escape_leaves_an_input_and_digits_then_switch_panes(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        await pilot.press("slash", "b", "1")  # in the box, a digit types
        assert isinstance(app.focused, Input) and app.focused.value == "b1"
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)
        assert app.focused is app.query_one("#anomalies")  # the pane's keys work again
        await pilot.press("3")
        assert app.active == "timeline"
        assert app.query_one("#anomaly-filter", Input).value == "b1"
        # With no box to leave and nothing running, escape walks back where we came from.
        await pilot.press("escape")
        assert app.active == "anomalies"
        await pilot.press("escape")
        assert app.active == "overview"
        await pilot.press("escape")  # the first pane: escape stays (only q quits)
        assert app.active == "overview" and app.is_running


async def test_fast_pane_keys_land_where_asked(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "3", "4", "5", "2")
        await settle(pilot, app)
        assert app.active == "anomalies"
        assert app.focused is app.query_one("#anomalies")  # never left in a hidden pane
        await pilot.press("5", "6", "4")
        await settle(pilot, app)
        assert app.active == "ips" and app.focused is app.query_one("#ips")


async def test_severity_sorts_by_rank_and_the_column_cursor_picks_what_s_and_y_use(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        table = app.query_one("#anomalies")
        table.move_cursor(row=0)  # the pane opens on the first finding, under its incident row
        await pilot.press("s")  # the cursor starts on severity: highest rank first
        ranks = [SEVERITY_RANK[cell_text(table, r, 0)] for r in range(table.row_count)]
        assert ranks == sorted(ranks, reverse=True) and ranks[0] > ranks[-1]
        await pilot.press("s")
        ranks = [SEVERITY_RANK[cell_text(table, r, 0)] for r in range(table.row_count)]
        assert ranks == sorted(ranks)
        await pilot.press("greater_than_sign", "greater_than_sign")  # to the detector column
        assert "detector" in str(table.border_subtitle)
        await pilot.press("s", "y")
        detectors = [cell_text(table, r, 2) for r in range(table.row_count)]
        assert detectors == sorted(detectors, reverse=True)
        assert app.clipboard == detectors[0]
        await pilot.press("less_than_sign")
        await pilot.press("y")
        assert app.clipboard == cell_text(table, 0, 1)  # the score


async def test_the_filter_applies_as_you_type(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        table = app.query_one("#anomalies")
        table.move_cursor(row=5)
        await pilot.press("slash", *"detector:bulk_job")
        await pilot.pause()
        assert table.row_count == 1 and table.cursor_row == 0
        assert cell_text(table, 0, 2) == "bulk_job_deleted"
        assert "bulk_job_deleted" in str(app.query_one("#anomaly-detail").render())


async def test_ctrl_e_says_what_it_exports_on_every_pane(db: Path, tmp_path: Path) -> None:
    app = make_app(db)
    labels = {}
    async with app.run_test(size=SIZE) as pilot:
        for key in "1234567":
            await pilot.press(key)
            await settle(pilot, app)
            labels[app.active] = app.screen.active_bindings["ctrl+e"].binding.description
        await pilot.press("4", "ctrl+e")
        await pilot.pause()
        target = tmp_path / "ips.csv"
        app.screen.query_one("#prompt-input", Input).value = str(target)
        await pilot.press("enter")
        await settle(pilot, app)
    assert labels["ips"] == "Export addresses as CSV"
    assert labels["report"] == "Export incident report as Markdown"
    assert labels["anomalies"] == "Export findings as CSV"
    assert len(set(labels.values())) == 7
    assert target.read_text().startswith("ip,country") and "185.220.101.164" in target.read_text()


async def test_help_lists_each_panes_keys(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        keys = app.screen.query_one("#help-keys")
        rows = {cell_text(keys, r, 2): cell_text(keys, r, 0) for r in range(keys.row_count)}
    for binding_id in (
        "timeline.day_back",
        "anomalies.copy_id",
        "table.sort",
        "table.column_right",
        "raw.next_page",
    ):
        assert binding_id in rows
    assert rows["focus.goto"] == "colon"


# --- drill-down ----------------------------------------------------------------------------------


async def test_enter_on_an_address_lists_its_raw_events_and_q_comes_back(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot, app)
        ips = app.query_one("#ips")
        addresses = [cell_text(ips, r, 0) for r in range(ips.row_count)]
        ips.move_cursor(row=addresses.index("185.220.101.164"))
        await pilot.press("enter")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, RawEventsScreen)
        events = screen.query_one("#raw-events")
        headers = events.column_labels
        assert headers[:8] == [
            "time",
            "user",
            "address",
            "object",
            "resource",
            "status",
            "client",
            "request id",
        ]
        assert events.row_count > 0
        assert {cell_text(events, r, 2) for r in range(events.row_count)} == {"185.220.101.164"}
        assert "Raw events: address 185.220.101.164" in screen_text(app)
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, RawEventsScreen) and app.active == "ips"


async def test_drill_from_a_finding_to_its_hour_and_back_up(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        finding = app.pane(AnomaliesPane).selected()
        await pilot.press("enter")  # finding -> timeline hour
        await settle(pilot, app)
        assert app.active == "timeline"
        hours = app.query_one("#timeline-hours")
        hour = cell_text(hours, hours.cursor_row, 0)
        await pilot.press("enter")  # hour -> raw events
        await settle(pilot, app)
        assert isinstance(app.screen, RawEventsScreen)
        events = app.screen.query_one("#raw-events")
        assert events.row_count > 0
        assert {cell_text(events, r, 0)[:13] for r in range(events.row_count)} == {hour[:13]}
        assert app.screen.scope.entity_id == finding["entity_id"]
        await pilot.press("escape")  # back up: the timeline, where we were
        await pilot.pause()
        assert not isinstance(app.screen, RawEventsScreen)
        assert app.active == "timeline" and hours.cursor_row == hours.cursor_row


async def test_raw_events_are_paged_from_the_store(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench import views
    from workbench.tui.screens import raw_events

    asked: list[tuple[int, bool, bool]] = []
    real = views.raw_events

    def recording(con, scope, limit, after=None, before=None):  # type: ignore[no-untyped-def]
        asked.append((limit, after is not None, before is not None))
        return real(con, scope, limit, after=after, before=before)

    monkeypatch.setattr(raw_events.views, "raw_events", recording)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.push_screen(RawEventsScreen(app.context, views.EventScope()))  # every event: 170,875
        await settle(pilot, app)
        events = app.screen.query_one("#raw-events")
        assert events.row_count == raw_events.PAGE
        first = cell_text(events, 0, 7)
        await pilot.press("left_square_bracket")  # on the first page: nothing before it
        await settle(pilot, app)
        await pilot.press("right_square_bracket")
        await settle(pilot, app)
        assert cell_text(events, 0, 7) != first
        assert "rows 201-400" in str(app.screen.query_one("#raw-status").render())
        await pilot.press("left_square_bracket")
        await settle(pilot, app)
        assert cell_text(events, 0, 7) == first
    # One page at a time, by key: the first, the one after it, the one before that.
    assert asked == [
        (raw_events.PAGE, False, False),
        (raw_events.PAGE, True, False),
        (raw_events.PAGE, False, True),
    ]


def page_rows(app) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    events = app.screen.query_one("#raw-events")
    return [
        tuple(cell_text(events, r, c) for c in range(len(events.column_labels)))
        for r in range(events.row_count)
    ]


def raw_status(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#raw-status").render())


async def test_paging_on_and_back_shows_every_event_once_in_order(db: Path) -> None:
    """Keyset paging through a real store: several pages on (] and pagedown) then back ([ and
    pageup) show the same rows in the same order, with no duplicate and no gap, and say where
    they are; the rows are exactly the scope's events as the store orders them."""
    from workbench import views
    from workbench.tui.screens import raw_events

    with open_store(db, read_only=True) as con:
        busiest = con.execute(
            "SELECT effective_ip(client_ip, source_ip) FROM events GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()[0][0]
        total = con.execute(
            "SELECT count(*) FROM events WHERE effective_ip(client_ip, source_ip) = ?", [busiest]
        ).fetchall()[0][0]
        # The whole order, in one query (as a reference only: the screen never reads it all).
        expected = con.execute(
            "SELECT request_id, event_type FROM events WHERE effective_ip(client_ip, source_ip) = ? "
            "ORDER BY ts, coalesce(request_id, ''), event_type, org_id, coalesce(content_key, '') LIMIT ?",
            [busiest, 6 * raw_events.PAGE],
        ).fetchall()
    pages = 5
    assert total > pages * raw_events.PAGE  # the scope is deeper than the walk
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.push_screen(RawEventsScreen(app.context, views.EventScope(ip=busiest)))
        await settle(pilot, app)
        seen = [page_rows(app)]
        assert raw_status(app).startswith(f"rows 1-{raw_events.PAGE}; ] next page;")
        for n in range(pages):
            await pilot.press("pagedown" if n % 2 else "right_square_bracket")
            await settle(pilot, app)
            seen.append(page_rows(app))
            first = (n + 1) * raw_events.PAGE + 1
            assert raw_status(app).startswith(
                f"rows {first:,}-{first + raw_events.PAGE - 1:,}; ] next page, ["
            )
        back = [page_rows(app)]
        for n in range(pages):
            await pilot.press("pageup" if n % 2 else "left_square_bracket")
            await settle(pilot, app)
            back.append(page_rows(app))
        assert raw_status(app).startswith(f"rows 1-{raw_events.PAGE}; ] next page; q")
        await pilot.press("left_square_bracket")  # nothing before the first page
        await settle(pilot, app)
        assert page_rows(app) == seen[0]
    assert back == seen[::-1]  # the same pages, row for row, on the way back
    walked = [row for page in seen for row in page]
    assert all(len(page) == raw_events.PAGE for page in seen)
    ids = [(row[7], row[8]) for row in walked]
    assert len(set(ids)) == len(ids)  # no duplicate
    assert ids == [(r[0] or "", r[1]) for r in expected]  # no gap, in the store's order
    assert {row[2] for row in walked} == {busiest}
    times = [row[0] for row in walked]
    assert times == sorted(times)


async def test_a_scope_smaller_than_a_page_is_the_last_page(db: Path) -> None:
    from workbench import views

    with open_store(db, read_only=True) as con:
        ip, count = con.execute(
            "SELECT effective_ip(client_ip, source_ip), count(*) FROM events GROUP BY 1 "
            "HAVING count(*) BETWEEN 2 AND 150 ORDER BY 2 DESC LIMIT 1"
        ).fetchall()[0]
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.push_screen(RawEventsScreen(app.context, views.EventScope(ip=ip)))
        await settle(pilot, app)
        rows = page_rows(app)
        assert raw_status(app).startswith(f"rows 1-{count:,} (the last page); q")
        await pilot.press("right_square_bracket")
        await settle(pilot, app)
        assert page_rows(app) == rows and len(rows) == count


async def test_enter_on_an_overview_integration_opens_its_timeline(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        top = app.query_one("#overview-top")
        assert app.focused is top
        name = cell_text(top, 0, 0)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.active == "timeline"
        assert name in str(app.query_one("#timeline-entity").value) or app.focus_entity


async def test_date_filter_and_goto_move_the_focus_time(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        await pilot.press("slash", *"date:2025-11-19", "enter")
        await settle(pilot, app)
        rows = app.pane(AnomaliesPane).rows
        assert rows and all(f["window_start"].date().isoformat() == "2025-11-19" for f in rows)
        assert app.focus_time == datetime(2025, 11, 19)
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press(*"2025-11-15 14:00", "enter")
        await settle(pilot, app)
        assert app.focus_time == datetime(2025, 11, 15, 14)
        await pilot.press("3")
        await settle(pilot, app)
        assert "focus 2025-11-15 14:00" in str(app.query_one("#timeline-summary").render())


async def test_goto_from_the_palette(db: Path) -> None:
    from textual.command import CommandList

    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*":goto 2025-11-16 09:30")
        await wait_for(
            pilot,
            lambda: (
                bool(app.screen.query(CommandList)) and app.screen.query_one(CommandList).option_count > 0
            ),
        )
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.focus_time == datetime(2025, 11, 16, 9, 30)


# --- readable detail -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(100, 30), (200, 50)])
async def test_anomaly_detail_snapshot(db: Path, size: tuple[int, int], tmp_path: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=size) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        await pilot.press("slash", *"detector:new_object_access", "escape")
        await settle(pilot, app)
        finding = app.pane(AnomaliesPane).selected()
        detail = app.query_one("#anomaly-detail").render().plain
        snapshot = screen_text(app)  # the SVG snapshot, checked for content (not byte-compared)
        (tmp_path / f"anomaly-detail-{size[0]}x{size[1]}.svg").write_text(snapshot)
        svg = svg_text(snapshot)
        table, side = app.query_one("#anomalies").region, app.query_one("#anomaly-side").region
        if size[0] < 120:  # stacked under the table
            assert side.y >= table.bottom and side.width >= table.width - 2
        else:  # beside it, in proportion (two fifths of the width)
            assert side.x >= table.right and 0.3 < side.width / size[0] < 0.5
        await pilot.press("i")
        assert app.clipboard == finding["id"]
    # Labelled fields, not a JSON blob; the id shown; addresses with their enrichment.
    assert f"finding id: {finding['id']}" in detail
    assert "addresses:\n  185.220.101.143 (Berlin, DE, AS60729" in detail
    (objects,) = [line for line in detail.splitlines() if line.startswith("objects: ")]
    assert set(objects.removeprefix("objects: ").split(", ")) == {"Case", "User", "ContentVersion"}
    assert "objects seen before:" in detail
    assert '{"' not in detail and "evidence" in detail
    assert "finding id" in svg and "CRITICAL 99" in svg
    if size[1] >= 50:  # tall enough to show the evidence too
        assert "185.220.101.143 (Berlin, DE" in svg and "objects: " in svg


def test_long_evidence_lists_say_how_many_more() -> None:
    from workbench.views import evidence_fields

    fields = dict(
        (label, (items, more))
        for label, items, more in evidence_fields({"request_ids": [str(n) for n in range(10)]})
    )
    assert fields["sample request ids"] == ([str(n) for n in range(6)], 4)


# --- long work: visible and cancellable ----------------------------------------------------------


async def test_escape_cancels_a_long_query_in_place(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await settle(pilot, app)
        sql = app.query_one("#query-sql", Input)
        sql.focus()
        sql.value = LONG_QUERY
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(app.running.labels()))
        await pilot.pause(0.3)
        assert "running... (esc cancels)" in str(app.query_one("#query-status").render())
        assert "esc cancels" in str(app.query_one("#work-status").render())
        started = time.monotonic()
        await pilot.press("escape")
        await wait_for(pilot, lambda: "cancelled" in str(app.query_one("#query-status").render()), 5)
        assert time.monotonic() - started < 3
        assert not app.running.labels() and not isinstance(app.focused, Input)
        sql.value = "SELECT nonsense FROM nowhere"
        sql.focus()
        await pilot.press("enter")
        await settle(pilot, app)
        status = str(app.query_one("#query-status").render())
        assert status.startswith("query failed:") and "Exception" not in status  # in place, no class name


async def test_quit_during_a_running_query_is_quick_and_clean(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await settle(pilot, app)
        sql = app.query_one("#query-sql", Input)
        sql.focus()
        sql.value = LONG_QUERY
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(app.running.labels()))
        started = time.monotonic()
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.running.labels(), 2)
    assert time.monotonic() - started < 1.5
    assert app.return_code in (0, None)
