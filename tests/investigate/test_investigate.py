"""Back-check, IOC sweep, incident report and alerts, on sample_logs/ and local servers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, copy_store, gainsight_app_id, write_log
from workbench.cli import app
from workbench.investigate.ioc import parse_iocs

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
ACME = "00Dr0F3kxdTdhsx"
IOCS = ROOT / "sample_logs" / "iocs-2025-salesforce.txt"


@pytest.fixture(scope="module")
def scanned_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("investigate") / "demo.duckdb"
    assert runner.invoke(app, ["demo", "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["scan", "--db", str(db)]).exit_code == 0
    return db


@pytest.fixture
def db(scanned_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    copy_store(scanned_db, copy)
    return copy


def backcheck_json(db: Path, *args: str) -> dict:
    result = runner.invoke(app, ["backcheck", "--db", str(db), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_backcheck_of_the_planted_incident_names_what_happened(db: Path) -> None:
    target = gainsight_app_id(db)
    data = backcheck_json(
        db, "--start", "2025-11-17", "--end", "2025-11-20", "--app", target, "--ioc", str(IOCS)
    )
    new_ips = {r["ip"] for r in data["ips"] if r["new"]}
    assert new_ips == {"185.220.101.143", "185.220.101.164", "3.239.45.43"}
    tor = next(r for r in data["ips"] if r["ip"] == "185.220.101.164")
    assert tor["tor"] is True and tor["country"] == "DE"
    first_touched = {r["object"] for r in data["objects"] if r["first_touched"]}
    assert first_touched == {"User", "Case", "ContentVersion"}
    rows = {r["object"]: r["rows_processed"] for r in data["objects"]}
    assert rows["Case"] >= 184_215 and rows["ContentVersion"] >= 52_930 and rows["User"] >= 12_480
    kinds = {r["kind"]: r["calls"] for r in data["resources"]}
    assert kinds["bulk job deleted"] == 3 and kinds["bulk job created"] == 3 and kinds["describe"] >= 3
    assert {"185.220.101.143", "3.239.45.43", "Salesforce-Multi-Org-Fetcher/1.0"} <= {
        h["indicator"] for h in data["ioc_hits"]
    }
    assert any(f["detector"] == "bulk_job_deleted" for f in data["findings"])
    deleted = [j for j in data["bulk_jobs"] if j["deleted_at"]]
    assert {j["object"] for j in deleted} == {"User", "Case", "ContentVersion"}
    assert sum("bulk query job" in line and "deleted" in line for line in data["changed"]) == 3
    changed = " ".join(data["changed"])
    assert "new address 185.220.101.164" in changed and "new object Case" in changed
    assert "new client 'Salesforce-Multi-Org-Fetcher/1.0'" in changed
    assert any("Case: 184," in line for line in data["at_risk"])
    coverage = [line for line in data["checked"] if " days; " in line]
    assert coverage and all("no gaps" in line for line in coverage)  # the sample has no missing days
    # The demo loads the sample's org side: the window's setup changes are checked too.
    assert "setup changes in the window: 3, 3 naming a scoped app" in data["checked"]


def test_backcheck_calls_out_missing_log_days(tmp_path: Path) -> None:
    rows = [api_row(ts=f"202511{d:02d}100000.000", request_id=f"r{d}") for d in (17, 18, 20)]
    write_log(tmp_path / "logs" / "a.csv", API_TOTAL_USAGE_HEADER, rows)
    db = tmp_path / "gap.duckdb"
    runner.invoke(app, ["ingest", str(tmp_path / "logs"), "--db", str(db)])
    data = backcheck_json(db, "--start", "2025-11-17", "--end", "2025-11-20")
    assert any("no events on 2025-11-19" in line for line in data["checked"])
    table = runner.invoke(app, ["backcheck", "--db", str(db), "--start", "2025-11-17", "--end", "2025-11-20"])
    assert "2025-11-19" in table.output and "Checked" in table.output


def test_backcheck_bad_input(db: Path) -> None:
    for args, text in (
        (["--start", "2025-11-20", "--end", "2025-11-17"], "window is empty"),
        (["--start", "yesterday", "--end", "2025-11-17"], "not a date"),
        (["--start", "2025-11-17", "--end", "2025-11-18", "--ip", "999.1.1.1"], "not an address"),
        (["--start", "2025-11-17", "--end", "2025-11-18", "--ioc", "/nonexistent/iocs.txt"], "cannot read"),
    ):
        result = runner.invoke(app, ["backcheck", "--db", str(db), *args])
        assert result.exit_code == 2 and text in result.output and "Traceback" not in result.output


def test_ioc_file_formats(tmp_path: Path) -> None:
    text = tmp_path / "iocs.txt"
    text.write_text(
        "# comment\n3.239.45[.]43 # Gainsight\nip:185.220.101.143\ncidr:185.220.101.0/24\n"
        "ua:Python/3.11 aiohttp/3.13.1\nSalesforce-Multi-Org-Fetcher/1.0\n0H4000000000001\n"
        "user:005000000000001AAA\n2001:db8::1\nip:not-an-ip\n"
    )
    indicators, skipped = parse_iocs(text)
    kinds = {(i.kind, i.value) for i in indicators}
    assert ("ip", "3.239.45.43") in kinds and ("cidr", "185.220.101.0/24") in kinds
    assert ("client", "Python/3.11 aiohttp/3.13.1") in kinds and (
        "client",
        "Salesforce-Multi-Org-Fetcher/1.0",
    ) in kinds
    assert (
        ("app", "0H4000000000001") in kinds
        and ("user", "005000000000001") in kinds
        and ("ip", "2001:db8::1") in kinds
    )
    assert skipped == [10]
    table = tmp_path / "iocs.csv"
    table.write_text("type,value,source\nip,208.68.36[.]90,GTIG\nua,Salesforce-CLI/1.0,GTIG\nbogus,x,y\n")
    indicators, skipped = parse_iocs(table)
    assert [(i.kind, i.value, i.note) for i in indicators] == [
        ("ip", "208.68.36.90", "GTIG"),
        ("client", "Salesforce-CLI/1.0", "GTIG"),
    ]
    assert skipped == [4]


def test_sweep_finds_the_public_indicators_in_history(db: Path) -> None:
    result = runner.invoke(app, ["sweep", "--ioc", str(IOCS), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    hits = {h["indicator"]: h for h in json.loads(result.stdout)}
    assert set(hits) == {
        "185.220.101.143",
        "185.220.101.164",
        "3.239.45.43",
        "Salesforce-Multi-Org-Fetcher/1.0",
        "python-requests/2.32.4",
        "Python/3.11 aiohttp/3.13.1",
    }
    assert hits["3.239.45.43"]["first_seen"].startswith("2025-11-19T02:04")
    assert "Gainsight CS" in hits["185.220.101.164"]["app_names"]
    assert {"User", "Case", "ContentVersion"} <= set(hits["185.220.101.164"]["objects"])
    assert "Gainsight" in hits["3.239.45.43"]["note"]
    later = runner.invoke(
        app, ["sweep", "--ioc", str(IOCS), "--db", str(db), "--since", "2025-11-19", "--format", "json"]
    )
    assert "185.220.101.143" not in {h["indicator"] for h in json.loads(later.stdout)}
    csv_out = runner.invoke(app, ["sweep", "--ioc", str(IOCS), "--db", str(db), "--format", "csv"])
    assert csv_out.stdout.startswith("kind,value,org_id")


HOSTILE_CLIENT = "<script>alert(1)</script> | [x](http://evil.test) `rm -rf` \x1b[31m"
HOSTILE_ENTITY = "Evil__c|<img src=x onerror=1>"


def test_report_sections_and_escaping(db: Path, tmp_path: Path) -> None:
    target = gainsight_app_id(db)
    rows = [
        api_row(
            ts=f"20251119023{i}00.000",
            request_id=f"hostile{i}",
            org=ACME,
            user="005cmidJknoLhlt",
            app=target,
            ip="185.220.101.164",
            client=HOSTILE_CLIENT,
            entity=HOSTILE_ENTITY,
        )
        for i in range(3)
    ]
    write_log(tmp_path / "hostile" / "h.csv", API_TOTAL_USAGE_HEADER, rows)
    assert runner.invoke(app, ["ingest", str(tmp_path / "hostile"), "--db", str(db)]).exit_code == 0
    runner.invoke(app, ["scan", "--db", str(db)])
    out = tmp_path / "incident.md"
    result = runner.invoke(
        app,
        ["report", "-o", str(out), "--db", str(db), "--ioc", str(IOCS), "--csv-dir", str(tmp_path / "csv")],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for section in (
        "## Summary",
        "## Timeline (UTC)",
        "## Findings",
        "## Affected integrations, users and objects",
        "## Exposure-window back-check",
        "## Addresses named by the findings",
        "## Data coverage and gaps",
        "## Containment checklist (token abuse)",
        "## Evidence",
        "## Appendix: how this report was produced",
        "### IOC hits",
        "### What was at risk",
        "### What changed",
    ):
        assert section in text, section
    assert "<script>" not in text and "<img" not in text and "\x1b" not in text and "[x](http" not in text
    assert "Evil\\_\\_c\\|&lt;img" in text  # the entity name renders literally, its pipe escaped
    objects_header = "| object | calls | writes | rows processed | first touched in window |"
    objects_rows = text.split(objects_header)[1].split("\n\n")[0].strip().splitlines()[1:]
    assert objects_rows and all(r.count(" | ") == objects_header.count(" | ") for r in objects_rows)
    assert "Revoke every OAuth access and refresh token" in text
    assert "workbench backcheck --start" in text and "184,215" in text
    objects_csv = (tmp_path / "csv" / "objects.csv").read_text()
    assert "Evil__c|<img" in objects_csv  # CSV keeps the value, quoted; it cannot start a formula
    json_out = runner.invoke(
        app, ["report", "-o", str(tmp_path / "r.json"), "--format", "json", "--db", str(db)]
    )
    assert (
        json_out.exit_code == 0
        and json.loads((tmp_path / "r.json").read_text())["backcheck"]["total_calls"] > 0
    )


def test_report_without_findings_is_an_audit(tmp_path: Path) -> None:
    write_log(tmp_path / "logs" / "a.csv", API_TOTAL_USAGE_HEADER, [api_row()])
    db = tmp_path / "w.duckdb"
    runner.invoke(app, ["ingest", str(tmp_path / "logs"), "--db", str(db)])
    result = runner.invoke(app, ["report", "-o", str(tmp_path / "r.md"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r.md").read_text()
    assert "No finding at or above high" in text and "Days judged: none" in text


# alerts ---------------------------------------------------------------------------------------


class Receiver:
    """A loopback HTTP server recording POST bodies; it can be told to fail."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail:
                    self.send_response(500)
                else:
                    outer.bodies.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    server = Receiver()
    yield server
    server.close()


