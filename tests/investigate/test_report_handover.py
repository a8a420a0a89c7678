"""The report you can hand over, and scopes that cannot lie (on sample_logs/ and a clean store)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import copy_store, gainsight_app_id
from workbench.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
IOCS = ROOT / "sample_logs" / "iocs-2025-salesforce.txt"
ATTACKERS = ("185.220.101.143", "185.220.101.164", "3.239.45.43")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("handover") / "sample.duckdb"
    assert runner.invoke(app, ["ingest", str(ROOT / "sample_logs"), "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["scan", "--db", str(db)]).exit_code == 0
    return db


@pytest.fixture
def db(scanned: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.duckdb"
    copy_store(scanned, copy)
    return copy


@pytest.fixture(scope="module")
def clean_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated store of the org without the planted incident, scanned."""
    folder = tmp_path_factory.mktemp("clean")
    generated = runner.invoke(app, ["generate", str(folder / "logs"), "--days", "12", "--scale", "0.2"])
    assert generated.exit_code == 0, generated.output
    (clean,) = [p for p in (folder / "logs").iterdir() if p.name.startswith("globex-")]
    db = folder / "clean.duckdb"
    assert runner.invoke(app, ["ingest", str(clean), "--db", str(db)]).exit_code == 0
    assert runner.invoke(app, ["scan", "--db", str(db)]).exit_code == 0
    return db


