"""`workbench ingest` on folders mixing event logs with OauthToken, ConnectedApplication,
SetupAuditTrail and LoginHistory exports, in each tool's dialect."""

from __future__ import annotations

from pathlib import Path

import duckdb
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, write_log
from tests.org_exports import (
    APP_HEADER,
    AUDIT_API_HEADER,
    LOGIN_HEADER,
    SECRET_VALUES,
    SETUP_DOWNLOAD_HEADER,
    TOKEN_HEADER,
    app_row,
    data_loader,
    login_row,
    sf_cli,
    token_row,
)
from workbench.cli import app

runner = CliRunner()
ORG = "00D68000004DKqo"


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def ingest(db: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["ingest", *args, "--db", str(db)])


def test_a_mixed_folder_loads_events_and_every_export(tmp_path: Path) -> None:
    folder = tmp_path / "case"
    write_log(
        folder / "elf" / "api.csv",
        API_TOTAL_USAGE_HEADER,
        [api_row(request_id="r1"), api_row(request_id="r2")],
    )
    data_loader(
        folder / "tokens.csv",
        TOKEN_HEADER,
        [
            token_row(
                "0CQ1",
                "Gainsight CS",
                "00568000004ogT4",
                "gs@acme.test",
                "2025-10-01T10:00:00.000Z",
                "2025-11-18T10:00:00.000Z",
            )
        ],
    )
    sf_cli(
        folder / "apps.csv", APP_HEADER, [app_row("0H468000000kPN4AAM", "Gainsight CS", refresh_period="")]
    )
    (folder / "audit.csv").write_text(
        '"Date","User","Source Namespace Prefix","Action","Section","Delegate User"\n'
        '"11/18/2025, 9:14:03 AM PST","admin@acme.test","","Changed OAuth policy for Gainsight CS","Connected Apps",""\n',
        encoding="utf-8",
    )
    sf_cli(
        folder / "logins.csv",
        LOGIN_HEADER,
        [login_row("0Ya1", "2025-11-18T10:00:00.000+0000", "00568000004ogT4", "Gainsight CS", "203.0.113.9")],
    )
    db = tmp_path / "w.duckdb"
    result = ingest(db, str(folder))
    assert result.exit_code == 0, result.output
    assert "1 file(s) ingested" in result.output and "2 events added" in result.output
    assert "org context: 4 export(s) loaded" in result.output and "0 refused" in result.output
    # The only org of the store is given to the exports.
    assert rows(db, "SELECT org_id, app_name, user_name, user_profile, use_count FROM oauth_tokens") == [
        (ORG, "Gainsight CS", "gs@acme.test", "Integration User", 10)
    ]
    assert rows(db, "SELECT name, admin_approved_only, refresh_valid_until_revoked FROM connected_apps") == [
        ("Gainsight CS", True, True)
    ]
    (audit,) = rows(db, "SELECT created_date, created_by, display, section FROM setup_audit_trail")
    assert audit[0].isoformat() == "2025-11-18T17:14:03"  # 9:14 AM PST is 17:14 UTC
    assert audit[1:] == ("admin@acme.test", "Changed OAuth policy for Gainsight CS", "Connected Apps")
    assert rows(db, "SELECT application, source_ip, country_iso, status FROM login_history") == [
        ("Gainsight CS", "203.0.113.9", "US", "Success")
    ]
    again = ingest(db, str(folder))
    assert again.exit_code == 0 and "4 already loaded" in again.output
    assert rows(db, "SELECT count(*) FROM org_snapshots") == [(2,)]


def test_token_values_never_reach_the_store(tmp_path: Path) -> None:
    export = data_loader(
        tmp_path / "OauthToken.csv",
        TOKEN_HEADER,
        [
            token_row(
                "0CQ1", "Drift", "005A", "d@acme.test", "2025-01-01T00:00:00.000Z", "2025-02-01T00:00:00.000Z"
            )
        ],
    )
    db = tmp_path / "w.duckdb"
    assert ingest(db, str(export)).exit_code == 0
    con = duckdb.connect(str(db), read_only=True)
    tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    for table in tables:
        dump = str(con.execute(f'SELECT * FROM "{table}"').fetchall())
        for secret in SECRET_VALUES:
            assert secret not in dump, (table, secret)
    columns = {
        c
        for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'oauth_tokens'"
        ).fetchall()
    }
    con.close()
    assert not columns & {"access_token", "request_token", "delete_token"}
    assert b"SECRET-" not in db.read_bytes()


