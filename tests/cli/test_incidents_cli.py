"""`workbench incidents`, and `scan`/`findings` printing incidents first (JSON stays findings)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import copy_store, gainsight_app_id
from workbench.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("incidents_cli") / "sample.duckdb"
    assert runner.invoke(app, ["ingest", str(ROOT / "sample_logs"), "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["scan", "--db", str(db)]).exit_code == 0
    return db


@pytest.fixture
def db(scanned: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    copy_store(scanned, copy)
    return copy


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_json_stays_an_array_of_findings_each_with_its_incident(db: Path) -> None:
    findings = json.loads(invoke("scan", "--db", str(db), "--all", "--format", "json"))
    assert isinstance(findings, list) and findings
    assert all(len(f["incident_id"]) == 16 for f in findings)
    stored = json.loads(invoke("findings", "--db", str(db), "--format", "json"))
    assert {f["id"]: f["incident_id"] for f in stored} == {f["id"]: f["incident_id"] for f in findings}
    incidents = json.loads(invoke("incidents", "--db", str(db), "--format", "json"))
    covered = {fid for i in incidents for fid in i["finding_ids"]}
    assert covered == {f["id"] for f in stored}
    named = {iid for i in incidents for iid in i["incident_ids"]}
    assert {f["incident_id"] for f in stored} <= named


def test_incidents_command_formats_and_filters(db: Path) -> None:
    target = gainsight_app_id(db)
    table = invoke("incidents", "--db", str(db))
    assert "Incidents: 3" in table and "Gainsight CS" in table and "critical" in table
    listed = json.loads(invoke("incidents", "--db", str(db), "--format", "json"))
    top = listed[0]
    assert top["entity_id"] == target and top["severity"] == "critical" and top["status"] == "new"
    assert top["window_start"].endswith("Z") and "249,625-row export" in top["story"]
    serious = json.loads(invoke("incidents", "--db", str(db), "--format", "json", "--min-severity", "high"))
    assert [i["id"] for i in serious] == [top["id"]]
    markdown = invoke("incidents", "--db", str(db), "--format", "markdown")
    assert markdown.startswith("# Incidents: 3") and "| critical | 100 |" in markdown
    rows = list(csv.DictReader(io.StringIO(invoke("incidents", "--db", str(db), "--format", "csv"))))
    assert rows[0]["id"] == top["id"] and json.loads(rows[0]["finding_ids"]) == top["finding_ids"]
    finding = top["finding_ids"][0]
    invoke("triage", finding, "--status", "confirmed", "--db", str(db))
    confirmed = json.loads(invoke("incidents", "--db", str(db), "--format", "json", "--status", "confirmed"))
    assert [i["id"] for i in confirmed] == [top["id"]]
    bad = runner.invoke(app, ["incidents", "--db", str(db), "--status", "maybe"])
    assert bad.exit_code == 2


def test_tables_print_incidents_first_and_by_finding_gives_the_flat_list(db: Path) -> None:
    grouped = invoke("findings", "--db", str(db))
    assert grouped.index("Incidents: 3") < grouped.index("Stored findings:")
    flat = invoke("findings", "--db", str(db), "--by", "finding")
    assert "Incidents:" not in flat and "Stored findings:" in flat
    scanned = invoke("scan", "--db", str(db), "--all", "--min-severity", "high")
    assert scanned.index("Incidents: 1") < scanned.index("Findings:")
    markdown = invoke("scan", "--db", str(db), "--all", "--format", "markdown", "--min-severity", "high")
    assert markdown.index("# Incidents: 1") < markdown.index("# Findings")


def test_triage_of_an_incident_id_decides_every_finding_in_it(db: Path) -> None:
    top = json.loads(invoke("incidents", "--db", str(db), "--format", "json"))[0]
    stored = json.loads(invoke("findings", "--db", str(db), "--format", "json"))
    members = {f["id"] for f in stored if f["incident_id"] == top["id"]}
    assert len(members) > 1
    said = invoke("triage", top["id"][:8], "--status", "confirmed", "--note", "ticket 7", "--db", str(db))
    assert f"incident {top['id']} ({len(members)} findings): confirmed" in said
    after = json.loads(invoke("findings", "--db", str(db), "--format", "json"))
    decided = {f["id"] for f in after if f["status"] == "confirmed" and f["note"] == "ticket 7"}
    assert decided == members  # the incident's findings, and no other
    unknown = runner.invoke(app, ["triage", "ffffffffff", "--status", "benign", "--db", str(db)])
    assert unknown.exit_code == 2 and "no finding with id" in unknown.output
