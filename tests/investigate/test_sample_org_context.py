"""The sample's org side (sample_org_context/), through `workbench demo`: the inventory shows
tokens and privilege, the dormant token that woke up on the incident nights is found, the
back-check names the setup change made before the incident, and verify-containment passes for
the app whose tokens were revoked and reissued and fails for one whose old token is still live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.sample.org_context import write_org_context

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
INCIDENT_IPS = ["--ip", "185.220.101.0/24", "--ip", "3.239.45.43"]
REVOKED = "2025-11-20T10:00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("sample-org") / "demo.duckdb"
    result = runner.invoke(app, ["demo", "--db", str(db)])
    assert result.exit_code == 0, result.output
    return db


def run(*args: str, exit_code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == exit_code, result.output
    return result.stdout


def gainsight(rows: list[dict]) -> dict:
    (row,) = [r for r in rows if r["name"] == "Gainsight CS" and r["org_id"] == "00Dr0F3kxdTdhsx"]
    return row


def test_the_shipped_exports_are_what_the_generator_writes(tmp_path: Path) -> None:
    written = write_org_context(tmp_path)
    assert len(written) == 5
    for path in written:
        shipped = ROOT / "sample_org_context" / path.relative_to(tmp_path)
        assert shipped.read_bytes() == path.read_bytes(), shipped


def test_inventory_shows_the_tokens_and_what_they_grant(demo: Path) -> None:
    rows = json.loads(run("integrations", "--db", str(demo), "--format", "json"))
    row = gainsight(rows)
    # The latest snapshot holds the reissued token only.
    assert [t["token_id"] for t in row["tokens"]] == ["0CQ5e000000Hb3K"] and row["token_holders"] == 1
    assert (
        "refresh valid until revoked +10" in row["privilege_why"]
        and "self-authorize +5" in row["privilege_why"]
    )
    assert row["privilege"] >= 80


def test_the_dormant_token_waking_up_is_found(demo: Path) -> None:
    findings = json.loads(run("findings", "--db", str(demo), "--format", "json"))
    woke = [f for f in findings if f["detector"] == "dormant_token_used"]
    assert [f["entity_label"] for f in woke] == ["Gainsight CS"], woke
    assert "after 142 idle days" in woke[0]["explanation"]
    assert woke[0]["severity"] in ("high", "critical")


def test_backcheck_names_the_setup_change_before_the_incident(demo: Path) -> None:
    findings = json.loads(run("findings", "--db", str(demo), "--format", "json"))
    app_id = next(f["entity_id"] for f in findings if f["detector"] == "dormant_token_used")
    text = run(
        "backcheck", "--start", "2025-11-17", "--end", "2025-11-19", "--app", app_id, "--db", str(demo)
    )
    assert "Changed Gainsight CS IP Relaxation from Enforce IP restrictions to Relax" in text
    assert "ops.admin@acme.com" in text


def test_verify_containment_passes_for_the_reissued_app_and_fails_for_a_live_old_token(demo: Path) -> None:
    def verdict(name: str, exit_code: int) -> dict:
        out = run(
            "verify-containment",
            "--app",
            name,
            "--since",
            REVOKED,
            *INCIDENT_IPS,
            "--db",
            str(demo),
            "--format",
            "json",
            exit_code=exit_code,
        )
        return json.loads(out)

    reissued = verdict("Gainsight CS", 0)
    assert reissued["verdict"] == "pass", reissued
    assert "gainsight.integration@acme.com" in reissued["checks"][2]["evidence"][0]
    live = verdict("Salesloft", 1)  # a failed containment exits 1
    assert live["verdict"] == "fail"
    assert live["checks"][0]["answer"] == "fail" and "0CQ5e000000Fx2M" in live["checks"][0]["evidence"][0]


def test_containment_stays_in_the_org_of_the_app(demo: Path) -> None:
    # Both sample orgs run Gainsight CS; only Acme's was attacked and reissued.
    def app_ids(*scope: str) -> list[str]:
        out = run(
            "verify-containment",
            *scope,
            "--since",
            REVOKED,
            "--db",
            str(demo),
            "--format",
            "json",
            exit_code=1,
        )
        return json.loads(out)["app_ids"]

    both = app_ids("--app", "Gainsight CS")
    assert len(both) == 2  # a name alone: every org
    findings = json.loads(run("findings", "--db", str(demo), "--format", "json"))
    acme = next(f["entity_id"] for f in findings if f["detector"] == "dormant_token_used")
    assert app_ids("--app", acme) == [acme]  # an id: its own org
    assert app_ids("--app", "Gainsight CS", "--org", "00Dr0F3kxdTdhsx") == [acme]
    result = runner.invoke(
        app,
        [
            "verify-containment",
            "--app",
            "Gainsight CS",
            "--org",
            "00D000000000001",
            "--since",
            REVOKED,
            "--db",
            str(demo),
        ],
    )
    assert (
        result.exit_code == 2 and "no such connected app in the store in org 00D000000000001" in result.output
    )
