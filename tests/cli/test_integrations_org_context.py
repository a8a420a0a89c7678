"""`workbench integrations` with the org context: tokens and their holders, grants in the
privilege score, and posture findings (dormant live tokens, apps the catalog does not declare)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, write_log
from tests.org_exports import APP_HEADER, TOKEN_HEADER, app_row, data_loader, sf_cli, token_row
from workbench.cli import app

runner = CliRunner()
APP_ID = "0H468000000kPN4"  # the app of api_row()


def build(tmp_path: Path, with_context: bool = True) -> Path:
    db = tmp_path / "w.duckdb"
    events = [
        api_row(ts=f"2025111{d}10{m:02d}00.000", request_id=f"r{d}{m}") for d in range(5, 9) for m in range(3)
    ]
    write_log(tmp_path / "logs" / "api.csv", API_TOTAL_USAGE_HEADER, events)
    assert runner.invoke(app, ["ingest", str(tmp_path / "logs"), "--db", str(db)]).exit_code == 0
    if with_context:
        ctx = tmp_path / "ctx"
        sf_cli(
            ctx / "apps.csv",
            APP_HEADER,
            [
                app_row(APP_ID + "AAM", "Gainsight CS", admin_approved="false", refresh_period=""),
                app_row("0H4OLD000000001AAA", "Old Sync", admin_approved="true", refresh_period="30"),
            ],
        )
        data_loader(
            ctx / "tokens.csv",
            TOKEN_HEADER,
            [
                token_row(
                    "0CQ1",
                    "Gainsight CS",
                    "005A",
                    "admin@acme.test",
                    "2025-06-01T00:00:00Z",
                    "2025-11-18T10:00:00Z",
                    profile="System Administrator",
                ),
                token_row(
                    "0CQ2",
                    "Gainsight CS",
                    "005B",
                    "gs@acme.test",
                    "2025-06-02T00:00:00Z",
                    "2025-11-18T11:00:00Z",
                ),
                token_row(
                    "0CQ3",
                    "Old Sync",
                    "005C",
                    "sync@acme.test",
                    "2024-01-02T00:00:00Z",
                    "2025-03-01T00:00:00Z",
                ),
                token_row(
                    "0CQ4", "Bare <b>[red]App\u202e</b>", "005D", "x@acme.test", "2025-11-01T00:00:00Z", ""
                ),
            ],
        )
        result = runner.invoke(app, ["ingest", str(ctx), "--as-of", "2025-11-20", "--db", str(db)])
        assert result.exit_code == 0, result.output
    return db


def listed(db: Path, *args: str) -> list[dict]:
    result = runner.invoke(app, ["integrations", "--db", str(db), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_tokens_and_grants_raise_privilege_and_are_shown(tmp_path: Path) -> None:
    plain = {a["connected_app_id"]: a for a in listed(build(tmp_path / "a", with_context=False))}
    apps = {a["name"]: a for a in listed(build(tmp_path / "b"))}
    assert set(apps) == {"Gainsight CS", "Old Sync", "Bare <b>[red]App\u202e</b>"}
    gainsight = apps["Gainsight CS"]
    assert gainsight["connected_app_id"] == APP_ID and gainsight["calls"] == 12
    assert gainsight["token_holders"] == 2 and gainsight["admin_holders"] == ["admin@acme.test"]
    # 2 holders +4, an admin +10, valid until revoked +10, self-authorize +5 on top of observed use.
    assert gainsight["privilege"] == plain[APP_ID]["privilege"] + 29
    assert "valid until revoked +10" in gainsight["privilege_why"]
    assert (
        apps["Old Sync"]["calls"] == 0 and apps["Old Sync"]["policy"]["refresh_valid_until_revoked"] is False
    )
    assert "dormant" not in json.dumps(gainsight["posture"])
    assert any("not been used for 264 days" in p for p in apps["Old Sync"]["posture"])


def test_table_lists_tokens_and_posture_inert(tmp_path: Path) -> None:
    db = build(tmp_path)
    catalog = tmp_path / "integrations.toml"
    catalog.write_text(f'[[integration]]\nname = "Gainsight CS"\nconnected_app_id = "{APP_ID}"\n')
    config = tmp_path / "workbench.toml"
    config.write_text(f'[detect]\nintegrations = "{catalog}"\n')
    result = runner.invoke(
        app, ["integrations", "--db", str(db), "--config", str(config)], terminal_width=250
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "OAuth tokens (latest snapshot): 4" in out and "sync@acme.test" in out and "2025-03-01 00:00" in out
    )
    assert "dormant_app_tokens" in out and "Old Sync holds 1 live token(s)" in out
    undeclared = [line for line in out.splitlines() if "undeclared_app" in line]
    assert len(undeclared) == 2 and not any("Gainsight" in line for line in undeclared)
    assert "\u202e" not in out and "[red]App" in out  # bidi neutralised, markup shown literally
    markdown = runner.invoke(app, ["integrations", "--db", str(db), "--format", "markdown"]).stdout
    assert "# Posture findings" in markdown and "# OAuth tokens" in markdown
    assert "\u202e" not in markdown and "\\[red\\]App" in markdown  # Markdown escaped


def test_without_org_context_nothing_changes(tmp_path: Path) -> None:
    apps = listed(build(tmp_path, with_context=False))
    assert len(apps) == 1 and apps[0]["tokens"] == [] and apps[0]["policy"] is None
    result = runner.invoke(app, ["integrations", "--db", str(tmp_path / "w.duckdb")])
    assert "OAuth tokens" not in result.output and "dormant_app_tokens" not in result.output