def test_webhook_and_slack_alerts_are_sent_once(db: Path, receiver: Receiver) -> None:
    args = [
        "scan",
        "--db",
        str(db),
        "--notify",
        f"webhook:{receiver.url}",
        "--notify",
        f"slack:{receiver.url}",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    webhook, slack = receiver.bodies
    assert {f["severity"] for f in webhook["findings"]} <= {"high", "critical"} and len(
        webhook["findings"]
    ) >= 10
    assert "Gainsight CS" in slack["text"] and "new finding(s)" in slack["text"]
    assert "secret-token" not in first.output  # the URL's secret part is redacted
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and len(receiver.bodies) == 2  # nothing new: nothing sent


def test_failed_delivery_is_retried_next_run(db: Path, receiver: Receiver) -> None:
    receiver.fail = True
    failed = runner.invoke(app, ["scan", "--db", str(db), "--notify", f"webhook:{receiver.url}"])
    assert failed.exit_code == 0 and "failed, will retry next run" in failed.output
    assert receiver.bodies == []
    receiver.fail = False
    retried = runner.invoke(app, ["scan", "--db", str(db), "--notify", f"webhook:{receiver.url}"])
    assert retried.exit_code == 0 and len(receiver.bodies) == 1 and receiver.bodies[0]["findings"]


def test_calm_day_sends_nothing(tmp_path: Path, receiver: Receiver) -> None:
    write_log(tmp_path / "logs" / "a.csv", API_TOTAL_USAGE_HEADER, [api_row()])
    db = tmp_path / "calm.duckdb"
    runner.invoke(app, ["ingest", str(tmp_path / "logs"), "--db", str(db)])
    result = runner.invoke(app, ["scan", "--db", str(db), "--notify", f"webhook:{receiver.url}"])
    assert result.exit_code == 0 and receiver.bodies == []


def test_email_alert_through_a_local_smtp_server(db: Path, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list = []

    class Collect(Message):
        def handle_message(self, message) -> None:  # type: ignore[no-untyped-def]
            received.append(message)

    import socket

    with socket.socket() as probe:  # a free loopback port (aiosmtpd needs a real one to start)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = tmp_path / "workbench.toml"
        config.write_text(f'[notify.smtp]\nhost = "127.0.0.1"\nport = {port}\nfrom = "workbench@acme.test"\n')
        result = runner.invoke(
            app, ["scan", "--db", str(db), "--config", str(config), "--notify", "email:soc@acme.test"]
        )
        assert result.exit_code == 0, result.output
    finally:
        controller.stop()
    (message,) = received
    assert message["To"] == "soc@acme.test" and "new finding(s)" in message["Subject"]
    assert "Gainsight CS" in message.get_payload()


def test_bad_notify_targets(db: Path) -> None:
    for target in ("pager:123", "slack:not-a-url", "email:nobody"):
        result = runner.invoke(app, ["scan", "--db", str(db), "--notify", target])
        assert result.exit_code == 2 and "Traceback" not in result.output
