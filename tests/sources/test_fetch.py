"""`workbench fetch` against a fake Salesforce on 127.0.0.1 over real HTTPS, with the real
simple-salesforce client: every auth flow, pagination, the cursor, faults, resume, redaction."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, quoted_csv
from tests.sources.fake_salesforce import ORG_ID, FakeSalesforce
from workbench.cli import app
from workbench.sources.salesforce import Fetcher, Profile, Redactor
from workbench.store.db import open_store

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
ORG15 = ORG_ID[:15]
DAYS = ("2025-11-17", "2025-11-18", "2025-11-19")


def day_log(day: str, prefix: str, n: int = 5) -> bytes:
    compact = day.replace("-", "")
    rows = [
        api_row(ts=f"{compact}10{i:02d}00.000", request_id=f"{prefix}{day}-{i}", org=ORG15) for i in range(n)
    ]
    return quoted_csv(API_TOTAL_USAGE_HEADER, rows).encode()


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    server = FakeSalesforce(tmp_path).start()
    for day in DAYS:
        server.add("ApiTotalUsage", day, day_log(day, "a"))
        server.add("ApiTotalUsage", day, day_log(day, "b", 3), interval="Hourly", sequence=1)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
    yield server
    server.stop()


def events(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    (count,) = con.execute("SELECT count(*) FROM events").fetchall()[0]
    con.close()
    return int(count)


def token_fetch(fake: FakeSalesforce, db: Path, monkeypatch: pytest.MonkeyPatch, *args: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SF_ACCESS_TOKEN", next(iter(fake.tokens)) if fake.tokens else fake.issue())
    return runner.invoke(
        app, ["fetch", "--instance-url", fake.url, "--db", str(db), "--since", "2025-11-01", *args]
    )


def test_token_flow_pagination_archive_and_cursor(fake: FakeSalesforce, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "w.duckdb"
    result = token_fetch(fake, db, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "fetched 6 file(s)" in result.output and "24 events added" in result.output
    pages = [r for r in fake.requests if "/query/" in r and "?q=" not in r]
    assert len(pages) == 2  # 6 records, 2 per page: two nextRecordsUrl pages
    archived = sorted((tmp_path / "w-archive").rglob("*.csv.gz"))
    assert len(archived) == 6 and gzip.decompress(archived[0].read_bytes()).startswith(b'"EVENT_TYPE"')
    assert events(db) == 24
    again = token_fetch(fake, db, monkeypatch)
    assert again.exit_code == 0 and "fetched 0 file(s)" in again.output
    # A late hourly file (higher Sequence) repeats two events and adds one: only the new one lands.
    late_rows = [
        api_row(ts="20251119100000.000", request_id="b2025-11-19-0", org=ORG15),
        api_row(ts="20251119100100.000", request_id="b2025-11-19-1", org=ORG15),
        api_row(ts="20251119105900.000", request_id="late-1", org=ORG15),
    ]
    fake.add(
        "ApiTotalUsage",
        "2025-11-19",
        quoted_csv(API_TOTAL_USAGE_HEADER, late_rows).encode(),
        interval="Hourly",
        sequence=2,
        created="2025-11-20T09:00:00.000+0000",
    )
    late = token_fetch(fake, db, monkeypatch)
    assert late.exit_code == 0 and "fetched 1 file(s)" in late.output and "1 events added" in late.output
    assert events(db) == 25


def test_list_shows_remote_and_local(fake: FakeSalesforce, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "w.duckdb"
    token_fetch(fake, db, monkeypatch, "--event-type", "ApiTotalUsage", "--interval", "daily")
    listed = token_fetch(fake, db, monkeypatch, "--list")
    assert listed.exit_code == 0, listed.output
    assert listed.output.count(" yes ") == 3 and listed.output.count(" no ") == 3  # daily local, hourly not


def write_profile(tmp_path: Path, body: str) -> Path:
    config = tmp_path / "workbench.toml"
    config.write_text(body)
    return config


def test_password_flow_with_a_profile(fake: FakeSalesforce, tmp_path: Path, monkeypatch) -> None:
    config = write_profile(
        tmp_path,
        f'[salesforce.acme]\nauth = "password"\nusername = "{fake.username}"\n'
        f'domain = "{fake.domain}"\norg_id = "{ORG15}"\n',
    )
    monkeypatch.setenv("SF_PASSWORD", fake.password)
    monkeypatch.setenv("SF_SECURITY_TOKEN", fake.security_token)
    result = runner.invoke(
        app,
        [
            "fetch",
            "--org",
            "acme",
            "--config",
            str(config),
            "--db",
            str(tmp_path / "w.duckdb"),
            "--since",
            "2025-11-01",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fetched 6 file(s) from acme" in result.output
    assert any("/services/Soap/u/" in r for r in fake.requests)


def test_client_credentials_flow_and_secrets_never_in_errors(
    fake: FakeSalesforce, tmp_path: Path, monkeypatch
) -> None:
    profile = (
        f'[salesforce.acme]\nauth = "client_credentials"\nconsumer_key = "{fake.consumer_key}"\n'
        f'domain = "{fake.domain}"\nconsumer_secret_env = "ACME_SECRET"\n'
    )
    config = write_profile(tmp_path, profile)
    monkeypatch.setenv("ACME_SECRET", fake.consumer_secret)
    ok = runner.invoke(
        app, ["fetch", "--config", str(config), "--db", str(tmp_path / "w.duckdb"), "--since", "2025-11-01"]
    )
    assert ok.exit_code == 0 and "fetched 6 file(s)" in ok.output, ok.output
    monkeypatch.setenv("ACME_SECRET", "wrong-secret-value-123")
    bad = runner.invoke(app, ["fetch", "--config", str(config), "--db", str(tmp_path / "w2.duckdb")])
    assert bad.exit_code == 2 and "login to acme failed" in bad.output
    assert "wrong-secret-value-123" not in bad.output and "Traceback" not in bad.output
    clear = write_profile(tmp_path, '[salesforce.acme]\nauth = "password"\npassword = "hunter2hunter2"\n')
    refused = runner.invoke(app, ["fetch", "--config", str(clear), "--db", str(tmp_path / "w3.duckdb")])
    assert refused.exit_code == 2 and "password_env" in refused.output and "hunter2" not in refused.output


def test_jwt_bearer_flow(fake: FakeSalesforce, tmp_path: Path, monkeypatch) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    fake.jwt_public_key = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = write_profile(
        tmp_path,
        f'[salesforce.acme]\nauth = "jwt"\nusername = "{fake.username}"\n'
        f'consumer_key = "{fake.consumer_key}"\nprivate_key_file = "{key_file}"\n'
        f'domain = "{fake.domain}"\n',
    )
    result = runner.invoke(
        app, ["fetch", "--config", str(config), "--db", str(tmp_path / "w.duckdb"), "--since", "2025-11-01"]
    )
    assert result.exit_code == 0 and "fetched 6 file(s)" in result.output, result.output


def fetcher(fake: FakeSalesforce, tmp_path: Path, auth: str = "password", timeout: float = 5.0) -> Fetcher:
    os.environ["SF_PASSWORD"], os.environ["SF_SECURITY_TOKEN"] = fake.password, fake.security_token
    profile = Profile("acme", auth=auth, username=fake.username, domain=fake.domain, org_id=ORG15)
    return Fetcher(
        open_store(tmp_path / "w.duckdb"),
        profile,
        tmp_path / "archive",
        retries=8,
        backoff=0.01,
        timeout=timeout,
    )


def test_faults_are_retried_and_expired_sessions_reauthenticate(
    fake: FakeSalesforce, tmp_path: Path, monkeypatch
) -> None:
    fake.faults.update({"query_429": 1, "query_500": 1, "expire_session": 1})
    fake.slow_seconds = 2.5
    f = fetcher(fake, tmp_path, timeout=1.0)
    try:
        remote = f.list_remote("2025-11-01", None, [], "both")
        # The session expires again during the downloads: the fetcher logs in once more itself.
        fake.faults.update(
            {"download_500": 1, "download_429": 1, "short_body": 1, "expire_session": 1, "slow": 1}
        )
        report = f.fetch(remote)
    finally:
        f.con.close()
        os.environ.pop("SF_PASSWORD"), os.environ.pop("SF_SECURITY_TOKEN")
    assert report.downloaded == 6 and report.events_added == 24
    assert sum(fake.faults.values()) == 0  # every fault was met and survived
    assert sum("/services/Soap/u/" in r for r in fake.requests) == 3  # each expired session logged in again
    assert f.reauthenticated
    assert report.api_usage.startswith("api-usage=")


def test_token_flow_expired_session_is_a_clear_error(
    fake: FakeSalesforce, tmp_path: Path, monkeypatch
) -> None:
    fake.faults["expire_session"] = 1
    result = token_fetch(fake, tmp_path / "w.duckdb", monkeypatch)
    assert result.exit_code == 2 and "session" in result.output and "expired" in result.output
    assert "00D!token" not in result.output  # the token itself is never shown


def test_redactor_removes_secrets_and_bearer_tokens() -> None:
    redact = Redactor()
    redact.add("consumer-secret-XYZ987", "abc")
    text = redact("failed with consumer-secret-XYZ987; header Authorization: Bearer 00D!abc.def")
    assert (
        "consumer-secret-XYZ987" not in text and "00D!abc.def" not in text and text.count("[redacted]") == 2
    )


def test_resume_after_a_kill_mid_download(fake: FakeSalesforce, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    fake.faults[f"hang:{fake.files[3].id}"] = 1  # the 4th download (by CreatedDate) never answers
    env = {**os.environ, "SF_ACCESS_TOKEN": fake.issue(), "REQUESTS_CA_BUNDLE": str(fake.ca_bundle)}
    command = [
        sys.executable,
        "-m",
        "workbench.cli",
        "fetch",
        "--instance-url",
        fake.url,
        "--db",
        str(db),
        "--since",
        "2025-11-01",
    ]
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(1 for r in fake.requests if r.endswith("/LogFile")) < 4:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        child.kill()
        child.wait()
    archived_before = len(list((tmp_path / "w-archive").rglob("*.csv.gz")))
    assert archived_before == 3
    del fake.faults[f"hang:{fake.files[3].id}"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "fetched 3 file(s)" in done.stdout  # only what the killed run had not finished
    assert events(db) == 24  # no gap, no duplicate


def test_api_values_that_are_not_numbers_or_dates_refuse_only_their_file(
    fake: FakeSalesforce, tmp_path: Path, monkeypatch
) -> None:
    # The values become the archive path and the next query's cursor: a Sequence that is not a
    # number, or a CreatedDate that is not a date, refuses that file; the rest are fetched.
    body = day_log("2025-11-19", "x", 2)
    fake.add(
        "ApiTotalUsage",
        "2025-11-19",
        body,
        sequence="1/../x",
        created="2025-11-19T07:00:00.000+0000",
        interval="Hourly",
    )
    fake.add(
        "ApiTotalUsage",
        "2025-11-19",
        body,
        sequence=3,
        created="2025-11-19T07:01:00.000+0000 OR Id",
        interval="Hourly",
    )
    db = tmp_path / "w.duckdb"
    result = token_fetch(fake, db, monkeypatch)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert "Sequence '1/../x' is not a whole number" in result.output
    assert "CreatedDate '2025-11-19T07:01:00.000+0000 OR Id'" in result.output
    assert "fetched 6 file(s)" in result.output
    assert events(db) == 24
    archived = sorted(p.name for p in (tmp_path / "w-archive").rglob("*.csv.gz"))
    assert len(archived) == 6 and not any(".." in name or "x" in name for name in archived)