def report(db: Path, out: Path, *args: str) -> str:
    result = runner.invoke(app, ["report", "-o", str(out), "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return out.read_text()


def section(text: str, heading: str) -> str:
    return text.split(heading, 1)[1].split("\n## ", 1)[0]


def test_report_opens_with_a_verdict_that_separates_the_incident(db: Path, tmp_path: Path) -> None:
    text = report(db, tmp_path / "r.md", "--ioc", str(IOCS))
    verdict = section(text, "## Verdict")
    assert text.index("## Verdict") < text.index("## Summary")
    assert "Gainsight CS" in verdict and "`00Dr0F3kxdTdhsx`" in verdict
    assert all(ip in verdict for ip in ATTACKERS)
    assert "between 2025-11-18 01:11 and 2025-11-19 02:14 UTC" in verdict
    for exported in ("Case (184,215 rows", "ContentVersion (52,930 rows", "User (12,480 rows"):
        assert exported in verdict
    assert "3 bulk job(s) were deleted" in verdict and "`750dOqTPrRoxAmo`" in verdict
    assert "Nothing was written" in verdict  # creating and deleting the bulk jobs is not a write
    assert "IOC: 6 indicator(s) matched" in verdict
    split = section(text, "## Incident activity and routine traffic")
    assert "| addresses | 185.220.101.143, 185.220.101.164, 3.239.45.43 | 52.10.18.5" in split
    assert "| objects | Case, ContentVersion, User | Account" in split
    assert "| hours (UTC) | 01:00, 02:00 |" in split
    assert "| Case | 46 | 46 | 0 | 184,229 |" in split  # reads, no data write
    objects = section(text, "### Objects")
    assert "| Case | 46 | 0 |" in objects  # the back-check does not count bulk job control as writes
    # Hourly tables are in the appendix, after the evidence.
    assert text.index("## Appendix: calls by hour") > text.index("## Evidence")
    assert "### Calls by hour" not in text


def test_report_says_ioc_not_checked_and_names_what_was_left_out(db: Path, tmp_path: Path) -> None:
    listed = json.loads(
        runner.invoke(app, ["findings", "--db", str(db), "--format", "json", "--min-severity", "high"]).stdout
    )
    first = listed[0]["id"]
    triaged = runner.invoke(
        app,
        ["triage", first, "--status", "confirmed", "--note", "token abuse, see ticket 42", "--db", str(db)],
    )
    assert triaged.exit_code == 0, triaged.output
    text = report(db, tmp_path / "r.md")
    assert "IOC: not checked" in text and "IOC hits (none)" not in text
    covered = section(text, "## Findings covered")
    assert f"1 confirmed of {len(listed)} high or critical" in covered
    assert f"the others ({len(listed) - 1}: {len(listed) - 1} new)" in covered
    assert covered.count("| new |") == len(listed) - 1  # each one left out is listed, with its status
    findings = section(text, "## Findings\n")
    assert "| confirmed | token abuse, see ticket 42 |" in findings
    assert f"`{first}` |" in findings  # ids literal


def test_report_request_ids_are_code_spans_and_commands_run(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "my report.md"
    text = report(db, out, "--ioc", str(IOCS))
    evidence = section(text, "## Evidence")
    ids = re.findall(r"^- (.*)$", evidence, re.MULTILINE)
    assert ids and all((i.startswith("`") and i.endswith("`")) or i.startswith("and ") for i in ids)
    appendix = text.split("## Appendix: how this report was produced", 1)[1]
    commands = appendix.split("```\n", 1)[1].split("\n```", 1)[0].splitlines()
    assert all("--db" in c for c in commands)
    words = shlex.split(commands[0])
    assert words[:4] == ["workbench", "report", "-o", str(out)] and str(IOCS) in words
    backcheck = shlex.split(next(c for c in commands if c.startswith("workbench backcheck")))
    assert "--ioc" in backcheck and str(db) in backcheck
    rerun = runner.invoke(app, backcheck[1:])
    assert rerun.exit_code == 0, rerun.output
    assert "185.220.101.164" in rerun.stdout


def test_audit_report_on_a_store_without_findings(clean_db: Path, tmp_path: Path) -> None:
    text = report(clean_db, tmp_path / "audit.md")
    assert "**No finding at or above high" in text
    assert "## Integrations, most privileged first" in text
    privileges = [int(m) for m in re.findall(r"^\| (\d+) \| writes", text, re.MULTILINE)]
    assert privileges and privileges == sorted(privileges, reverse=True)
    assert "## Catalog gaps" in text and "not declared in the integration catalog" in text
    coverage = section(text, "## Coverage and gaps")
    assert "ApiTotalUsage" in coverage and "2025-11-10" in coverage
    detection = section(text, "## Detection")
    assert "new\\_ip" in detection and "Days judged: up to 2025-11-21" in detection
    assert "No finding at or above high was raised" in detection
    assert "IOC: not checked" in text
    as_json = json.loads(report(clean_db, tmp_path / "audit.json", "--format", "json"))
    assert as_json["kind"] == "audit" and as_json["audit"]["detectors"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--app", "Gainsigt"], "did you mean 'Gainsight CS'?"),
        (["--app", "0H4cJwA2KsG1uzQ"], "did you mean '0H4cJwA2KsG1uzZ'?"),
        (["--app", "Gainsight CS"], "names 2 connected apps"),  # one per sample org: ambiguous
        (["--user", "gainsight.integration@acme.co"], "did you mean 'gainsight.integration@acme.com'"),
        (["--ip", "10.9.9.9"], "matches no address in the store"),
    ],
)
def test_scopes_that_match_nothing_are_errors(db: Path, args: list[str], expected: str) -> None:
    for command in (["backcheck"], ["report", "-o", str(db.with_suffix(".md"))]):
        result = runner.invoke(
            app, [*command, "--db", str(db), "--start", "2025-11-17", "--end", "2025-11-20", *args]
        )
        assert result.exit_code == 2, result.output
        assert expected in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_names_resolve_to_ids_where_unique(db: Path) -> None:
    target = gainsight_app_id(db)
    by_id = runner.invoke(
        app,
        [
            "backcheck",
            "--db",
            str(db),
            "--start",
            "2025-11-17",
            "--end",
            "2025-11-20",
            "--format",
            "json",
            "--app",
            target,
        ],
    )
    by_user = runner.invoke(
        app,
        [
            "backcheck",
            "--db",
            str(db),
            "--start",
            "2025-11-17",
            "--end",
            "2025-11-20",
            "--format",
            "json",
            "--user",
            "gainsight.integration@acme.com",
        ],
    )
    assert by_id.exit_code == 0 and by_user.exit_code == 0, by_user.output
    user_scope = json.loads(by_user.stdout)
    assert user_scope["scope"]["users"] == ["005cmidJknoLhlt"]
    assert {r["ip"] for r in user_scope["ips"] if r["new"]} == set(ATTACKERS)