def test_snapshots_are_kept_per_time(tmp_path: Path) -> None:
    before = data_loader(
        tmp_path / "a" / "tokens.csv",
        TOKEN_HEADER,
        [
            token_row(
                "0CQ1", "Drift", "005A", "d@acme.test", "2025-01-01T00:00:00.000Z", "2025-08-10T00:00:00.000Z"
            )
        ],
    )
    after = data_loader(
        tmp_path / "b" / "tokens.csv",
        TOKEN_HEADER,
        [
            token_row(
                "0CQ2", "Drift", "005A", "d@acme.test", "2025-08-21T00:00:00.000Z", "2025-08-22T00:00:00.000Z"
            )
        ],
    )
    db = tmp_path / "w.duckdb"
    assert ingest(db, str(before), "--as-of", "2025-08-15T00:00").exit_code == 0
    assert ingest(db, str(after), "--as-of", "2025-08-25").exit_code == 0
    got = rows(
        db,
        "SELECT s.taken_at::VARCHAR, t.token_id FROM org_snapshots s JOIN oauth_tokens t USING (snapshot_id) ORDER BY 1",
    )
    assert got == [("2025-08-15 00:00:00", "0CQ1"), ("2025-08-25 00:00:00", "0CQ2")]


def test_api_audit_trail_and_login_history_dedupe_on_id(tmp_path: Path) -> None:
    audit = [
        [
            "0Ym1",
            "2025-11-18T09:00:00.000Z",
            "admin@acme.test",
            "connectedAppPolicyChange",
            "Connected Apps",
            "Changed policy",
            "",
        ]
    ]
    logins = [
        login_row("0Ya1", "2025-11-18T10:00:00.000Z", "005A", "Drift", "198.51.100.7"),
        login_row(
            "0Ya2", "2025-11-18T11:00:00.000Z", "005A", "Drift", "198.51.100.7", status="Invalid Password"
        ),
    ]
    db = tmp_path / "w.duckdb"
    assert (
        ingest(db, str(sf_cli(tmp_path / "a" / "audit.csv", AUDIT_API_HEADER, audit)), "--org", ORG).exit_code
        == 0
    )
    assert ingest(db, str(data_loader(tmp_path / "a" / "logins.csv", LOGIN_HEADER, logins))).exit_code == 0
    # A later, overlapping export (different bytes, same Ids plus one) adds only the new row.
    more = [*logins, login_row("0Ya3", "2025-11-19T10:00:00.000Z", "005A", "Drift", "198.51.100.8")]
    result = ingest(db, str(sf_cli(tmp_path / "b" / "logins.csv", LOGIN_HEADER, more)))
    assert result.exit_code == 0 and "LoginHistory 1 rows added" in result.output
    assert rows(db, "SELECT count(*), count(DISTINCT record_key) FROM login_history") == [(3, 3)]
    assert rows(db, "SELECT org_id, action, display FROM setup_audit_trail") == [
        (ORG, "connectedAppPolicyChange", "Changed policy")
    ]


def test_a_bad_export_is_refused_whole_in_one_line(tmp_path: Path) -> None:
    logins = [
        login_row("0Ya1", "2025-11-18T10:00:00.000Z", "005A", "Drift", "198.51.100.7"),
        login_row("0Ya2", "yesterday-ish", "005A", "Drift", "198.51.100.7"),
    ]
    export = sf_cli(tmp_path / "logins.csv", LOGIN_HEADER, logins)
    (tmp_path / "audit.csv").write_text(
        "\n".join([",".join(SETUP_DOWNLOAD_HEADER), "11/18/2025 9:14 AM XYZT,admin,,Did a thing,Apps,"])
        + "\n"
    )
    db = tmp_path / "w.duckdb"
    result = ingest(db, str(export), str(tmp_path / "audit.csv"))
    assert result.exit_code == 2
    refusals = [line for line in result.output.splitlines() if line.startswith("refused:")]
    assert len(refusals) == 2
    assert any("LoginHistory export: line 3: LoginTime" in line for line in refusals)
    assert any("unknown time zone" in line for line in refusals)
    assert rows(db, "SELECT count(*) FROM login_history") == [(0,)]  # whole file or nothing


def test_day_first_setup_download_and_hostile_strings_are_kept_as_given(tmp_path: Path) -> None:
    (tmp_path / "audit.csv").write_text(
        "\n".join(
            [
                ",".join(SETUP_DOWNLOAD_HEADER),
                '"25/11/2025 14:05:00 CET","adm\u202eni@x","","=HYPERLINK(""http://evil"")","Apps",""',
                '"03/11/2025 08:00:00 CET","admin@x","","Plain","Apps",""',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    assert ingest(db, str(tmp_path / "audit.csv")).exit_code == 0
    got = rows(db, "SELECT created_date::VARCHAR, display FROM setup_audit_trail ORDER BY 1")
    assert got == [("2025-11-03 07:00:00", "Plain"), ("2025-11-25 13:05:00", '=HYPERLINK("http://evil")')]
