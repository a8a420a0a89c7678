"""The back-check's and the report's org-context sections, through the real path: CSV exports
written the way the tools write them, plus event logs -> `workbench ingest` -> `backcheck` /
`report` (setup changes and token events listed and marked, "no org context loaded" on a store
without it, the report's "What we changed, and how we know" with pass and fail answers, hostile
strings from these objects inert in every format)."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime, timedelta
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
HEADER = [*API_TOTAL_USAGE_HEADER, "CONNECTED_APP_NAME", "USER_NAME"]
ORG = "00D68000004DKqo"
GS_ID, DRIFT_ID = "0H468000000kPN4", "0H468000000kDR1"
GS_USER, DRIFT_USER = "005680000000GSa", "005680000000DRa"
VENDOR_IP, INCIDENT_IP = "198.51.100.1", "203.0.113.10"
DRIFT_IP, DRIFT_NEW_IP = "192.0.2.5", "192.0.2.66"
OSC52 = "\x1b]52;c;cHduZWQ=\x07"
BIDI = "\u202eevil\u200b"
RAW_UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)


def invoke(*args: object, code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args], terminal_width=400)
    output = result.stdout + result.stderr
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{output}\n{result.exception!r}"
    assert "Traceback" not in output
    return output


def event_rows(gs_name: str = "Gainsight CS", drift_name: str = "Drift") -> list[list[str]]:
    """Two weeks of both apps at work from their usual addresses; Gainsight once from a new address
    on 11-18 03:00; Drift from a new address on 11-18 and again after containment, on 11-21."""
    rows = []

    def row(when: datetime, ident: str, app_id: str, ip: str, user: str, name: str) -> list[str]:
        stamp = when.strftime("%Y%m%d%H%M%S.000")
        return [
            *api_row(ts=stamp, request_id=ident, app=app_id, ip=ip, user=user, entity="Account"),
            name,
            user,
        ]

    for d in range(14):
        day = datetime(2025, 11, 8) + timedelta(days=d)
        for h in (9, 13):
            rows.append(row(day + timedelta(hours=h), f"g{d}{h}", GS_ID, VENDOR_IP, GS_USER, gs_name))
            rows.append(row(day + timedelta(hours=h), f"d{d}{h}", DRIFT_ID, DRIFT_IP, DRIFT_USER, drift_name))
    rows.append(row(datetime(2025, 11, 18, 3), "x1", GS_ID, INCIDENT_IP, GS_USER, gs_name))
    rows.append(row(datetime(2025, 11, 18, 4), "y1", DRIFT_ID, DRIFT_NEW_IP, DRIFT_USER, drift_name))
    rows.append(row(datetime(2025, 11, 21, 4), "y2", DRIFT_ID, DRIFT_NEW_IP, DRIFT_USER, drift_name))
    return rows


def audit_rows(
    display: str = "Changed IP relaxation for Gainsight CS to Relax IP restrictions",
    who: str = "admin@acme.test",
) -> list[list[str]]:
    return [
        [
            "0Ym1",
            "2025-11-17T10:00:00.000+0000",
            who,
            "connectedAppPolicyChange",
            "Connected Apps",
            display,
            "",
        ],
        [
            "0Ym2",
            "2025-11-18T12:00:00.000+0000",
            "admin@acme.test",
            "connectedAppRefreshPolicy",
            "Connected Apps",
            f"Changed refresh token policy of connected app {DRIFT_ID}AAM",
            "support@salesforce.test",
        ],
        [
            "0Ym3",
            "2025-11-18T13:00:00.000+0000",
            "admin@acme.test",
            "PermSetAssign",
            "Manage Users",
            "Assigned permission set Reports to user jo@acme.test",
            "",
        ],
        [
            "0Ym4",
            "2025-11-26T08:00:00.000+0000",
            "admin@acme.test",
            "PermSetAssign",
            "Manage Users",
            "Later",
            "",
        ],
    ]


def build(tmp_path: Path, org_context: bool = True, hostile: bool = False) -> Path:
    """A store from event logs and (unless ORG_CONTEXT is False) the four exports: connected apps,
    two token snapshots (11-19: before; 11-22: Gainsight's token revoked and reissued, Drift's old
    one still live) and the setup audit trail. HOSTILE puts escapes and markup in the app name,
    the setup change's Display and CreatedBy."""
    db = tmp_path / "w.duckdb"
    gs_name = f"Gain{OSC52}*sight* [x](https://evil.example){BIDI}" if hostile else "Gainsight CS"
    write_log(tmp_path / "logs" / "api.csv", HEADER, event_rows(gs_name))
    invoke("ingest", tmp_path / "logs", "--db", db)
    if not org_context:
        return db
    sf_cli(
        tmp_path / "apps" / "apps.csv",
        APP_HEADER,
        [app_row(GS_ID + "AAM", gs_name), app_row(DRIFT_ID + "AAM", "Drift")],
    )
    before = [
        token_row("0CQ1", gs_name, GS_USER, "gs@acme.test", "2025-06-01T00:00:00Z", "2025-11-18T03:00:00Z"),
        token_row(
            "0CQ9", "Drift", DRIFT_USER, "drift@acme.test", "2025-02-01T00:00:00Z", "2025-11-17T09:00:00Z"
        ),
    ]
    after = [
        token_row("0CQ5", gs_name, GS_USER, "gs@acme.test", "2025-11-20T09:00:00Z", "2025-11-21T11:00:00Z"),
        token_row(
            "0CQ9", "Drift", DRIFT_USER, "drift@acme.test", "2025-02-01T00:00:00Z", "2025-11-21T04:00:00Z"
        ),
    ]
    data_loader(tmp_path / "t1" / "tokens.csv", TOKEN_HEADER, before)
    data_loader(tmp_path / "t2" / "tokens.csv", TOKEN_HEADER, after)
    if hostile:
        display = f"Relaxed IP for {gs_name} \x1b[2J`code` | <b>x</b> =HYPERLINK(1)"
        audit = audit_rows(display=display, who=f"adm{OSC52}in{BIDI}@acme.test")
    else:
        audit = audit_rows()
    sf_cli(tmp_path / "audit" / "audit.csv", AUDIT_API_HEADER, audit)
    for folder, as_of in (
        ("apps", "2025-11-19"),
        ("t1", "2025-11-19"),
        ("t2", "2025-11-22"),
        ("audit", None),
    ):
        invoke("ingest", tmp_path / folder, "--db", db, *(["--as-of", as_of] if as_of else []))
    return db


