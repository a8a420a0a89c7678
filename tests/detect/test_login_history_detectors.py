"""LoginHistory feeds the login detectors of an org that has no Login event logs (no Event
Monitoring licence): through a real store, from exports written the way `sf data query` writes
them, and never twice where the Login event logs exist."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, LOGIN_HEADER, LOGIN_ROW, api_row, write_log
from tests.org_exports import APP_HEADER, app_row, login_row, sf_cli
from tests.org_exports import LOGIN_HEADER as HISTORY_HEADER
from workbench.cli import app

runner = CliRunner()
ORG = "00D68000004DKqo"
USER = "00568000004ogT4"
APP_ID = "0H468000000kPN4"
USUAL_IP, PROBE_IP = "141.95.144.78", "185.220.101.7"
FIRST, LAST = date(2025, 11, 1), date(2025, 11, 19)
DETECTORS = ("probe_then_success", "new_ip", "auth_failure_burst")


def days() -> list[date]:
    return [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def build(tmp_path: Path, probe: bool, login_logs: bool = False) -> Path:
    """19 days of the app's API calls and its daily OAuth logins from its usual address; with
    PROBE, on the last day eight failed logins from a Tor-like address, then one that works."""
    db = tmp_path / "w.duckdb"
    api = [
        api_row(ts=f"{d:%Y%m%d}10{i:02d}00.000", request_id=f"{d:%Y%m%d}-{i}", org=ORG, user=USER, app=APP_ID)
        for d in days()
        for i in range(8)
    ]
    write_log(tmp_path / "logs" / "api.csv", API_TOTAL_USAGE_HEADER, api)
    if login_logs:  # the org has Event Monitoring: one ordinary Login event log row
        row = list(LOGIN_ROW)
        row[1], row[3], row[22] = f"{LAST:%Y%m%d}090000.000", ORG, f"{LAST:%Y-%m-%d}T09:00:00.000Z"
        write_log(tmp_path / "logs" / "login.csv", LOGIN_HEADER, [row])
    result = runner.invoke(app, ["ingest", str(tmp_path / "logs"), "--db", str(db)])
    assert result.exit_code == 0, result.output

    history = [
        login_row(f"0Ya{d:%m%d}{i}", f"{d:%Y-%m-%d}T09:0{i}:00.000+0000", USER, "Gainsight CS", USUAL_IP)
        for d in days()
        for i in range(3)
    ]
    if probe:
        history += [
            login_row(
                f"0Yb{i}",
                f"{LAST:%Y-%m-%d}T14:0{i}:00.000+0000",
                USER,
                "Gainsight CS",
                PROBE_IP,
                "DE",
                "Failed: Invalid Client Credentials",
            )
            for i in range(8)
        ]
        history.append(
            login_row("0Yc1", f"{LAST:%Y-%m-%d}T14:10:00.000+0000", USER, "Gainsight CS", PROBE_IP, "DE")
        )
    sf_cli(tmp_path / "org" / "logins.csv", HISTORY_HEADER, history)
    sf_cli(tmp_path / "org" / "apps.csv", APP_HEADER, [app_row(APP_ID + "AAM", "Gainsight CS")])
    result = runner.invoke(app, ["ingest", str(tmp_path / "org"), "--db", str(db), "--as-of", "2025-11-20"])
    assert result.exit_code == 0, result.output
    return db


def scan(db: Path) -> list[dict]:
    args = ["scan", "--db", str(db), "--all", "--format", "json"]
    for name in DETECTORS:
        args += ["--detector", name]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_login_history_probing_then_access_is_found_on_the_app(tmp_path: Path) -> None:
    found = {f["detector"]: f for f in scan(build(tmp_path, probe=True))}
    probe = found["probe_then_success"]
    assert probe["entity_id"] == APP_ID and probe["entity_label"] == "Gainsight CS"
    assert probe["severity"] in ("high", "critical"), probe
    assert probe["window_end"].startswith(f"{LAST:%Y-%m-%d}T14:10")
    # The app's logins name it: the new address is the app's, though its API calls never used it.
    new_ip = found["new_ip"]
    assert new_ip["entity_id"] == APP_ID and new_ip["evidence"]["ips"] == [PROBE_IP]
    assert new_ip["evidence"]["known_ips"] == [USUAL_IP]
    assert "(9 calls and logins, 9 of them LoginHistory logins, " in new_ip["explanation"], new_ip[
        "explanation"
    ]


def test_ordinary_logins_are_quiet(tmp_path: Path) -> None:
    assert scan(build(tmp_path, probe=False)) == []


def test_login_history_is_not_read_where_login_event_logs_exist(tmp_path: Path) -> None:
    # The Login event log is the better source; reading LoginHistory too would count every
    # login twice, so an org with Login logs is judged on them alone.
    assert scan(build(tmp_path, probe=True, login_logs=True)) == []
