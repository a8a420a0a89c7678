"""Hostile logs, hostile files, careless hands: one test per class of hole, through the real CLI
(and the TUI under Pilot) on generated hostile data.

Each asserts no traceback, the documented exit code, and no control, bidi or invisible character
(and no unquoted log text) in any output.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import re
import shlex
import tomllib
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, copy_store, quoted_csv, write_log
from workbench.cli import app
from workbench.config import load_catalog

runner = CliRunner()

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # sets the clipboard in most terminals
BIDI = "\u202eevil\u200b\u2066"
APP_ID = "0H4;touch /tmp/PWNED;#"
APP_NAME = (
    f"Evil{OSC52}[link=https://evil.example]x[/link][@click=app.quit]q{BIDI} https://evil.example/a\x7f"
)
USER_NAME = f"user{OSC52}@acme.com"
HOSTILE_IP = f"10.9.9.9{OSC52}"
NIGHT_IP = "185.220.101.9"
REQUEST = "req`{n}`\x1b[2J"  # backticks (code spans) and a clear-screen sequence
# Every character `workbench.render.inert` replaces, as they would reach an output raw.
RAW_UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)
HEADER = [*API_TOTAL_USAGE_HEADER, "CONNECTED_APP_NAME", "USER_NAME"]
END = datetime(2025, 11, 20)


def assert_inert(text: str, where: str) -> None:
    """No raw control/bidi/invisible character and no traceback in TEXT."""
    found = RAW_UNSAFE.search(text)
    context = text[max(0, found.start() - 60) : found.start() + 20] if found else ""
    assert found is None, f"{where}: raw {found.group()!r} in {context!r}"
    assert "Traceback" not in text, f"{where}: {text[-2000:]}"


def invoke(*args: str, code: int = 0) -> str:
    """Run the CLI; check the exit code; return stdout and stderr together."""
    result = runner.invoke(app, [str(a) for a in args])
    output = result.stdout + result.stderr
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{output}\n{result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert_inert(output, " ".join(map(str, args[:2])))
    return output


def hostile_rows() -> list[list[str]]:
    """Three weeks of a quiet day-time integration, then a night burst from a new address by
    attacker tooling; every free-text field carries escapes, markup, bidi and shell text."""
    rows = []
    for d in range(21):
        day = END - timedelta(days=20 - d)
        for h in range(9, 17):
            for k in range(5):
                ts = day + timedelta(hours=h, minutes=k)
                ip = HOSTILE_IP if (d, h, k) == (20, 9, 0) else "52.1.1.1"
                rows.append(
                    [
                        *api_row(
                            ts=ts.strftime("%Y%m%d%H%M%S.000"),
                            request_id=f"day-{d}-{h}-{k}",
                            app=APP_ID,
                            ip=ip,
                            client=f"Client{OSC52}",
                            entity="Account",
                        ),
                        APP_NAME,
                        USER_NAME,
                    ]
                )
    for n in range(300):
        ts = END + timedelta(hours=2, seconds=n)
        rows.append(
            [
                *api_row(
                    ts=ts.strftime("%Y%m%d%H%M%S.000"),
                    request_id=REQUEST.format(n=n),
                    app=APP_ID,
                    ip=NIGHT_IP,
                    client="Salesforce-Multi-Org-Fetcher/1.0",
                    entity=f"Case{BIDI}",
                ),
                APP_NAME,
                USER_NAME,
            ]
        )
    return rows


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    write_log(folder / "logs" / "ApiTotalUsage.csv", HEADER, hostile_rows())
    db = folder / "hostile.duckdb"
    invoke("ingest", folder / "logs", "--db", db)
    invoke("scan", "--db", db)
    return db


@pytest.fixture
def db(scanned: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "hostile.duckdb"
    copy_store(scanned, copy)
    return copy


def count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()


# 1. Terminal escapes, bidi and invisible characters --------------------------------------------


def write_hostile_mmdb(folder: Path) -> tuple[Path, Path]:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    city = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"])
    city.insert_network(
        IPSet([f"{NIGHT_IP}/32"]),
        {
            "country": {"iso_code": "DE", "names": {"en": f"Germany{BIDI}"}},
            "city": {"names": {"en": f"Berlin{OSC52}[link=https://evil.example]x[/link]"}},
        },
    )
    asn = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN", languages=["en"])
    asn.insert_network(
        IPSet([f"{NIGHT_IP}/32"]),
        {"autonomous_system_number": 64500, "autonomous_system_organization": f"Evil AS{OSC52}{BIDI}"},
    )
    paths = (folder / "city.mmdb", folder / "asn.mmdb")
    city.to_db_file(str(paths[0]))
    asn.to_db_file(str(paths[1]))
    return paths


def test_log_mmdb_and_ioc_strings_are_inert_in_every_output(db: Path, tmp_path: Path) -> None:
    city, asn = write_hostile_mmdb(tmp_path)
    invoke("enrich", "--db", db, "--city", city, "--asn", asn)
    ioc = tmp_path / "iocs.txt"
    ioc.write_text(f"{NIGHT_IP}\n{APP_ID}\nSalesforce-Multi-Org-Fetcher/1.0\n# note {OSC52}\n")
    outputs = {}
    for fmt in ("table", "csv", "json", "markdown"):
        outputs[f"scan {fmt}"] = invoke("scan", "--db", db, "--format", fmt)
        outputs[f"findings {fmt}"] = invoke("findings", "--db", db, "--format", fmt)
    for fmt in ("table", "markdown", "json"):
        outputs[f"backcheck {fmt}"] = invoke(
            "backcheck",
            "--db",
            db,
            "--start",
            "2025-11-19",
            "--end",
            "2025-11-20",
            "--ioc",
            ioc,
            "--format",
            fmt,
        )
    for fmt in ("table", "json", "csv"):
        outputs[f"sweep {fmt}"] = invoke("sweep", "--db", db, "--ioc", ioc, "--format", fmt)
    outputs["ip table"] = invoke("ip", NIGHT_IP, "--db", db)
    outputs["ip json"] = invoke("ip", NIGHT_IP, "--db", db, "--format", "json")
    outputs["integrations"] = invoke("integrations", "--db", db)
    outputs["status"] = invoke("status", "--db", db)
    outputs["query"] = invoke(
        "query", "SELECT connected_app_name, client_ip, user_name FROM events", "--db", db
    )
    invoke("report", "-o", tmp_path / "incident.md", "--db", db, "--ioc", ioc, "--csv-dir", tmp_path / "csv")
    outputs["report"] = (tmp_path / "incident.md").read_text(encoding="utf-8")
    invoke("report", "-o", tmp_path / "incident.json", "--format", "json", "--db", db)
    outputs["report json"] = (tmp_path / "incident.json").read_text(encoding="utf-8")
    for path in (tmp_path / "csv").glob("*.csv"):
        outputs[path.name] = path.read_text(encoding="utf-8")
    for where, text in outputs.items():
        assert_inert(text, where)
    # The values are there, shown: ESC as ␛, the bidi override as an escape.
    assert "Evil\u241b]52;c;cHduZWQ=\u2407" in outputs["findings table"]
    assert "Berlin\u241b]52" in outputs["ip table"] and "Evil AS\u241b]52" in outputs["ip table"]
    assert "\\u202eevil" in outputs["findings csv"] and "10.9.9.9\u241b" in outputs["backcheck markdown"]
    # JSON keeps the exact value, escaped (and parses back to it).
    assert any(f["entity_label"] == APP_NAME for f in json.loads(outputs["findings json"]))
    assert not any(line.startswith(("=", "+", "@")) for line in outputs["findings csv"].splitlines())


# 2. Every printed command line is shell-quoted ---------------------------------------------------


def test_reproduce_commands_quote_log_values(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "incident.md"
    invoke("report", "-o", out, "--db", db, "--title", "t; rm -rf ~")
    text = out.read_text(encoding="utf-8")
    block = text.split("Run these against the same database to reproduce it")[1].split("\n\n")[1]
    fence, *commands, closing = block.splitlines()
    assert fence == closing and set(fence) == {"`"}
    backcheck = next(shlex.split(c) for c in commands if c.startswith("workbench backcheck"))
    # Findings key apps on their first 15 characters: the value is one literal argument, nothing runs.
    assert backcheck[backcheck.index("--app") + 1] == APP_ID[:15]
    assert f"--app {shlex.quote(APP_ID[:15])} " in commands[1]
    invocation = shlex.split(commands[0])
    assert invocation[invocation.index("--title") + 1] == "t; rm -rf ~"


# 3. No data or exception text is ever markup in the TUI; a crash exits non-zero -----------------


async def settle(pilot, app) -> None:  # type: ignore[no-untyped-def]
    from textual.worker import WorkerCancelled

    for _ in range(3):
        await pilot.pause()
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
    await pilot.pause()


def toasts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


async def test_tui_shows_markup_and_escapes_literally(db: Path, tmp_path: Path, monkeypatch) -> None:
    from rich.text import Text

    from workbench.tui.app import WorkbenchApp

    monkeypatch.setenv("WORKBENCH_TUI_SETTINGS", str(tmp_path / "tui.json"))
    app = WorkbenchApp(db)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        await settle(pilot, app)
        # A finding row (not its incident's row) of the hostile app.
        shown = app.pane("anomalies").shown
        row = next(r for r, (_, f) in enumerate(shown) if f is not None and f["entity_label"] == APP_NAME)
        app.query_one("#anomalies").move_cursor(row=row)
        await pilot.press("c")  # the triage toast names the hostile app
        await settle(pilot, app)
        assert any("Evil\u241b]52" in m and "[link=https://evil.example]" in m for m in toasts(app))
        await pilot.press("3")  # the timeline's entity select lists it
        await settle(pilot, app)
        select = app.query_one("#timeline-entity")
        assert any(isinstance(prompt, Text) and "[link=" in prompt.plain for prompt, _ in select._options)
        await pilot.press("5")  # a worker error whose text holds markup
        await settle(pilot, app)
        app.query_one("#exposure-ioc").value = str(tmp_path / "[link=x]y[/link][@click=app.quit]q[/]")
        await pilot.click("#exposure-run")
        await settle(pilot, app)
        await pilot.press("6")  # column headers from SQL
        await settle(pilot, app)
        sql = app.query_one("#query-sql")
        sql.focus()
        sql.value = 'SELECT 1 AS "[link=https://evil.example]x[/link]", 2 AS "[@click=app.quit]q[/]"'
        await pilot.press("enter")
        await settle(pilot, app)
        headers = [str(c.label) for c in app.query_one("#query-results").columns.values()]
        assert headers == ["[link=https://evil.example]x[/link]", "[@click=app.quit]q[/]"]
        assert app.is_running and app.return_code is None
        messages = toasts(app)
        # The Exposure form says what went wrong in place, as text (the path holds markup).
        result = app.query_one("#exposure-result").render()
        assert "[link=x]y[/link][@click=app.quit]q[/]" in str(result)
        for message in messages:
            assert_inert(message, "toast")
        screen = app.export_screenshot()
        assert "[link=https://evil.example]" in screen and "\x1b]52" not in screen
    app.store.close()


def test_tui_that_crashes_exits_non_zero(db: Path, tmp_path: Path, monkeypatch) -> None:
    from textual.app import App

    from workbench.tui import app as tui_app

    def boom(self) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("[link=https://evil.example]boom[/link]")

    monkeypatch.setenv("WORKBENCH_TUI_SETTINGS", str(tmp_path / "tui.json"))
    monkeypatch.setattr(tui_app.WorkbenchApp, "on_mount", boom)
    monkeypatch.setattr(tui_app.WorkbenchApp, "run", lambda self: App.run(self, headless=True))
    result = runner.invoke(app, ["tui", "--db", str(db)])
    assert result.exit_code == 1 and "the TUI stopped on an unexpected error" in result.stderr


# 4. Markdown: literal code spans for ids, no links from log text ----------------------------------


def test_markdown_ids_are_literal_and_urls_defanged(db: Path, tmp_path: Path) -> None:
    from workbench.render import code_span

    out = tmp_path / "incident.md"
    invoke("report", "-o", out, "--db", db)
    text = out.read_text(encoding="utf-8")
    evidence = text.split("Sample request ids")[1].split("## Appendix")[0]
    spans = [line[2:] for line in evidence.splitlines() if line.startswith("- ")]
    assert spans and all("\\" not in s for s in spans)  # no Markdown escapes inside code spans
    assert "- ``req`0`\u241b[2J``" in evidence and code_span("req`0`") == "`` req`0` ``"
    assert re.search(r"(?i)\b(https?|ftp)://", text) is None and "www." not in text
    assert "hxxps://evil\\[.\\]example" in text  # renders as hxxps://evil[.]example


# 5. The starter catalog is valid TOML whatever the names hold ------------------------------------


def test_catalog_round_trips_hostile_names(db: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "integrations.toml"
    invoke("integrations", "--db", db, "--write-catalog", catalog)
    text = catalog.read_text(encoding="utf-8")
    assert_inert(text, "catalog")
    (entry,) = load_catalog(catalog)
    assert entry.name == APP_NAME and entry.connected_app_id == APP_ID
    assert tomllib.loads(text)["integration"][0]["name"] == APP_NAME
    config = tmp_path / "workbench.toml"
    config.write_text(f'[detect]\nintegrations = "{catalog}"\n')
    assert "catalog" in invoke("integrations", "--db", db, "--config", config)
    invoke("integrations", "--db", db, "--write-catalog", catalog, code=2)  # never overwrites


# 6. The SQL console cannot change the store, read other files or reach the network ---------------


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("COMMIT; DELETE FROM findings; DROP TABLE triage; BEGIN; SELECT 1", "exactly one statement"),
        ("DELETE FROM findings", "read-only"),
        ("COPY findings TO '{tmp}/out.csv'", "read-only"),
        ("EXPORT DATABASE '{tmp}/export'", "read-only"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("SELECT * FROM read_text('{tmp}/../../etc/hostname')", "disabled by configuration"),
        ("SET custom_extension_repository = 'http://127.0.0.1:9/'", "read-only"),
        ("INSTALL httpfs", "read-only"),
        ("ATTACH '{tmp}/other.duckdb' AS other", "read-only"),
        ("SELECT nextval('file_id_seq')", "read-only"),
        ("SELECT * FROM query('DELETE FROM findings')", "query failed"),
    ],
)
def test_console_refuses_what_is_not_one_read_only_query(
    db: Path, tmp_path: Path, sql: str, says: str
) -> None:
    before = count(db, "SELECT count(*) FROM findings")
    output = invoke("query", sql.format(tmp=tmp_path), "--db", db, code=2)
    assert "query failed" in output and says in output
    assert count(db, "SELECT count(*) FROM findings") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.duckdb", "hostile.duckdb-events"]


def test_console_streams_a_huge_result(db: Path) -> None:
    import time

    started = time.monotonic()
    result = runner.invoke(app, ["query", "SELECT * FROM range(20000000)", "--db", str(db), "--limit", "5"])
    assert result.exit_code == 0 and "5 of 20,000,000 rows" in result.stderr
    assert time.monotonic() - started < 10
    named = invoke("query", "findings_summary", "--db", db)  # named queries (and views) still work
    assert "volume" in named


async def test_tui_console_is_read_only(db: Path, tmp_path: Path, monkeypatch) -> None:
    from workbench.tui.app import WorkbenchApp

    monkeypatch.setenv("WORKBENCH_TUI_SETTINGS", str(tmp_path / "tui.json"))
    before = count(db, "SELECT count(*) FROM findings")
    app = WorkbenchApp(db)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("6")
        await settle(pilot, app)
        sql = app.query_one("#query-sql")
        sql.focus()
        for text in (
            "COMMIT; DELETE FROM findings; DROP TABLE triage; BEGIN; SELECT 1",
            "SELECT nextval('file_id_seq')",
            "SELECT * FROM read_csv('/etc/passwd')",
            f"COPY findings TO '{tmp_path}/out.csv'",
        ):
            sql.value = text
            await pilot.press("enter")
            await settle(pilot, app)
            assert str(app.query_one("#query-status").render()).startswith("query failed")
        sql.value = "SELECT * FROM range(20000000)"
        await pilot.press("enter")
        await settle(pilot, app)
        assert str(app.query_one("#query-status").render()).startswith("1,000 of 20,000,000 rows")
    app.store.close()
    assert count(db, "SELECT count(*) FROM findings") == before
    assert count(db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'triage'") == 1
    assert not (tmp_path / "out.csv").exists()


# 7. Secrets in notification URLs ------------------------------------------------------------------


def test_notify_urls_are_redacted_everywhere(db: Path) -> None:
    url = "http://alice:pa55word@127.0.0.1:9/hooks/T0/SECRETPATH?token=SECRETTOKEN#SECRETFRAG"
    output = invoke("scan", "--db", db, "--notify", f"webhook:{url}")
    assert "failed, will retry next run" in output and "webhook:http://127.0.0.1:9/…" in output
    con = duckdb.connect(str(db), read_only=True)
    stored = json.dumps(con.execute("SELECT * FROM notifications").fetchall(), default=str)
    con.close()
    for text in (output, stored):
        for secret in ("alice", "pa55word", "SECRETPATH", "SECRETTOKEN", "SECRETFRAG", "hooks"):
            assert secret not in text
    for bad in (
        "webhook:https://example.invalid/a b?token=SECRETTOKEN",
        "slack:https://u:SECRETTOKEN@/x",
        "pager:https://x/SECRETTOKEN",
        "email:https://x/SECRETTOKEN",
    ):
        output = invoke("scan", "--db", db, "--notify", bad, code=2)
        assert "SECRETTOKEN" not in output


def test_alerts_carry_inert_text(db: Path) -> None:
    from tests.investigate.test_investigate import Receiver

    receiver = Receiver()
    raw: list[bytes] = []
    try:
        invoke("scan", "--db", db, "--notify", f"webhook:{receiver.url}", "--notify", f"slack:{receiver.url}")
        webhook, slack = receiver.bodies
        raw = [json.dumps(b, ensure_ascii=False).encode() for b in receiver.bodies]
    finally:
        receiver.close()
    assert any("Evil\u241b]52" in f["entity_label"] for f in webhook["findings"])
    assert "Evil\u241b]52" in slack["text"] and "<" not in slack["text"].replace("&lt;", "")
    for body in raw:  # decoded, every string is still inert
        assert_inert(body.decode(), "alert")


# 8. Files are written whole, through unpredictable names, never following a planted link ----------


def test_outputs_never_follow_planted_links_or_leave_half_files(
    db: Path, tmp_path: Path, monkeypatch
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("incident.md", "backcheck.md"):
        (out / f"{name}.partial").symlink_to(victim)
    invoke("report", "-o", out / "incident.md", "--db", db)
    invoke(
        "backcheck", "--db", db, "--start", "2025-11-19", "--end", "2025-11-20", "-o", out / "backcheck.md"
    )
    assert victim.read_text() == "precious"
    assert (out / "incident.md").read_text().startswith("# ") and not (out / "incident.md").is_symlink()
    # A full disk: one line, exit 2, the previous file intact, no temporary file left behind.
    import workbench.files

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(workbench.files.os, "fsync", full)
    before = (out / "incident.md").read_text()
    output = invoke("report", "-o", out / "incident.md", "--db", db, code=2)
    assert "No space left on device" in output and len(output.strip().splitlines()) == 1
    assert (out / "incident.md").read_text() == before
    assert sorted(p.name for p in out.iterdir()) == [
        "backcheck.md",
        "backcheck.md.partial",
        "incident.md",
        "incident.md.partial",
    ]
    monkeypatch.undo()
    # A folder that cannot be written (a file in the way; root ignores permission bits).
    output = invoke("report", "-o", victim / "incident.md", "--db", db, code=2)
    assert "cannot write" in output and len(output.strip().splitlines()) == 1
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "Permission denied" in invoke("report", "-o", locked / "r.md", "--db", db, code=2)


def test_outputs_to_devices_and_fifos_are_written_in_place_never_replaced(db: Path, tmp_path: Path) -> None:
    import stat
    import threading

    full = Path("/dev/full")
    if full.exists() and stat.S_ISCHR(full.stat().st_mode):
        output = invoke("report", "-o", full, "--db", db, code=2)
        assert output.strip() == "error: cannot write /dev/full: No space left on device"
        assert stat.S_ISCHR(full.lstat().st_mode)  # still the device, not a regular file
    assert "wrote /dev/null" in invoke("report", "-o", "/dev/null", "--db", db)
    assert stat.S_ISCHR(Path("/dev/null").lstat().st_mode)
    # A FIFO, and a symlink to it: the reader gets the whole report; both stay what they were.
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "report-link.md"
    link.symlink_to(fifo)
    received: list[bytes] = []
    for target in (fifo, link):
        reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
        reader.start()
        assert f"wrote {target}" in invoke("report", "-o", target, "--db", db)
        reader.join(timeout=30)
        assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()
    assert len(received) == 2 and all(r.startswith(b"# Incident summary") for r in received), received
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# 9. Names from the Salesforce API never become path parts unchecked -------------------------------


def test_api_names_cannot_climb_out_of_the_archive(tmp_path: Path, monkeypatch) -> None:
    from tests.sources.fake_salesforce import ORG_ID, FakeSalesforce

    server = FakeSalesforce(tmp_path).start()
    try:
        body = quoted_csv(
            API_TOTAL_USAGE_HEADER, [api_row(ts="20251119100000.000", org=ORG_ID[:15])]
        ).encode()
        server.add("ApiTotalUsage", "2025-11-19", body)
        server.add("..", "2025-11-19", body)
        server.add("ApiTotalUsage/../../x", "2025-11-19", body)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_bundle))
        monkeypatch.setenv("SF_ACCESS_TOKEN", server.issue())
        db = tmp_path / "w.duckdb"
        output = invoke("fetch", "--instance-url", server.url, "--db", db, "--since", "2025-11-01", code=2)
    finally:
        server.stop()
    assert output.count("refused") == 2 and "EventType '..' is not a plain name" in output
    archived = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.csv.gz"))
    assert len(archived) == 1 and archived[0].parts[0] == "w-archive"
    assert gzip.decompress((tmp_path / archived[0]).read_bytes()).startswith(b'"EVENT_TYPE"')
    assert [p.name for p in (tmp_path / "w-archive").iterdir()] and not list(tmp_path.glob("*.csv.gz"))