def backcheck(db: Path, *args: str, fmt: str = "json") -> str:
    return invoke(
        "backcheck", "--db", db, "--start", "2025-11-17", "--end", "2025-11-20", *args, "--format", fmt
    )


def test_backcheck_lists_setup_changes_and_token_events_marking_the_scoped_app(tmp_path: Path) -> None:
    db = build(tmp_path)
    body = json.loads(backcheck(db, "--app", "Gainsight CS"))
    assert body["org_context"]["loaded"] is True
    changes = {c["record_id"]: c for c in body["setup_changes"]}
    # The window's three changes (not the later one), the one naming the app by name marked.
    assert sorted(changes) == ["0Ym1", "0Ym2", "0Ym3"]
    assert (
        changes["0Ym1"]["names_app"] == "Gainsight CS" and changes["0Ym1"]["created_by"] == "admin@acme.test"
    )
    assert (
        changes["0Ym2"]["names_app"] is None and changes["0Ym2"]["delegate_user"] == "support@salesforce.test"
    )
    events = [(e["event"], e["token_id"]) for e in body["token_events"]]
    # Gainsight's old token last used in the window; its new one created in it (the bare end date
    # includes 11-20); the old one revoked between the snapshots of 11-19 and 11-22, which straddle
    # the window's end. Drift's tokens are not in scope.
    assert events == [("last used", "0CQ1"), ("created", "0CQ5"), ("revoked", "0CQ1")]
    assert any(
        "setup change 2025-11-17 10:00 by admin@acme.test" in c and "names scoped app Gainsight CS" in c
        for c in body["changed"]
    )
    assert any(
        c.startswith("token 0CQ1 of Gainsight CS held by gs@acme.test revoked") for c in body["changed"]
    )
    assert any(c.startswith("org context: available (SetupAuditTrail 4 rows") for c in body["checked"])
    # Containment after the incident: T is the last snapshot still holding the revoked token.
    (answer,) = body["containment"]
    assert answer["since"].startswith("2025-11-19T00:00") and answer["verdict"] == "pass"
    assert "last token snapshot that still held" in answer["since_basis"]

    # By id, the Drift change is the one marked; a wider window shows the reissued token's creation.
    drift = json.loads(backcheck(db, "--app", DRIFT_ID))
    marked = [c["record_id"] for c in drift["setup_changes"] if c["names_app"]]
    assert marked == ["0Ym2"]
    wide = json.loads(
        invoke(
            "backcheck",
            "--db",
            db,
            "--start",
            "2025-11-17",
            "--end",
            "2025-11-23",
            "--app",
            "Gainsight CS",
            "--format",
            "json",
        )
    )
    assert ("created", "0CQ5") in [(e["event"], e["token_id"]) for e in wide["token_events"]]
    assert any(
        c.startswith("token 0CQ5 of Gainsight CS held by gs@acme.test created 2025-11-20 09:00")
        for c in wide["changed"]
    )

    markdown = backcheck(db, "--app", "Gainsight CS", fmt="markdown")
    setup = markdown.split("## Setup changes in the window")[1].split("\n## ")[0]
    assert "| 2025-11-17 10:00 | admin@acme.test |" in setup and "yes: Gainsight CS" in setup
    assert "Changed refresh token policy" in setup
    tokens = markdown.split("## Token events")[1].split("\n## ")[0]
    assert "| revoked |" in tokens and "`0CQ1`" in tokens
    table = backcheck(db, "--app", "Gainsight CS", fmt="table")
    assert "names scoped app Gainsight CS" in table and "org context: available" in table
    assert "token 0CQ1 of Gainsight CS held by gs@acme.test last used 2025-11-18 03:00" in table


