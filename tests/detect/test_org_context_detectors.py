"""The org-context detectors, each firing and quiet through a real store: CSV exports and event
logs -> `workbench ingest` -> `workbench scan`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, write_log
from tests.org_exports import (
    APP_HEADER,
    AUDIT_API_HEADER,
    TOKEN_HEADER,
    app_row,
    data_loader,
    sf_cli,
    token_row,
)
from workbench.cli import app

runner = CliRunner()
APP_ID = "0H468000000kPN4"
FIRST, LAST = date(2025, 11, 1), date(2025, 11, 19)


def logs(tmp_path: Path, spike: bool = False) -> None:
    rows = []
    day = FIRST
    while day <= LAST:
        calls = 400 if spike and day == LAST else 8
        stamp = day.strftime("%Y%m%d")
        rows += [
            api_row(ts=f"{stamp}{10 + i // 60:02d}{i % 60:02d}00.000", request_id=f"{stamp}-{i}")
            for i in range(calls)
        ]
        day += timedelta(days=1)
    write_log(tmp_path / "logs" / "api.csv", API_TOTAL_USAGE_HEADER, rows)


def ingest(db: Path, folder: Path, *args: str) -> None:
    result = runner.invoke(app, ["ingest", str(folder), "--db", str(db), *args])
    assert result.exit_code == 0, result.output


def scan(db: Path, *detectors: str) -> list[dict]:
    args = ["scan", "--db", str(db), "--all", "--format", "json"]
    for name in detectors:
        args += ["--detector", name]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def tokens(tmp_path: Path, name: str, sync_used: str, gs_used: str) -> Path:
    return data_loader(
        tmp_path / name / "tokens.csv",
        TOKEN_HEADER,
        [
            token_row("0CQ1", "Gainsight CS", "005A", "gs@acme.test", "2025-03-01T00:00:00Z", gs_used),
            token_row("0CQ2", "Gainsight CS", "005B", "ops@acme.test", "2025-03-01T00:00:00Z", sync_used),
        ],
    ).parent


def test_dormant_token_used_fires_on_a_long_sleep_only(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    logs(tmp_path)
    ingest(db, tmp_path / "logs")
    sf_cli(tmp_path / "apps" / "apps.csv", APP_HEADER, [app_row(APP_ID + "AAM", "Gainsight CS")])
    ingest(db, tmp_path / "apps", "--as-of", "2025-11-05")
    ingest(db, tokens(tmp_path, "a", "2025-09-01T00:00:00Z", "2025-11-04T10:00:00Z"), "--as-of", "2025-11-05")
    assert scan(db, "dormant_token_used") == []  # one snapshot: no jump to see
    ingest(db, tokens(tmp_path, "b", "2025-11-18T10:00:00Z", "2025-11-18T11:00:00Z"), "--as-of", "2025-11-20")
    found = scan(db, "dormant_token_used")
    assert len(found) == 1, found
    (finding,) = found
    assert finding["entity_id"] == APP_ID and finding["entity_label"] == "Gainsight CS"
    assert finding["evidence"]["users"] == ["ops@acme.test"]  # gs@ was used 14 days before: quiet
    assert finding["observed"] == 78 and finding["severity"] == "medium"
    assert "after 78 idle days" in finding["explanation"]


def test_setup_change_before_activity_fires_only_with_a_change_naming_the_app(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    logs(tmp_path, spike=True)
    ingest(db, tmp_path / "logs")
    sf_cli(tmp_path / "apps" / "apps.csv", APP_HEADER, [app_row(APP_ID + "AAM", "Gainsight CS")])
    ingest(db, tmp_path / "apps", "--as-of", "2025-11-20")
    quiet = scan(db, "volume_spike", "setup_change_before_activity")
    assert {f["detector"] for f in quiet} == {"volume_spike"}, quiet
    relaxed = "Changed Gainsight CS IP Relaxation from Enforce to Relax IP restrictions"
    audit = [
        [
            "0Ym1",
            "2025-11-18T09:00:00Z",
            "admin@acme.test",
            "connectedAppPolicy",
            "Connected Apps",
            relaxed,
            "",
        ],
        [
            "0Ym2",
            "2025-11-18T09:30:00Z",
            "admin@acme.test",
            "changedPassword",
            "Users",
            "Changed password",
            "",
        ],
    ]
    sf_cli(tmp_path / "audit" / "audit.csv", AUDIT_API_HEADER, audit)
    ingest(db, tmp_path / "audit")
    found = [
        f for f in scan(db, "volume_spike", "setup_change_before_activity") if f["category"] == "sequence"
    ]
    assert len(found) == 1, found
    assert found[0]["detector"] == "setup_change_before_activity" and found[0]["entity_id"] == APP_ID
    assert (
        "Relax IP restrictions" in found[0]["explanation"]
        and "Changed password" not in found[0]["explanation"]
    )
    assert found[0]["evidence"]["users"] == ["admin@acme.test"]
