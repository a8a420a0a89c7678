"""CLI behaviour of the foundation commands: ingest, status, generate, demo, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, write_log
from workbench.cli import app
from workbench.sample.generator import generate

runner = CliRunner()


def test_ingest_and_status(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    rows = [api_row(ts=f"202511{d:02d}100000.000", request_id=f"r{d}") for d in (17, 18, 20)]
    write_log(logs / "a.csv", API_TOTAL_USAGE_HEADER, rows)
    db = tmp_path / "w.duckdb"
    result = runner.invoke(app, ["ingest", str(logs), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 file(s) ingested" in result.output and "3 events added" in result.output
    status = runner.invoke(app, ["status", "--db", str(db)])
    assert status.exit_code == 0
    assert "00D68000004DKqo" in status.output and "ApiTotalUsage" in status.output
    assert "2025-11-19" in status.output  # the missing day inside the covered range


def test_refused_file_gives_exit_2_and_names_it(tmp_path: Path) -> None:
    write_log(tmp_path / "good.csv", API_TOTAL_USAGE_HEADER, [api_row()])
    (tmp_path / "page.csv").write_text("<html>login</html>")
    result = runner.invoke(app, ["ingest", str(tmp_path), "--db", str(tmp_path / "w.duckdb")])
    assert result.exit_code == 2
    assert "page.csv" in result.output and "HTML" in result.output
    assert "1 file(s) ingested" in result.output
    assert "Traceback" not in result.output


def test_hostile_file_names_and_values_are_not_markup(tmp_path: Path) -> None:
    name = "[bold red]x[blink].csv"
    (tmp_path / name).write_text("<html></html>")
    result = runner.invoke(app, ["ingest", str(tmp_path), "--db", str(tmp_path / "w.duckdb")])
    assert "[bold red]x[blink].csv" in result.output


def test_busy_database_gets_exit_3_and_names_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
            "print('ready', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        done = subprocess.run(
            [sys.executable, "-m", "workbench.cli", "status", "--db", str(db)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 3
    assert "database is in use by" in done.stderr and f"PID {holder.pid}" in done.stderr
    assert "Traceback" not in done.stderr


def test_generator_is_deterministic(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", days=5, orgs=2, scale=0.02, seed=3, gzip_files=True)
    two = generate(tmp_path / "two", days=5, orgs=2, scale=0.02, seed=3, gzip_files=True)
    other = generate(tmp_path / "three", days=5, orgs=2, scale=0.02, seed=4, gzip_files=True)
    names = sorted(p.relative_to(tmp_path / "one") for p in one.files)
    assert names == sorted(p.relative_to(tmp_path / "two") for p in two.files)
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert one.rows_by_type != other.rows_by_type or any(
        (tmp_path / "one" / n).read_bytes() != (tmp_path / "three" / n).read_bytes()
        for n in names
        if (tmp_path / "three" / n).exists()
    )


def test_generate_command_writes_the_real_dialect(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    result = runner.invoke(
        app,
        [
            "generate",
            str(out),
            "--days",
            "4",
            "--scale",
            "0.02",
            "--event-type",
            "ApiTotalUsage",
            "--event-type",
            "Login",
        ],
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.rglob("*.csv"))
    assert files and all(f.name.endswith(("ApiTotalUsage.csv", "Login.csv")) for f in files)
    first_line = files[0].read_text().splitlines()[0]
    assert first_line.startswith('"EVENT_TYPE","TIMESTAMP"')
    bad = runner.invoke(app, ["generate", str(out), "--event-type", "Nope"])
    assert bad.exit_code == 2 and "Nope" in bad.output
    bad_date = runner.invoke(app, ["generate", str(out), "--end-date", "soon"])
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output


def test_sample_logs_ingest_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    result = runner.invoke(app, ["demo", "--db", str(db)])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    orgs = {r[0] for r in con.execute("SELECT DISTINCT org_id FROM events").fetchall()}
    assert orgs == {"00Dr0F3kxdTdhsx", "00DnibiJJtDyoHs"}
    types = {r[0] for r in con.execute("SELECT DISTINCT event_type FROM events").fetchall()}
    assert types == {"ApiTotalUsage", "RestApi", "BulkApi2", "Login", "Logout"}
    assert con.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0
    # The planted incident is in the store: the three exported objects with their row counts.
    exports = con.execute(
        """SELECT entity_name, rows_processed FROM events
            WHERE event_type = 'BulkApi2' AND json_extract_string(attributes, '$.OPERATION_TYPE') = 'query'
            ORDER BY entity_name"""
    ).fetchall()
    assert exports == [("Case", 184215), ("ContentVersion", 52930), ("User", 12480)]
    (tor_logins,) = con.execute(
        "SELECT count(*) FROM events WHERE event_type = 'Login' AND source_ip LIKE '185.220.101.%'"
    ).fetchone()
    assert tor_logins == 3
    con.close()
    again = runner.invoke(app, ["demo", "--db", str(db)])
    assert again.exit_code == 0 and "0 events added" in again.output


def test_query_command_runs_read_only_sql(tmp_path: Path) -> None:
    write_log(tmp_path / "a.csv", API_TOTAL_USAGE_HEADER, [api_row()])
    db = tmp_path / "w.duckdb"
    runner.invoke(app, ["ingest", str(tmp_path / "a.csv"), "--db", str(db)])
    ok = runner.invoke(app, ["query", "SELECT count(*) AS n FROM events", "--db", str(db)])
    assert ok.exit_code == 0 and "1" in ok.output
    bad = runner.invoke(app, ["query", "DELETE FROM events", "--db", str(db)])
    assert bad.exit_code == 2 and "query failed" in bad.output
    missing = runner.invoke(app, ["status", "--db", str(tmp_path / "none" / "x.duckdb")])
    assert missing.exit_code == 0  # status creates an empty store and says so
    assert "empty" in missing.output


def test_bad_usage_is_one_line_and_exit_2_from_the_console_script(tmp_path: Path) -> None:
    for args, option in ((["scan", "--format", "xml"], "--format"), (["scan", "--bogus"], "--bogus")):
        done = subprocess.run(
            [sys.executable, "-m", "workbench.cli", *args, "--db", str(tmp_path / "x.duckdb")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: workbench scan:") and option in lines[0]
        assert "Traceback" not in done.stderr