def test_capped_lists_say_how_many_more(tmp_path: Path) -> None:
    db = build(tmp_path)
    many = [
        [
            f"0Yx{n:02d}",
            f"2025-11-18T14:{n:02d}:00.000+0000",
            "admin@acme.test",
            "PermSetAssign",
            "Manage Users",
            f"Change {n}",
            "",
        ]
        for n in range(60)
    ]
    sf_cli(tmp_path / "more" / "audit.csv", AUDIT_API_HEADER, many)
    invoke("ingest", tmp_path / "more", "--db", db)
    body = json.loads(backcheck(db))
    assert len(body["setup_changes"]) == 63
    assert "+53 more setup changes" in body["changed"]
    markdown = backcheck(db, fmt="markdown")
    assert "+13 more setup changes (all of them in --format json)." in markdown


def test_a_store_without_org_context_says_so(tmp_path: Path) -> None:
    db = build(tmp_path, org_context=False)
    body = json.loads(backcheck(db, "--app", "Gainsight CS"))
    assert body["org_context"]["loaded"] is False and body["org_context"]["note"] == "no org context loaded"
    assert body["setup_changes"] is None and body["token_events"] is None and body["containment"] == []
    assert any("org context: no org context loaded" in c for c in body["checked"])
    markdown = backcheck(db, "--app", "Gainsight CS", fmt="markdown")
    for section in ("## Setup changes in the window", "## Token events"):
        assert markdown.split(section)[1].split("\n## ")[0].strip().startswith("No org context loaded")
    assert "org context: no org context loaded" in backcheck(db, "--app", "Gainsight CS", fmt="table")

    out = tmp_path / "report.md"
    invoke(
        "report",
        "-o",
        out,
        "--start",
        "2025-11-17",
        "--end",
        "2025-11-20",
        "--app",
        "Gainsight CS",
        "--db",
        db,
    )
    section = (
        out.read_text(encoding="utf-8").split("## What we changed, and how we know")[1].split("\n## ")[0]
    )
    assert "No org context loaded" in section
    assert f"workbench fetch --org-context --db {db}" in section
    assert f"workbench ingest EXPORTS --as-of YYYY-MM-DDTHH:MM --db {db}" in section
    assert "PASS" not in section and "FAIL" not in section


def report_section(tmp_path: Path, db: Path, app_name: str) -> tuple[str, list[str]]:
    out = tmp_path / f"{app_name}.md"
    invoke("report", "-o", out, "--start", "2025-11-17", "--end", "2025-11-20", "--app", app_name, "--db", db)
    text = out.read_text(encoding="utf-8")
    section = text.split("## What we changed, and how we know")[1].split("\n## ")[0]
    block = text.split("Run these against the same database to reproduce it")[1].split("\n\n")[1]
    return section, block.splitlines()[1:-1]


