"""Incidents: grouping stored findings by entity and time, stories in numbers, recurrences, stable ids."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.conftest import copy_store, gainsight_app_id
from workbench.cli import app
from workbench.findings import Finding, findings_frame
from workbench.investigate.incidents import load_incidents, recurrence
from workbench.store.db import open_store
from workbench.store.findings import load_findings, save_findings, set_triage

ROOT = Path(__file__).resolve().parents[2]
ACME = "00Dr0F3kxdTdhsx"
runner = CliRunner()


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("incidents") / "sample.duckdb"
    assert runner.invoke(app, ["ingest", str(ROOT / "sample_logs"), "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["scan", "--db", str(db)]).exit_code == 0
    return db


def finding(
    detector: str,
    start: datetime,
    hours: float = 1,
    entity: str = "0H4app",
    category: str = "volume",
    score: float = 50,
    evidence: dict | None = None,
) -> Finding:
    return Finding(
        detector=detector,
        category=category,
        org_id=ACME,
        entity_type="connected_app",
        entity_id=entity,
        entity_label="Vendor",
        window_start=start,
        window_end=start + timedelta(hours=hours),
        score=score,
        explanation=f"{detector} fired",
        evidence=evidence or {},
    )


def stored(con: duckdb.DuckDBPyConnection, *findings: Finding) -> None:
    save_findings(con, findings_frame(list(findings)))


def test_the_planted_gainsight_incident_is_one_incident_of_its_serious_findings(sample_db: Path) -> None:
    con = open_store(sample_db, read_only=True)
    try:
        incidents = load_incidents(con)
        serious = load_findings(con, min_severity="high")
    finally:
        con.close()
    target = gainsight_app_id(sample_db)
    top = incidents[0]
    assert top.entity_id == target and top.org_id == ACME and top.severity == "critical"
    assert {f["id"] for f in serious} <= set(top.finding_ids)
    assert len({f["incident_id"] for f in serious}) == 1 and serious[0]["incident_id"] == top.id
    assert len(top.families) >= 5 and top.score <= 100
    assert top.story.startswith(f"Gainsight CS: {len(top.members)} findings in {len(top.families)} families")
    for fact in ("3 new addresses", "recon then a 249,625-row export", "3 bulk jobs deleted"):
        assert fact in top.story
    assert all(i.entity_id != target for i in incidents[1:])


def test_overlap_or_a_short_gap_joins_a_longer_gap_splits(con: duckdb.DuckDBPyConnection) -> None:
    (gap,) = con.execute("SELECT incident_gap()").fetchall()[0]
    night = datetime(2025, 11, 18, 1)
    stored(
        con,
        finding("new_ip", night, category="geo_identity", score=70),
        finding("off_hours", night + timedelta(minutes=30), category="temporal", score=60),
        # starts within the gap after the furthest end so far: same incident
        finding("mass_export", night + timedelta(hours=1.5) + gap - timedelta(minutes=1), score=72),
        # starts just beyond the gap: a new incident
        finding("mass_export", night + timedelta(hours=3.5) + 2 * gap, score=45),
        # another entity at the same time: its own incident
        finding("new_ip", night, entity="0H4other", category="geo_identity", score=45),
    )
    incidents = load_incidents(con)
    sizes = sorted((i.entity_id, len(i.members)) for i in incidents)
    assert sizes == [("0H4app", 1), ("0H4app", 3), ("0H4other", 1)]
    big = next(i for i in incidents if len(i.members) == 3)
    assert big.families == ["geo_identity", "temporal", "volume"]
    assert big.score == 72 + 2 * 5 and big.severity == "high"  # two more families raise the strongest
    assert "3 findings in 3 families" in big.story


def test_status_comes_from_the_members_triage(con: duckdb.DuckDBPyConnection) -> None:
    night = datetime(2025, 11, 18, 1)
    first, second = finding("new_ip", night), finding("off_hours", night)
    stored(con, first, second)
    assert [i.status for i in load_incidents(con)] == ["new"]
    set_triage(con, first.id, "benign")
    assert [i.status for i in load_incidents(con)] == ["new"]
    set_triage(con, second.id, "false_positive")
    assert [i.status for i in load_incidents(con)] == ["dismissed"]
    assert load_incidents(con, status="new") == []
    set_triage(con, second.id, "confirmed")
    assert [i.status for i in load_incidents(con, status="confirmed")] == ["confirmed"]


def test_recurring_identical_findings_collapse_into_one_line(con: duckdb.DuckDBPyConnection) -> None:
    first_day = datetime(2025, 11, 1, 5, 2)
    stored(
        con,
        *(finding("bulk_job_deleted", first_day + timedelta(days=d, minutes=d % 3), 0.1) for d in range(14)),
        finding("new_ip", datetime(2025, 11, 20, 3), entity="0H4other", category="geo_identity"),
    )
    incidents = load_incidents(con)
    assert len(incidents) == 2
    daily = next(i for i in incidents if i.entity_id == "0H4app")
    assert daily.lines == ["bulk_job_deleted x14, daily about 05:03"]
    assert daily.story == "Vendor: bulk_job_deleted x14, daily about 05:03"
    assert len(daily.members) == 14 and len(daily.incident_ids) == 14
    assert len(load_incidents(con, collapse=False)) == 15


def test_recurrence_wording() -> None:
    days = [datetime(2025, 11, d, 0) for d in (1, 2, 3)]
    assert recurrence(days, [d + timedelta(days=1) for d in days]) == "daily"  # day-long windows: no hour
    spread = [datetime(2025, 11, 1, 1), datetime(2025, 11, 5, 20)]
    assert recurrence(spread, spread) == "on 2 days over 5"


def test_incident_ids_are_stable_across_rescans(sample_db: Path, tmp_path: Path) -> None:

    copy = tmp_path / "again.duckdb"
    copy_store(sample_db, copy)
    con = open_store(copy, read_only=True)
    before = {f["id"]: f["incident_id"] for f in load_findings(con)}
    con.close()
    assert runner.invoke(app, ["scan", "--db", str(copy), "--all"]).exit_code == 0
    con = open_store(copy, read_only=True)
    after = {f["id"]: f["incident_id"] for f in load_findings(con)}
    con.close()
    assert after == before and all(before.values())
