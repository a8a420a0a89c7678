"""The Anomalies pane lists incidents: expandable to their findings, multi-select triage, suppression."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.tui.test_investigate import svg_text
from tests.tui.test_tui import SIZE, cell_text, make_app, screen_text, settle
from workbench.cli import app as cli
from workbench.store.db import open_store
from workbench.tui.panes.anomalies import INCIDENT_KEY, AnomaliesPane

runner = CliRunner()


def row_keys(table) -> list[str]:  # type: ignore[no-untyped-def]
    return [table.row_key(r) for r in range(table.row_count)]


async def test_the_gainsight_incident_is_one_row_that_expands_to_its_members(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        pane = app.pane(AnomaliesPane)
        table = app.query_one("#anomalies")
        (gainsight,) = [i for i in pane.incidents if i.entity_label == "Gainsight CS"]
        assert len(gainsight.members) > 1
        keys = row_keys(table)
        assert keys.count(INCIDENT_KEY + gainsight.id) == 1
        row = keys.index(INCIDENT_KEY + gainsight.id)
        assert cell_text(table, row, 6) == str(len(gainsight.members))
        assert cell_text(table, row, 7) == gainsight.story
        # Expanded at first: its members right under it, indented.
        assert keys[row + 1 : row + 1 + len(gainsight.members)] == gainsight.finding_ids
        assert cell_text(table, row + 1, 2).startswith("  ")
        total = len(pane.every)
        assert f"{total} of {total} finding(s) in {len(pane.incidents)} incident(s)" in str(
            table.border_title
        )
        assert f"{total} of {total} finding(s)" in svg_text(screen_text(app)).replace("\xa0", " ")
        table.move_cursor(row=row)
        await pilot.pause()
        assert "incident on Gainsight CS" in str(app.query_one("#anomaly-detail").render())
        await pilot.press("space")  # collapse
        await pilot.pause()
        assert row_keys(table) == [k for k in keys if k not in gainsight.finding_ids]
        assert pane.selected_incident() is gainsight
        await pilot.press("l")  # expand again
        await pilot.pause()
        assert row_keys(table) == keys
        await pilot.press("enter")  # enter on an incident toggles too, and stays here
        await pilot.pause()
        assert table.row_count == len(keys) - len(gainsight.members) and app.active == "anomalies"
        # A filter lists the matching findings flat, counted against all of them.
        await pilot.press("slash", *"detector:bulk_job_deleted")
        await pilot.pause()
        assert table.row_count == 1 and f"1 of {total} finding(s)" in str(table.border_title)


async def test_marking_an_incident_and_a_finding_triages_all_of_them(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        pane = app.pane(AnomaliesPane)
        table = app.query_one("#anomalies")
        gainsight = next(i for i in pane.incidents if i.entity_label == "Gainsight CS")
        other = next(i for i in pane.incidents if i is not gainsight)
        keys = row_keys(table)
        table.move_cursor(row=keys.index(INCIDENT_KEY + gainsight.id))
        await pilot.press("v")
        table.move_cursor(row=keys.index(other.finding_ids[0]))
        await pilot.press("v")
        assert pane.marked == {INCIDENT_KEY + gainsight.id, other.finding_ids[0]}
        assert "2 marked" in str(table.border_title)
        assert cell_text(table, keys.index(other.finding_ids[0]), 0).startswith("\u2713 ")
        await pilot.press("c")
        await settle(pilot, app)
        assert not pane.marked
        assert {f["id"] for f in pane.every if f["status"] == "confirmed"} == {
            *gainsight.finding_ids,
            other.finding_ids[0],
        }
        assert next(i for i in pane.incidents if i.id == gainsight.id).status == "confirmed"
    app.store.close()
    listed = runner.invoke(cli, ["findings", "--status", "confirmed", "--format", "json", "--db", str(db)])
    assert listed.exit_code == 0, listed.output
    assert {f["id"] for f in json.loads(listed.stdout)} == {*gainsight.finding_ids, other.finding_ids[0]}


async def test_triage_on_an_incident_row_without_marks_covers_its_members(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        pane = app.pane(AnomaliesPane)
        table = app.query_one("#anomalies")
        incident = pane.incidents[-1]
        table.move_cursor(row=row_keys(table).index(INCIDENT_KEY + incident.id))
        await pilot.press("x")
        await settle(pilot, app)
        assert {f["id"] for f in pane.every if f["status"] == "false_positive"} == set(incident.finding_ids)


async def test_suppress_a_detector_for_an_entity_from_the_pane(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        pane = app.pane(AnomaliesPane)
        table = app.query_one("#anomalies")
        finding = next(f for f in pane.every if f["entity_label"] != "Gainsight CS")
        covered = {
            f["id"]
            for f in pane.every
            if (f["detector"], f["entity_id"]) == (finding["detector"], finding["entity_id"])
        }
        before = len(pane.every)
        table.move_cursor(row=row_keys(table).index(finding["id"]))
        await pilot.press("S")
        await pilot.pause()
        await pilot.press(*"month end batch", "enter")
        await settle(pilot, app)
        assert not covered & {f["id"] for f in pane.every}
        assert len(pane.every) == before - len(covered)
        assert f"{before - len(covered)} of {before - len(covered)} finding(s)" in str(table.border_title)
    app.store.close()
    con = open_store(db)
    rows = con.execute("SELECT detector, entity_id, reason FROM suppressions").fetchall()
    con.close()
    assert rows == [(finding["detector"], finding["entity_id"], "month end batch")]


async def test_suppress_needs_a_finding_under_the_cursor(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        app.query_one("#anomalies").move_cursor(row=0)  # an incident's row
        await pilot.press("S")
        await pilot.pause()
        assert len(app.screen_stack) == 1