def test_report_says_what_we_changed_with_pass_and_fail(tmp_path: Path) -> None:
    db = build(tmp_path)
    section, commands = report_section(tmp_path, db, "Gainsight CS")
    assert f"### Gainsight CS (`{GS_ID}`): PASS" in section
    assert "T = 2025-11-19 00:00 UTC, the last token snapshot that still held" in section
    assert f"old addresses: the incident's addresses ({INCIDENT_IP})" in section
    assert section.count("- **PASS**") == 3
    assert "1 new token(s) for gs@acme.test" in section
    setup = section.split("### Setup changes during the window")[1]
    assert "yes: Gainsight CS" in setup and "Assigned permission set Reports" in setup
    verify = [shlex.split(c) for c in commands if c.startswith("workbench verify-containment")]
    assert verify == [
        [
            "workbench",
            "verify-containment",
            "--app",
            GS_ID,
            "--since",
            "2025-11-19T00:00",
            "--ip",
            INCIDENT_IP,
            "--format",
            "markdown",
            "--db",
            str(db),
        ]
    ]
    # The line it prints answers the same when run.
    assert invoke(*verify[0][1:]).startswith("# Containment of")

    section, commands = report_section(tmp_path, db, "Drift")
    assert f"### Drift (`{DRIFT_ID}`): FAIL" in section
    # No revocation after the window: T is the end of the incident window, the minute after the
    # last call from the new address inside it.
    assert (
        "T = 2025-11-18 04:01 UTC, the end of the incident window (the minute after the last call "
        "from its addresses)" in section
    )
    assert section.count("- **FAIL**") == 3
    assert "still live in the snapshot of 2025-11-22 00:00: token 0CQ9 of drift@acme.test" in section
    assert f"{DRIFT_NEW_IP}: 1 call(s) in the logs" in section
    verify = [shlex.split(c) for c in commands if c.startswith("workbench verify-containment")]
    assert verify[0][verify[0].index("--since") + 1] == "2025-11-18T04:01"
    invoke(*verify[0][1:], code=1)

    as_json = tmp_path / "report.json"
    invoke(
        "report",
        "-o",
        as_json,
        "--format",
        "json",
        "--start",
        "2025-11-17",
        "--end",
        "2025-11-20",
        "--app",
        "Drift",
        "--db",
        db,
    )
    (answer,) = json.loads(as_json.read_text(encoding="utf-8"))["backcheck"]["containment"]
    assert answer["verdict"] == "fail" and [c["answer"] for c in answer["checks"]] == ["fail"] * 3


def test_hostile_org_context_strings_are_inert_in_every_format(tmp_path: Path) -> None:
    db = build(tmp_path, hostile=True)
    outputs = {fmt: backcheck(db, "--app", GS_ID, fmt=fmt) for fmt in ("table", "markdown", "json")}
    out = tmp_path / "report.md"
    invoke("report", "-o", out, "--start", "2025-11-17", "--end", "2025-11-20", "--app", GS_ID, "--db", db)
    outputs["report"] = out.read_text(encoding="utf-8")
    as_json = tmp_path / "report.json"
    invoke(
        "report",
        "-o",
        as_json,
        "--format",
        "json",
        "--start",
        "2025-11-17",
        "--end",
        "2025-11-20",
        "--app",
        GS_ID,
        "--db",
        db,
    )
    outputs["report json"] = as_json.read_text(encoding="utf-8")
    for where, text in outputs.items():
        found = RAW_UNSAFE.search(text)
        assert found is None, (
            f"{where}: raw {found.group()!r} near {text[max(0, found.start() - 60) : found.start()]!r}"
        )
    body = json.loads(outputs["json"])
    # JSON keeps the exact values, escaped; the hostile change still names the (hostile) app.
    change = next(c for c in body["setup_changes"] if c["record_id"] == "0Ym1")
    assert change["created_by"] == f"adm{OSC52}in{BIDI}@acme.test" and change["names_app"]
    assert any(e["app_name"].startswith("Gain\x1b") for e in body["token_events"])
    # Shown, not acted on: ESC as a picture, bidi as an escape; no live link, code span or HTML.
    assert "adm\u241b]52;c;cHduZWQ=\u2407in\\u202eevil\\u200b@acme.test" in outputs["table"]
    for where in ("markdown", "report"):
        text = outputs[where]
        assert "https://evil.example" not in text and "hxxps://evil\\[.\\]example" in text
        assert "<b>" not in text and "&lt;b&gt;" in text
        assert "\\*sight\\*" in text and "\\`code\\`" in text
        setup = text.split("etup changes")[1]
        assert "\\| &lt;b&gt;" in setup  # the pipe cannot open a column
    # The verify-containment line quotes its values; the app name does not reach it.
    commands = outputs["report"].split("Run these against the same database")[1]
    assert f"workbench verify-containment --app {GS_ID}" in commands
