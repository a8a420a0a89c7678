"""The consultant's view: the inventory in every format with its privilege explained, a starter
catalog that does not learn the incident, and query results as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import copy_store, gainsight_app_id
from workbench.cli import app
from workbench.config import load_catalog

ROOT = Path(__file__).resolve().parents[2]
ACME = "00Dr0F3kxdTdhsx"
runner = CliRunner()


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("consultant") / "sample.duckdb"
    assert runner.invoke(app, ["ingest", str(ROOT / "sample_logs"), "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["scan", "--db", str(db)]).exit_code == 0
    return db


@pytest.fixture
def db(scanned: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    copy_store(scanned, copy)
    return copy


def integrations(db: Path, *args: str) -> str:
    result = runner.invoke(app, ["integrations", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_inventory_formats_carry_the_org_and_the_explained_score(db: Path) -> None:
    apps = json.loads(integrations(db, "--format", "json"))
    target = gainsight_app_id(db)
    gainsight = next(a for a in apps if a["connected_app_id"] == target)
    assert gainsight["org_id"] == ACME and gainsight["privilege"] == apps[0]["privilege"]
    why = gainsight["privilege_why"]
    for part in ("writes", "objects", "sensitive", "bulk", "calls"):
        assert part in why
    assert [a["privilege"] for a in apps] == sorted((a["privilege"] for a in apps), reverse=True)
    rows = list(csv.DictReader(io.StringIO(integrations(db, "--format", "csv"))))
    assert {"org_id", "privilege", "privilege_why"} <= set(rows[0]) and len(rows) == len(apps)
    markdown = integrations(db, "--format", "markdown")
    assert (
        "| privilege | org | app |" in markdown and "why (privilege points)" in markdown and ACME in markdown
    )
    table = integrations(db)
    assert "org" in table and "why" in table


def test_bulk_job_control_is_not_a_write(db: Path) -> None:
    apps = json.loads(integrations(db, "--format", "json", "--until", "2025-11-20"))
    # Informatica's nightly upserts (ingest uploads) are writes; the incident's query jobs are not.
    gainsight = next(a for a in apps if a["connected_app_id"] == gainsight_app_id(db))
    before = json.loads(integrations(db, "--format", "json", "--until", "2025-11-18"))
    same = next(a for a in before if a["connected_app_id"] == gainsight["connected_app_id"])
    assert gainsight["write_share"] <= same["write_share"] + 0.01


def test_starter_catalog_leaves_out_what_only_the_incident_showed(db: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "integrations.toml"
    result = runner.invoke(app, ["integrations", "--db", str(db), "--write-catalog", str(catalog)])
    assert result.exit_code == 0, result.output
    assert "left out" in result.output
    target = gainsight_app_id(db)
    entry = next(e for e in load_catalog(catalog) if e.connected_app_id == target)
    assert {str(c) for c in entry.egress_cidrs} == {"52.10.17.21/32", "52.10.17.22/32", "52.10.18.5/32"}
    assert entry.allowed_objects is not None
    assert not {"User", "Case", "ContentVersion"} & set(entry.allowed_objects)
    assert entry.expected_hours == (6, 20)
    text = catalog.read_text()
    assert '# left out: ip "185.220.101.164" (seen only in high or critical findings)' in text
    assert '# left out: object "Case" (seen only in high or critical findings)' in text
    assert "# left out: hour 01:00 UTC" in text


def test_starter_catalog_leaves_out_anonymizers(db: Path, tmp_path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        # A routine-looking address of another app, flagged as a VPN exit by enrichment.
        (ip,) = con.execute(
            "SELECT ip FROM hourly_activity WHERE connected_app_name = 'Informatica Cloud' AND ip IS NOT NULL "
            "GROUP BY ip ORDER BY ip LIMIT 1"
        ).fetchone()
        con.execute("DELETE FROM ip_info WHERE ip = ?", [ip])
        con.execute(
            "INSERT INTO ip_info (ip, kind, is_vpn, sources, enriched_at) VALUES (?, 'public', true, 'test', now())",
            [ip],
        )
    finally:
        con.close()
    catalog = tmp_path / "integrations.toml"
    assert (
        runner.invoke(app, ["integrations", "--db", str(db), "--write-catalog", str(catalog)]).exit_code == 0
    )
    assert f'# left out: ip "{ip}" (from an anonymizer (VPN))' in catalog.read_text()
    assert all(f"{ip}/32" not in {str(c) for c in e.egress_cidrs} for e in load_catalog(catalog))


def test_query_formats(db: Path) -> None:
    sql = "SELECT 'a,b' AS name, 3 AS n, '=1+1' AS formula"
    as_json = runner.invoke(app, ["query", sql, "--db", str(db), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == [{"name": "a,b", "n": 3, "formula": "=1+1"}]
    as_csv = runner.invoke(app, ["query", sql, "--db", str(db), "--format", "csv"])
    assert as_csv.stdout.splitlines() == ["name,n,formula", '"a,b",3,\'=1+1']
    table = runner.invoke(app, ["query", sql, "--db", str(db)])
    assert "a,b" in table.stdout and "1 of 1 rows" in table.output
    bad = runner.invoke(app, ["query", sql, "--db", str(db), "--format", "xml"])
    assert bad.exit_code == 2
