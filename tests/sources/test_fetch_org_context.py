"""`workbench fetch --org-context` against the fake Salesforce over real HTTPS: the four objects,
pagination, snapshots per fetch, the incremental cursor, and token values never asked for."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.sources.fake_salesforce import ORG_ID, FakeSalesforce
from workbench.cli import app

runner = CliRunner()
SECRETS = ("ACCESS-5ec4e7-value", "REQUEST-5ec4e7-value", "DELETE-5ec4e7-value")


def token(n: int, app_name: str, created: str, last_used: str) -> dict:
    return {
        "Id": f"0CQ5g0000000{n:03d}",
        "AppName": app_name,
        "AppMenuItemId": "0DS000000000001",
        "UserId": f"0055g00000000{n:02d}AAA",
        "User": {
            "attributes": {"type": "User"},
            "Username": f"user{n}@acme.test",
            "Profile": {"Name": "System Administrator" if n == 1 else "Standard User"},
        },
        "CreatedDate": created,
        "LastUsedDate": last_used,
        "UseCount": n * 3,
        "AccessToken": SECRETS[0],
        "RequestToken": SECRETS[1],
        "DeleteToken": SECRETS[2],
    }


def login(n: int, when: str, ip: str = "203.0.113.5") -> dict:
    return {
        "Id": f"0Ya5g000000{n:04d}",
        "LoginTime": when,
        "UserId": "0055g0000000001AAA",
        "Application": "Drift",
        "SourceIp": ip,
        "CountryIso": "US",
        "LoginType": "Remote Access 2.0",
        "ApiType": "REST",
        "ApiVersion": "62.0",
        "Status": "Success",
        "Browser": "Unknown",
        "Platform": "Unknown",
        "LoginUrl": "login.salesforce.com",
    }


def audit(n: int, when: str, display: str) -> dict:
    return {
        "Id": f"0Ym5g000000{n:04d}",
        "CreatedDate": when,
        "CreatedBy": {"attributes": {"type": "User"}, "Username": "admin@acme.test"},
        "Action": "connectedAppPolicy",
        "Section": "Connected Apps",
        "Display": display,
        "DelegateUser": None,
        "ResponsibleNamespacePrefix": None,
    }


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    server = FakeSalesforce(tmp_path).start()
    server.context = {
        "OauthToken": [
            token(1, "Drift", "2025-06-01T10:00:00.000+0000", "2025-08-10T10:00:00.000+0000"),
            token(2, "Drift", "2025-06-02T10:00:00.000+0000", "2025-08-11T10:00:00.000+0000"),
            token(3, "Gainsight CS", "2025-07-01T10:00:00.000+0000", "2025-11-18T10:00:00.000+0000"),
        ],
        "ConnectedApplication": [
            {
                "Id": "0H45g000000001AAA",
                "Name": "Drift",
                "CreatedDate": "2024-01-01T00:00:00.000+0000",
                "LastModifiedDate": "2025-08-01T00:00:00.000+0000",
                "OptionsAllowAdminApprovedUsersOnly": False,
                "RefreshTokenValidityPeriod": None,
                "MobileSessionTimeout": "M15",
            }
        ],
        "SetupAuditTrail": [
            audit(1, "2025-08-01T09:00:00.000+0000", "Changed Drift OAuth policy"),
            audit(2, "2025-08-02T09:00:00.000+0000", "Relaxed IP restrictions for Drift"),
            audit(3, "2025-08-03T09:00:00.000+0000", "Installed package X"),
        ],
        "LoginHistory": [login(i, f"2025-08-1{i}T10:00:00.000+0000") for i in range(1, 6)],
    }
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
    yield server
    server.stop()


def run(fake: FakeSalesforce, db: Path, monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SF_ACCESS_TOKEN", next(iter(fake.tokens)) if fake.tokens else fake.issue())
    return runner.invoke(app, ["fetch", "--org-context", "--instance-url", fake.url, "--db", str(db), *args])


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_four_objects_paginated_and_incremental(
    fake: FakeSalesforce, tmp_path: Path, monkeypatch
) -> None:
    db = tmp_path / "w.duckdb"
    result = run(fake, db, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "OauthToken: 3 record(s) read, 3 added" in result.output
    assert "LoginHistory: 5 record(s) read, 5 added" in result.output
    assert "SetupAuditTrail: 3 record(s) read, 3 added" in result.output
    assert "ConnectedApplication: 1 record(s) read, 1 added" in result.output
    pages = [r for r in fake.requests if "/query/" in r and "?q=" not in r]
    assert len(pages) >= 4  # 3 tokens, 3 audit rows, 5 logins at 2 a page follow nextRecordsUrl
    assert query(db, "SELECT user_name, user_profile, use_count FROM oauth_tokens ORDER BY 1")[0] == (
        "user1@acme.test",
        "System Administrator",
        3,
    )
    assert query(db, "SELECT name, admin_approved_only, refresh_valid_until_revoked FROM connected_apps") == [
        ("Drift", False, True)
    ]
    assert query(db, "SELECT created_by FROM setup_audit_trail LIMIT 1") == [("admin@acme.test",)]
    # Token values were never asked for, so never stored.
    assert not any("AccessToken" in q or "DeleteToken" in q or "RequestToken" in q for q in fake.queries)
    con = duckdb.connect(str(db), read_only=True)
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
        dump = str(con.execute(f'SELECT * FROM "{table}"').fetchall())
        assert not any(secret in dump for secret in SECRETS), table
    con.close()

    # Next fetch: new logins only from the cursor on; a second token snapshot is kept beside the first.
    fake.context["LoginHistory"].append(login(9, "2025-08-20T10:00:00.000+0000", "198.51.100.99"))
    fake.context["OauthToken"].pop(0)  # revoked
    fake.queries.clear()
    again = run(fake, db, monkeypatch)
    assert again.exit_code == 0, again.output
    assert "LoginHistory: 2 record(s) read, 1 added" in again.output  # the boundary row, deduped
    login_query = next(q for q in fake.queries if "FROM LoginHistory" in q)
    assert "LoginTime >= 2025-08-15T10:00:00Z" in login_query
    assert query(db, "SELECT count(*) FROM login_history") == [(6,)]
    snapshots = query(
        db,
        "SELECT s.snapshot_id, count(t.token_id) FROM org_snapshots s JOIN oauth_tokens t USING (snapshot_id) "
        "GROUP BY ALL ORDER BY 1",
    )
    assert [n for _, n in snapshots] == [3, 2]


def test_since_bounds_the_first_fetch_and_a_hostile_time_moves_no_cursor(
    fake: FakeSalesforce, tmp_path: Path, monkeypatch
) -> None:
    fake.context["LoginHistory"].append(login(8, "2025-08-19T10:00:00.000+0000 OR Id != null"))
    db = tmp_path / "w.duckdb"
    result = run(fake, db, monkeypatch, "--since", "2025-08-14")
    # The hostile LoginTime is not a time: the whole LoginHistory answer is refused, nothing lands.
    assert result.exit_code == 2
    assert "refused: LoginHistory" in result.output
    assert query(db, "SELECT count(*) FROM login_history") == [(0,)]
    assert query(db, "SELECT count(*) FROM org_context_cursor WHERE object = 'LoginHistory'") == [(0,)]
    assert any("LoginTime >= 2025-08-14T00:00:00Z" in q for q in fake.queries)
    assert query(db, "SELECT count(*) FROM oauth_tokens") == [(3,)]


def test_org_id_of_the_profile_is_kept(fake: FakeSalesforce, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "workbench.toml"
    config.write_text(
        f'[salesforce.acme]\nauth = "token"\ninstance_url = "{fake.url}"\norg_id = "{ORG_ID[:15]}"\n'
    )
    monkeypatch.setenv("SF_ACCESS_TOKEN", fake.issue())
    db = tmp_path / "w.duckdb"
    result = runner.invoke(
        app, ["fetch", "--org-context", "--org", "acme", "--config", str(config), "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert query(db, "SELECT DISTINCT org_id FROM login_history") == [(ORG_ID[:15],)]
