"""The CLI and the TUI side by side: with the TUI open, a responder runs the commands the report
tells them to run, in another terminal (a real second process), and triage still lands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.tui.test_tui import SIZE, make_app, settle
from workbench.tui.panes.anomalies import AnomaliesPane


def workbench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`workbench ARGS` in a process of its own, as from a second terminal."""
    command = [sys.executable, "-m", "workbench.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


async def test_backcheck_and_report_run_while_the_tui_is_open(db: Path, tmp_path: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        window = ("--start", "2025-11-17", "--end", "2025-11-20")
        backcheck = workbench("backcheck", "--db", db, *window, "--format", "json")
        assert backcheck.returncode == 0, backcheck.stderr
        assert "185.220.101.164" in {row["ip"] for row in json.loads(backcheck.stdout)["ips"]}
        report = workbench("report", "--db", db, "-o", tmp_path / "incident.md")
        assert report.returncode == 0, report.stderr
        assert "Gainsight CS" in (tmp_path / "incident.md").read_text()
        # The TUI still writes: it takes the store read-write only for the decision.
        first = app.pane(AnomaliesPane).selected()
        await pilot.press("b")
        await settle(pilot, app)
        findings = workbench("findings", "--db", db, "--format", "json")
        assert findings.returncode == 0, findings.stderr
        status = {f["id"]: f["status"] for f in json.loads(findings.stdout)}
        assert status[first["id"]] == "benign"
        # A writer still waits its turn: one line naming the TUI's process, exit 3.
        writer = workbench("triage", first["id"], "--status", "confirmed", "--db", db)
        assert writer.returncode == 3 and "database is in use by" in writer.stderr
        assert len(writer.stderr.strip().splitlines()) == 1
    app.store.close()
