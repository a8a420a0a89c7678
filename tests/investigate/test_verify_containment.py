"""`workbench verify-containment`: revoked tokens gone, old addresses and tokens quiet, new tokens
in place, through CSV exports -> ingest -> the store -> the command."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, write_log
from tests.org_exports import (
    APP_HEADER,
    LOGIN_HEADER,
    TOKEN_HEADER,
    app_row,
    data_loader,
    login_row,
    sf_cli,
    token_row,
)
from workbench.cli import app

runner = CliRunner()
APP_ID = "0H468000000kPN4"
VENDOR_IP, INCIDENT_IP = "198.51.100.1", "203.0.113.10"


def build(tmp_path: Path, incident_after: bool = False) -> tuple[Path, Path]:
    db = tmp_path / "w.duckdb"
    rows = [api_row(ts=f"20251117{h:02d}0000.000", request_id=f"v{h}", ip=VENDOR_IP) for h in range(8, 12)]
    rows += [api_row(ts="20251118030000.000", request_id="x1", ip=INCIDENT_IP)]
    rows += [api_row(ts=f"20251121{h:02d}0000.000", request_id=f"w{h}", ip=VENDOR_IP) for h in range(8, 12)]
    if incident_after:
        rows += [api_row(ts="20251121040000.000", request_id="x2", ip=INCIDENT_IP)]
    write_log(tmp_path / "logs" / "api.csv", API_TOTAL_USAGE_HEADER, rows)
    sf_cli(tmp_path / "apps" / "apps.csv", APP_HEADER, [app_row(APP_ID + "AAM", "Gainsight CS")])
    before = [
        token_row(
            "0CQ1", "Gainsight CS", "005A", "gs@acme.test", "2025-06-01T00:00:00Z", "2025-11-18T03:00:00Z"
        ),
        token_row("0CQ9", "Drift", "005B", "drift@acme.test", "2025-02-01T00:00:00Z", "2025-11-17T00:00:00Z"),
    ]
    after = [
        token_row(
            "0CQ5", "Gainsight CS", "005A", "gs@acme.test", "2025-11-20T09:00:00Z", "2025-11-21T11:00:00Z"
        ),
        token_row("0CQ9", "Drift", "005B", "drift@acme.test", "2025-02-01T00:00:00Z", "2025-11-21T05:00:00Z"),
    ]
    data_loader(tmp_path / "t1" / "tokens.csv", TOKEN_HEADER, before)
    data_loader(tmp_path / "t2" / "tokens.csv", TOKEN_HEADER, after)
    logins = [login_row("0Ya1", "2025-11-21T05:00:00Z", "005B", "Drift", "192.0.2.66")]
    logins.insert(0, login_row("0Ya0", "2025-11-10T05:00:00Z", "005B", "Drift", "192.0.2.66"))
    sf_cli(tmp_path / "logins" / "logins.csv", LOGIN_HEADER, logins)
    for folder, as_of in (
        ("logs", None),
        ("apps", "2025-11-19"),
        ("t1", "2025-11-19"),
        ("t2", "2025-11-22"),
        ("logins", None),
    ):
        args = ["ingest", str(tmp_path / folder), "--db", str(db)] + (["--as-of", as_of] if as_of else [])
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    catalog = tmp_path / "integrations.toml"
    catalog.write_text(
        f'[[integration]]\nname = "Gainsight CS"\nconnected_app_id = "{APP_ID}"\negress_cidrs = ["198.51.100.0/24"]\n'
    )
    config = tmp_path / "workbench.toml"
    config.write_text(f'[detect]\nintegrations = "{catalog}"\n')
    return db, config


def verify(db: Path, config: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app, ["verify-containment", "--db", str(db), "--config", str(config), "--format", "json", *args]
    )


def answers(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [c["answer"] for c in json.loads(result.stdout)["checks"]]


def test_the_reissued_app_passes(tmp_path: Path) -> None:
    db, config = build(tmp_path)
    result = verify(db, config, "--app", "Gainsight CS", "--since", "2025-11-20T00:00")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["verdict"] == "pass" and answers(result) == ["pass", "pass", "pass"]
    assert body["app_ids"] == [APP_ID]
    assert "1 new token(s) for gs@acme.test" in body["checks"][2]["evidence"][0]
    # By id too, 18 characters, in a table.
    table = runner.invoke(
        app,
        [
            "verify-containment",
            "--db",
            str(db),
            "--config",
            str(config),
            "--app",
            APP_ID + "AAM",
            "--since",
            "2025-11-20",
        ],
        terminal_width=200,
    )
    assert table.exit_code == 0 and "PASS" in table.output


def test_an_app_whose_old_token_is_still_live_fails(tmp_path: Path) -> None:
    db, config = build(tmp_path)
    result = verify(db, config, "--app", "drift", "--since", "2025-11-20")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["verdict"] == "fail" and answers(result) == ["fail", "fail", "fail"]
    assert "token 0CQ9 of drift@acme.test" in body["checks"][0]["evidence"][0]
    evidence = "\n".join(body["checks"][1]["evidence"])
    assert "192.0.2.66: login of 005B at 2025-11-21 05:00" in evidence
    assert "old token used after 2025-11-20 00:00" in evidence


def test_activity_from_the_incident_address_after_revocation_fails(tmp_path: Path) -> None:
    db, config = build(tmp_path, incident_after=True)
    result = verify(db, config, "--app", "Gainsight CS", "--since", "2025-11-20", "--ip", INCIDENT_IP)
    assert result.exit_code == 1
    assert answers(result) == ["pass", "fail", "pass"]
    assert any(
        e.startswith(INCIDENT_IP + ": 1 call(s)") for e in json.loads(result.stdout)["checks"][1]["evidence"]
    )
    # Without --ip: the catalog declares the vendor's egress, so only the incident address counts.
    default = verify(db, config, "--app", "Gainsight CS", "--since", "2025-11-20")
    assert answers(default) == ["pass", "fail", "pass"]


def test_unknown_without_a_snapshot_after_and_a_bad_app_is_an_error(tmp_path: Path) -> None:
    db, config = build(tmp_path)
    result = verify(db, config, "--app", "Gainsight CS", "--since", "2025-11-25")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["verdict"] == "unknown" and answers(result) == [
        "unknown",
        "unknown",
        "unknown",
    ]
    bad = verify(db, config, "--app", "Gainsite", "--since", "2025-11-20")
    assert bad.exit_code == 2 and "no such connected app" in bad.output and "Gainsight CS" in bad.output
    markdown = runner.invoke(
        app,
        [
            "verify-containment",
            "--db",
            str(db),
            "--app",
            "Drift",
            "--since",
            "2025-11-20",
            "--format",
            "markdown",
        ],
    )
    assert markdown.exit_code == 1 and markdown.stdout.startswith(
        "# Containment of Drift after 2025-11-20 00:00 UTC: FAIL"
    )
