"""The Textual workbench driven by Pilot: every pane loads sample data and its main keys work."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.text import Text
from textual.worker import WorkerCancelled
from typer.testing import CliRunner

from tests.conftest import gainsight_app_id
from workbench.cli import app as cli
from workbench.store.db import open_store
from workbench.store.findings import set_triage
from workbench.tui.app import WorkbenchApp
from workbench.tui.messages import FocusMoved, ScopeSet, TriageChanged
from workbench.tui.panes import PANES
from workbench.tui.panes.anomalies import AnomaliesPane
from workbench.tui.panes.exposure import ExposurePane
from workbench.tui.panes.report import ReportPane
from workbench.tui.panes.timeline import TimelinePane

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SIZE = (120, 36)
HOSTILE = "[link=http://x]click[/link][bold red]\x1b[31mred"


def make_app(db: Path) -> WorkbenchApp:
    return WorkbenchApp(db)


async def settle(pilot, app: WorkbenchApp) -> None:  # type: ignore[no-untyped-def]
    """Let the workers finish (an exclusive worker replaced by a newer one counts as finished)."""
    for _ in range(3):
        await pilot.pause()
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app: WorkbenchApp) -> str:
    """The screen as an SVG screenshot, with its non-breaking spaces made plain."""
    return app.export_screenshot().replace("&#160;", " ")


def posted_once(posted: list[object], kind: type) -> list:  # type: ignore[type-arg]
    """The messages of KIND (the hook sees each one at every node it bubbles through)."""
    return list({id(m): m for m in posted if isinstance(m, kind)}.values())


def cell_text(table, row: int, column: int) -> str:  # type: ignore[no-untyped-def]
    value = table.get_row_at(row)[column]
    return value.plain if isinstance(value, Text) else str(value)


async def test_overview_shows_orgs_coverage_and_findings(db: Path, tmp_path: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        totals = str(app.query_one("#overview-totals").render())
        assert "2 org(s)" in totals and "170,875 events" in totals
        svg = screen_text(app)
        assert "Coverage" in svg and "Findings by family and severity" in svg and "Gainsight CS" in svg
        (tmp_path / "overview.svg").write_text(svg)


async def test_anomalies_filter_detail_and_sparkline(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        table = app.query_one("#anomalies")
        assert table.row_count >= 15
        rows = [(cell_text(table, r, 0), cell_text(table, r, 3)) for r in range(table.row_count)]
        # The incident, and at most low findings elsewhere (Zuora's first month end in the history).
        assert {label for _, label in rows} >= {"Gainsight CS"}
        assert all(severity == "low" for severity, label in rows if label != "Gainsight CS"), rows
        await pilot.press("slash")
        await pilot.press(*"detector:bulk_job_deleted", "enter")
        await settle(pilot, app)
        # One finding per app and day, naming the three jobs it deleted.
        assert table.row_count == 1 and cell_text(table, 0, 2) == "bulk_job_deleted"
        assert "deleted 3 bulk job(s)" in str(app.query_one("#anomaly-detail").render())
        assert sum(app.query_one("#anomaly-sparkline").data or []) > 0
        await pilot.press("j", "G", "g")
        assert table.cursor_row == 0
        svg = screen_text(app)
        assert "bulk_job_deleted" in svg and "deleted 3 bulk job(s)" in svg


async def test_triage_in_the_tui_is_visible_to_the_cli(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        first = app.pane(AnomaliesPane).selected()
        await pilot.press("c")
        await settle(pilot, app)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"token abuse confirmed", "enter")
        await settle(pilot, app)
    app.store.close()
    listed = runner.invoke(cli, ["findings", "--status", "confirmed", "--format", "json", "--db", str(db)])
    (found,) = json.loads(listed.stdout)
    assert found["id"] == first["id"] and found["note"] == "token abuse confirmed"


async def test_enter_jumps_to_the_timeline_at_the_findings_time(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        finding = app.pane(AnomaliesPane).selected()
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.active == "timeline" and app.focus_time == finding["window_start"]
        timeline = app.pane(TimelinePane)
        assert timeline.entity_id == finding["entity_id"]
        assert app.query_one("#timeline-hours").row_count > 0
        summary = str(app.query_one("#timeline-summary").render())
        assert "finding(s)" in summary and finding["detector"] in summary
        before = app.focus_time
        await pilot.press("left_square_bracket")
        await settle(pilot, app)
        assert (before - app.focus_time).days == 1
        await pilot.press("plus")
        await settle(pilot, app)
        assert "(3 days)" in str(app.query_one("#timeline-summary").render())
        await pilot.press("q")  # back to where we came from
        await pilot.pause()
        assert app.active == "anomalies"


async def test_ips_pane_flags_tor_and_shows_detail(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await settle(pilot, app)
        table = app.query_one("#ips")
        rows = {cell_text(table, r, 0): cell_text(table, r, 4) for r in range(table.row_count)}
        assert rows["185.220.101.164"] == "tor" and rows["185.220.101.143"] == "tor"
        table.focus()
        table.move_cursor(row=0)
        await settle(pilot, app)
        assert "public" in str(app.query_one("#ip-detail").render())


async def test_exposure_backcheck_and_export(db: Path, tmp_path: Path) -> None:
    app_id = gainsight_app_id(db)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await settle(pilot, app)
        app.query_one("#exposure-start").value = "2025-11-17"
        app.query_one("#exposure-end").value = "2025-11-20"
        app.query_one("#exposure-app").value = app_id
        await pilot.click("#exposure-run")
        await settle(pilot, app)
        markdown = app.pane(ExposurePane).markdown()
        assert "What changed" in markdown and "new address 185.220.101.164" in markdown
        target = tmp_path / "backcheck.md"
        await pilot.press("ctrl+e")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = str(target)
        await pilot.press("enter")
        await settle(pilot, app)
    assert target.read_text().startswith("# Back-check")


async def test_queries_pane_runs_read_only_sql_with_a_row_cap(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await settle(pilot, app)
        assert app.query_one("#query-list").option_count >= 10
        sql = app.query_one("#query-sql")
        sql.focus()
        sql.value = "SELECT * FROM events"
        await pilot.press("enter")
        await settle(pilot, app)
        assert str(app.query_one("#query-status").render()).startswith("1,000 of 170,875 rows")
        sql.value = "DELETE FROM events"
        await pilot.press("enter")
        await settle(pilot, app)
        assert str(app.query_one("#query-status").render()).startswith(
            "query failed: the console is read-only"
        )
        sql.value = "SELECT nonsense FROM nowhere"
        await pilot.press("enter")
        await settle(pilot, app)  # an error is a notification, not a crash
        assert app.is_running
    with app.store.reading() as cursor:  # the DELETE did not stick
        assert cursor.execute("SELECT count(*) FROM events").fetchall()[0][0] == 170_875
    app.store.close()


async def test_report_preview_and_export(db: Path, tmp_path: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await settle(pilot, app)
        text = app.pane(ReportPane).markdown()
        assert "## Summary" in text and "## Containment checklist (token abuse)" in text
        target = tmp_path / "incident.md"
        await pilot.press("ctrl+e")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = str(target)
        await pilot.press("enter")
        await settle(pilot, app)
    assert target.read_text() == text


async def test_help_palette_and_theme_setting(db: Path, tmp_path: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        keys = app.screen.query_one("#help-keys")
        titles = {cell_text(keys, r, 1) for r in range(keys.row_count)}
        assert {
            "go: Timeline",
            "export: What this pane shows",
            "triage: Mark benign",
            "Timeline: Day back",
        } <= titles
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"go: Timeline")
        from textual.command import CommandList

        for _ in range(50):  # the palette searches asynchronously: wait for its hits
            await pilot.pause(0.05)
            if app.screen.query(CommandList) and app.screen.query_one(CommandList).option_count:
                break
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.active == "timeline"
        await pilot.press("ctrl+t")
        await pilot.pause()
    saved = json.loads((tmp_path / "tui.json").read_text())
    assert saved["theme"] == app.theme and saved["db"].endswith("demo.duckdb")


async def test_hostile_strings_render_literally(db: Path) -> None:
    con = open_store(db)
    con.execute(
        """INSERT INTO findings VALUES ('hostile0001', 'new_ip', 'geo_identity', 'critical', 99, 'org', 'connected_app',
           'evil', ?, ?, ?, 1, 0, ?, '{}', false, ?, ?)""",
        [
            HOSTILE,
            datetime(2025, 11, 21, 1),
            datetime(2025, 11, 21, 2),
            f"called by {HOSTILE}",
            datetime(2025, 11, 21),
            datetime(2025, 11, 21),
        ],
    )
    con.close()
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        table = app.query_one("#anomalies")
        labels = [cell_text(table, r, 3) for r in range(table.row_count)]
        assert "[link=http://x]click[/link][bold red]\u241b[31mred" in labels
        table.move_cursor(row=labels.index("[link=http://x]click[/link][bold red]\u241b[31mred"))
        await settle(pilot, app)
        detail = app.query_one("#anomaly-detail").render()
        assert "called by [link=http://x]click[/link][bold red]\u241b[31mred" in detail.plain
        assert "link" not in " ".join(str(span.style) for span in detail.spans)  # no link was made
        assert "[link=http://x]" in screen_text(app)  # shown as text, not styled


def test_cli_commands_other_than_tui_never_import_textual(db: Path) -> None:
    code = (
        "import sys\nfrom workbench.cli import main\n"
        f"sys.argv = ['workbench', 'status', '--db', {str(db)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TEXTUAL' if 'textual' in sys.modules else 'CLEAN', file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stderr.strip().endswith("CLEAN"), done.stderr


# --- panes talk in messages; the app owns the state --------------------------------------------


async def test_enter_on_a_finding_posts_focus_moved_and_the_timeline_follows(db: Path) -> None:
    posted: list[object] = []
    app = make_app(db)
    async with app.run_test(size=SIZE, message_hook=posted.append) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        finding = app.pane(AnomaliesPane).selected()
        await pilot.press("enter")
        await settle(pilot, app)
        (moved,) = posted_once(posted, FocusMoved)
        assert (moved.entity_id, moved.moment, moved.open_timeline) == (
            finding["entity_id"],
            finding["window_start"],
            True,
        )
        # The app changed the one state; the Timeline shows that entity at that time.
        assert app.state.focus_entity == finding["entity_id"] and app.state.focus_time == moved.moment
        timeline = app.pane(TimelinePane)
        assert app.active == "timeline" and timeline.entity_id == finding["entity_id"]
        assert app.query_one("#timeline-entity").value == finding["entity_id"]
        assert f"focus {moved.moment:%Y-%m-%d %H:%M}" in str(app.query_one("#timeline-summary").render())
        hours = app.query_one("#timeline-hours")
        assert cell_text(hours, hours.cursor_row, 0) == f"{moved.moment:%Y-%m-%d %H:00}"
        # A focus moved by a message from elsewhere (not a key) moves the Timeline too.
        later = moved.moment + timedelta(days=1)
        timeline.post_message(FocusMoved(None, later))
        await settle(pilot, app)
        assert app.focus_time == later and app.focus_entity == finding["entity_id"]
        assert f"focus {later:%Y-%m-%d %H:%M}" in str(app.query_one("#timeline-summary").render())


async def test_triage_is_written_by_a_worker_and_seen_by_findings(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.tui.panes import anomalies

    writers: list[tuple[str, object]] = []

    def recording_set_triage(con, *args, **kwargs):  # type: ignore[no-untyped-def]
        writers.append((threading.current_thread().name, con))
        return set_triage(con, *args, **kwargs)

    monkeypatch.setattr(anomalies, "set_triage", recording_set_triage)
    posted: list[object] = []
    app = make_app(db)
    async with app.run_test(size=SIZE, message_hook=posted.append) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        first = app.pane(AnomaliesPane).selected()
        await pilot.press("b")
        await settle(pilot, app)
        # Written off the UI thread, on a cursor of its own, then announced by a message.
        ((thread, _),) = writers
        assert thread != threading.main_thread().name
        (changed,) = posted_once(posted, TriageChanged)
        assert (changed.finding_id, changed.status) == (first["id"], "benign")
        assert app.state.triage_version == 1
        shown = next(f for f in app.pane(AnomaliesPane).rows if f["id"] == first["id"])
        assert shown["status"] == "benign"  # the pane reloaded on the state change
    app.store.close()
    listed = runner.invoke(cli, ["findings", "--status", "benign", "--format", "json", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    assert [f["id"] for f in json.loads(listed.stdout)] == [first["id"]]


async def test_keys_rebound_from_tui_json(db: Path, tmp_path: Path) -> None:
    (tmp_path / "tui.json").write_text(json.dumps({"keys": {"triage.confirm": "C", "no.such": "z"}}))
    app = make_app(db)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        first = app.pane(AnomaliesPane).selected()
        await pilot.press("c")  # no longer bound
        await settle(pilot, app)
        assert app.pane(AnomaliesPane).selected()["status"] == "new"
        await pilot.press("C")
        await settle(pilot, app)
        assert (
            next(f for f in app.pane(AnomaliesPane).rows if f["id"] == first["id"])["status"] == "confirmed"
        )
        assert any("no.such" in str(n.message) for n in app._notifications)  # an unknown id is reported
        await pilot.press("question_mark")  # the help shows the user's key
        await pilot.pause()
        keys = app.screen.query_one("#help-keys")
        rows = {cell_text(keys, r, 2): cell_text(keys, r, 0) for r in range(keys.row_count)}
        assert rows["triage.confirm"] == "C" and rows["triage.benign"] == "b"


def test_the_list_of_panes_builds_tabs_and_keys() -> None:
    from workbench.tui.commands import COMMANDS

    names = [pane.NAME for pane in PANES]
    assert names == ["overview", "anomalies", "timeline", "ips", "exposure", "queries", "report"]
    go = {c.id: c.key for c in COMMANDS if c.category == "go"}
    assert go == {f"go.{pane.NAME}": pane.KEY for pane in PANES}
    assert ScopeSet.__module__ == "workbench.tui.messages"


def test_panes_and_widgets_never_import_the_app() -> None:
    tui = ROOT / "workbench" / "tui"
    for path in [*(tui / "panes").glob("*.py"), *(tui / "widgets").glob("*.py")]:
        text = path.read_text()
        assert "tui.app" not in text and "tui import app" not in text, path
    modules = [f"workbench.tui.{p.parent.name}.{p.stem}" for p in sorted((tui / "panes").glob("*.py"))]
    modules += [f"workbench.tui.widgets.{p.stem}" for p in sorted((tui / "widgets").glob("*.py"))]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print('APP' if 'workbench.tui.app' in sys.modules else 'CLEAN')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "CLEAN", done.stderr


def test_no_fmt_skip_in_the_tui() -> None:
    files = [*(ROOT / "workbench" / "tui").rglob("*.py"), Path(__file__)]
    marker = "fmt: " + "skip"
    assert [f for f in files if marker in f.read_text()] == []
