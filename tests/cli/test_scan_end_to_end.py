"""The quality bar on sample_logs/: the planted incident is found, the benign patterns are not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.conftest import LOGIN_HEADER, LOGIN_ROW, copy_store, gainsight_app_id, quoted_csv
from workbench.cli import app
from workbench.sources.local import ingest_paths

ROOT = Path(__file__).resolve().parents[2]
ACME = "00Dr0F3kxdTdhsx"
runner = CliRunner()


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    result = runner.invoke(app, ["ingest", str(ROOT / "sample_logs"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def db(sample_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "scan.duckdb"
    copy_store(sample_db, copy)
    return copy


def scan_json(db: Path, *args: str) -> list[dict]:
    result = runner.invoke(app, ["scan", "--db", str(db), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_planted_incident_is_high_or_critical_in_three_families(db: Path) -> None:
    findings = scan_json(db)
    serious = [f for f in findings if f["severity"] in ("high", "critical")]
    target = gainsight_app_id(db)
    assert serious and all(f["org_id"] == ACME and f["entity_id"] == target for f in serious)
    families = {f["category"] for f in serious}
    assert "geo_identity" in families and "sequence" in families
    assert families & {"temporal", "behavioral"}
    detectors = {f["detector"] for f in serious}
    assert {
        "new_ip",
        "off_hours",
        "new_object_access",
        "recon_then_export",
        "bulk_job_deleted",
        "mass_export",
        "suspicious_client",
    } <= detectors
    for f in serious:
        assert re.search(r"\d", f["explanation"]), f  # explained in numbers
    explanations = " ".join(f["explanation"] for f in serious)
    for number in ("185.220.101.143", "3.239.45.43", "184,215", "ContentVersion"):
        assert number in explanations


def test_benign_patterns_stay_low_over_the_whole_history(db: Path) -> None:
    findings = scan_json(db, "--since", "2025-10-18", "--until", "2025-11-21")
    target = gainsight_app_id(db)
    above_low = [f for f in findings if f["severity"] != "low"]
    assert above_low and all(f["entity_id"] == target for f in above_low), [
        (f["detector"], f["entity_label"], f["severity"]) for f in above_low if f["entity_id"] != target
    ]
    incident_days = {"2025-11-18", "2025-11-19"}
    assert all(f["window_start"][:10] in incident_days for f in above_low)


def test_json_contract_and_stable_ids_and_triage_survive_rescans(db: Path) -> None:
    first = scan_json(db)
    assert set(first[0]) == {
        "id",
        "detector",
        "category",
        "severity",
        "score",
        "org_id",
        "entity_type",
        "entity_id",
        "entity_label",
        "window_start",
        "window_end",
        "observed",
        "baseline",
        "explanation",
        "evidence",
        "incident_id",
    }
    assert first[0]["window_start"].endswith("Z") and 0 <= first[0]["score"] <= 100
    finding = first[0]["id"]
    triaged = runner.invoke(
        app, ["triage", finding[:8], "--status", "confirmed", "--note", "token abuse", "--db", str(db)]
    )
    assert triaged.exit_code == 0, triaged.output
    second = scan_json(db, "--all")
    assert [f["id"] for f in second] == [f["id"] for f in first]
    listed = runner.invoke(app, ["findings", "--status", "confirmed", "--format", "json", "--db", str(db)])
    (kept,) = json.loads(listed.stdout)
    assert kept["id"] == finding and kept["status"] == "confirmed" and kept["note"] == "token abuse"


def test_default_scan_judges_every_day_with_history_then_only_new_days(db: Path) -> None:
    first = runner.invoke(app, ["scan", "--db", str(db), "--format", "json"])
    # sample_logs/ starts on 2025-10-18: the first 7 days are history only.
    assert "judging 28 day(s), 2025-10-25 to 2025-11-21" in first.stderr
    assert {f["window_start"][:10] for f in json.loads(first.stdout)} >= {"2025-11-18", "2025-11-19"}
    again = runner.invoke(app, ["scan", "--db", str(db), "--format", "json"])
    assert (
        "judging 1 day(s), 2025-11-21 to 2025-11-21" in again.stderr and "since the last scan" in again.stderr
    )
    early = runner.invoke(app, ["scan", "--db", str(db), "--since", "2025-10-18", "--until", "2025-10-30"])
    assert "not judged for too little history" in early.stderr and "2025-10-18 to 2025-10-24" in early.stderr


def test_a_failing_detector_leaves_the_others_and_exit_4(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from workbench.detect import registry

    def broken(ctx: object, params: object) -> list:
        raise TypeError("expected a number, got Decimal('3')")

    detectors = [replace(d, run=broken) if d.name == "off_hours" else d for d in registry.DETECTORS]
    monkeypatch.setattr(registry, "DETECTORS", detectors)
    result = runner.invoke(app, ["scan", "--db", str(db), "--format", "json"])
    assert result.exit_code == 4
    assert "detector off_hours failed" in result.stderr and "Decimal('3')" in result.stderr
    findings = json.loads(result.stdout)  # still a valid array
    assert findings and "off_hours" not in {f["detector"] for f in findings}
    assert "Traceback" not in result.output


def test_fail_on_gives_exit_1_for_cron(db: Path) -> None:
    assert runner.invoke(app, ["scan", "--db", str(db), "--fail-on", "critical"]).exit_code == 1
    quiet = runner.invoke(
        app, ["scan", "--db", str(db), "--all", "--detector", "schedule_shift", "--fail-on", "low"]
    )
    assert quiet.exit_code == 0


def test_suppression_is_scoped_and_keeps_the_findings(db: Path) -> None:
    scan_json(db)
    target = gainsight_app_id(db)
    bad = runner.invoke(app, ["suppress", "--detector", "new_ip", "--entity", "*", "--db", str(db)])
    assert bad.exit_code == 2 and "scoped" in bad.output
    done = runner.invoke(
        app,
        ["suppress", "--detector", "new_ip", "--entity", target, "--reason", "vendor moved", "--db", str(db)],
    )
    assert done.exit_code == 0 and "2 stored finding(s)" in done.output  # one per day
    shown = {f["detector"] for f in scan_json(db, "--all")}
    assert "new_ip" not in shown and "off_hours" in shown
    everything = runner.invoke(app, ["findings", "--include-suppressed", "--format", "json", "--db", str(db)])
    assert sum(1 for f in json.loads(everything.stdout) if f["suppressed"]) == 2


def test_bad_options_are_one_line_errors(db: Path) -> None:
    for args, text in (
        (["scan", "--format", "xml"], "--format"),
        (["scan", "--detector", "nope"], "unknown detector"),
        (["scan", "--since", "2025-13-01"], "not a date"),
        (["triage", "abc", "--status", "confirmed"], "too short"),
        (["triage", "abcdefgh", "--status", "maybe"], "status"),
    ):
        result = runner.invoke(app, [*args, "--db", str(db)])
        assert result.exit_code == 2 and text in result.output and "Traceback" not in result.output


def test_markdown_and_csv_outputs_neutralise_hostile_strings(db: Path, tmp_path: Path) -> None:
    hostile = "[click](http://evil.test) | `x` <b>=cmd</b>"
    header = [*LOGIN_HEADER]
    rows = []
    for minute in range(3):
        row = list(LOGIN_ROW)
        row[header.index("BROWSER_TYPE")] = "Salesforce-Multi-Org-Fetcher/1.0"
        row[header.index("USER_NAME")] = hostile
        row[header.index("REQUEST_ID")] = f"evil{minute}"
        row[header.index("TIMESTAMP_DERIVED")] = f"2025-11-20T03:0{minute}:00.000Z"
        row[header.index("ORGANIZATION_ID")] = ACME
        rows.append(row)
    (tmp_path / "evil.csv").write_text(quoted_csv(header, rows))
    con = duckdb.connect(str(db))
    ingest_paths(con, [tmp_path / "evil.csv"])
    con.close()
    md = runner.invoke(
        app, ["scan", "--db", str(db), "--detector", "suspicious_client", "--format", "markdown"]
    )
    assert "Salesforce-Multi-Org-Fetcher" in md.stdout
    assert "[click](" not in md.stdout and "\\[click\\]" in md.stdout and "<b>" not in md.stdout
    incidents, findings = md.stdout.split("# Findings")
    # the pipe in the user name did not add a column: incidents have 9, findings 7
    for part, columns in ((incidents, 9), (findings, 7)):
        for line in part.splitlines():
            if line.startswith("| ") and "suspicious" in line:
                assert line.count(" | ") == columns - 1
    csv_out = runner.invoke(
        app, ["findings", "--db", str(db), "--format", "csv", "--detector", "suspicious_client"]
    )
    assert ",=" not in csv_out.stdout


def test_integrations_inventory_and_starter_catalog(db: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "integrations.toml"
    result = runner.invoke(app, ["integrations", "--db", str(db), "--write-catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    assert "Gainsight CS" in result.output and "Informatica Cloud" in result.output
    from workbench.config import load_catalog

    entries = load_catalog(catalog)
    assert {e.name for e in entries} >= {"Gainsight CS", "Zuora Billing", "HubSpot"}
    etl = next(e for e in entries if e.name == "Informatica Cloud")
    assert etl.expected_weekdays == (0, 1, 2, 3, 4) and etl.expected_hours == (2, 4)
    again = runner.invoke(app, ["integrations", "--db", str(db), "--write-catalog", str(catalog)])
    assert again.exit_code == 2 and "already exists" in again.output
    target = gainsight_app_id(db)
    gainsight = next(e for e in entries if e.connected_app_id == target)
    assert any(str(c).startswith("185.220.101.") for c in gainsight.egress_cidrs)  # the incident is in there
    before = tmp_path / "before.toml"
    drafted = runner.invoke(
        app, ["integrations", "--db", str(db), "--write-catalog", str(before), "--until", "2025-11-17"]
    )
    assert drafted.exit_code == 0, drafted.output
    clean = next(e for e in load_catalog(before) if e.connected_app_id == target)
    assert {str(c) for c in clean.egress_cidrs} == {"52.10.17.21/32", "52.10.17.22/32", "52.10.18.5/32"}
    assert clean.allowed_objects is not None and "User" not in clean.allowed_objects


def test_catalog_declarations_show_in_explanations(db: Path, tmp_path: Path) -> None:
    target = gainsight_app_id(db)
    (tmp_path / "integrations.toml").write_text(
        f'[[integration]]\nname = "Gainsight CS"\nconnected_app_id = "{target}"\n'
        'expected_hours = "06:00-20:00"\nallowed_objects = ["Account", "Contact", "Opportunity", "Task"]\n'
    )
    (tmp_path / "workbench.toml").write_text('[detect]\nintegrations = "integrations.toml"\n')
    findings = scan_json(db, "--config", str(tmp_path / "workbench.toml"))
    explanations = " ".join(f["explanation"] for f in findings)
    assert "declared 06:00-20:00 UTC" in explanations
    assert "Not in the objects declared for Gainsight CS" in explanations
    broken = tmp_path / "broken.toml"
    broken.write_text("[detect\n")
    bad = runner.invoke(app, ["scan", "--db", str(db), "--config", str(broken)])
    assert bad.exit_code == 2 and "not valid TOML" in bad.output
