"""TUI benchmark: the app headless (Textual's Pilot) on a ~5.5M-event store with >1,000 findings.

Run: uv run python tests/benchmarks/bench_tui.py --work DIR [--scale 15] [--days 45]
     [--store PATH] [--pages 25] [--screenshot PATH]

The store: `--store PATH` (an ingested store, e.g. the one `bench_scan.py --work DIR` leaves as
DIR/scan.duckdb) is copied, never modified; else DIR/events.duckdb is used, built the first time
the way bench_scan.py builds its store (`workbench generate` ApiTotalUsage, Login and BulkApi2 at
--scale 15, about 5.5M events over 45 days, then `workbench ingest`; generating takes minutes).

The findings: the project's detectors are calm (a few dozen findings on 5.5M events), so the
benchmark scans a copy of the store (DIR/tui.duckdb) with a DELIBERATELY STRICT configuration it
writes to DIR/strict/: an integration catalog that declares every connected app and every user
seen to work only on Sundays from 02:00 to 03:00 UTC, apps only from 192.0.2.1/32, and
`[detect.off_hours]`/`[detect.non_allowlisted_ip]` min_calls = 1. Every other day, hour and
address then breaks a declaration, so `off_hours` and `non_allowlisted_ip` report well over
1,000 real findings (scored and stored by `workbench scan --all`, nothing inserted by hand).

Measured, in one table with the targets:
- time to the first paint, and to the first incident list (the Anomalies table populated);
- drill-down to raw events: `enter` on the focused hour of the Timeline, and on the busiest
  address of the IPs pane, until the first page of events shows;
- the longest event-loop stall (a 10 ms timer's longest gap, minus 10 ms) while switching panes
  with keys 1-7 (twice round: first visits load, later ones show), and while paging the busiest
  address's raw events (`]` and `pagedown` --pages times, each page waited for, then `[`/`pageup`
  back to the first); and the slowest page turn seen from the key to the rows;
- a deep page (two thirds into the busiest address's events) read by key as the screen does,
  beside the same page by LIMIT/OFFSET (the `raw_events_page` named query).
Targets: first incident list <= 2 s, a drill-down or page turn <= 1 s, stalls < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from workbench import views
from workbench.store.db import open_store
from workbench.store.queries import load_query
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.raw_events import RawEventsScreen
from workbench.tui.widgets.page_table import PageTable

ROOT = Path(__file__).resolve().parents[2]
STALL_TARGET_MS = 100
FIRST_LIST_TARGET_S = 2.0
DRILL_TARGET_S = 1.0
TICK = 0.01
STRICT_NOTE = (
    "findings from a deliberately strict catalog (every app and user declared to work Sundays "
    "02:00-03:00 UTC only, apps only from 192.0.2.1/32) and off_hours/non_allowlisted_ip min_calls = 1"
)


# --- the store -----------------------------------------------------------------------------------


def build_events_store(work: Path, scale: float, days: int) -> Path:
    """DIR/events.duckdb: generated and ingested once (as bench_scan.py builds its store)."""
    logs, db = work / "logs", work / "events.duckdb"
    exe = [sys.executable, "-m", "workbench.cli"]
    if db.exists():
        return db
    if not logs.exists():
        print(f"generating {days} days at scale {scale} into {logs} (minutes at scale 15) ...", flush=True)
        started = time.perf_counter()
        types = [arg for t in ("ApiTotalUsage", "Login", "BulkApi2") for arg in ("--event-type", t)]
        command = [*exe, "generate", str(logs), "--days", str(days), "--scale", str(scale), *types]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    print(f"ingesting {logs} ...", flush=True)
    started = time.perf_counter()
    subprocess.run([*exe, "ingest", str(logs), "--db", str(db)], check=True, stdout=subprocess.DEVNULL)
    print(f"  ingested in {time.perf_counter() - started:.1f} s", flush=True)
    return db


def copy_store(source: Path, target: Path) -> None:
    """Copy a store (the DuckDB file, its WAL and an events folder beside it, if any)."""
    for suffix in ("", ".wal", "-events"):
        new = Path(f"{target}{suffix}")
        if new.is_dir():
            shutil.rmtree(new)
        else:
            new.unlink(missing_ok=True)
        src = Path(f"{source}{suffix}")
        if src.is_dir():
            shutil.copytree(src, new)
        elif src.exists():
            shutil.copy2(src, new)


def write_strict_config(db: Path, folder: Path) -> Path:
    """A settings file and a catalog that declare every app and user seen in DB to work only on
    Sundays 02:00-03:00 UTC (apps only from 192.0.2.1/32): the sensitive configuration."""
    with duckdb.connect(str(db), read_only=True) as con:
        apps = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT left(connected_app_id, 15) FROM hourly_activity "
                "WHERE connected_app_id IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
        users = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT left(user_id, 15) FROM hourly_activity "
                "WHERE connected_app_id IS NULL AND user_id IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
    folder.mkdir(parents=True, exist_ok=True)
    strict = 'expected_hours = "02:00-03:00"\nexpected_weekdays = ["Sun"]\n'
    entries = [
        f'[[integration]]\nname = "strict app {n}"\nconnected_app_id = "{app}"\n{strict}'
        'egress_cidrs = ["192.0.2.1/32"]\n'
        for n, app in enumerate(apps, 1)
    ]
    entries += [
        f'[[integration]]\nname = "strict user {n}"\nuser = "{user}"\n{strict}'
        for n, user in enumerate(users, 1)
    ]
    (folder / "integrations.toml").write_text("\n".join(entries))
    config = folder / "workbench.toml"
    config.write_text(
        'integrations = "integrations.toml"\n\n'
        "[detect.off_hours]\nmin_calls = 1\n\n[detect.non_allowlisted_ip]\nmin_calls = 1\n"
    )
    return config


def build_tui_store(source: Path, work: Path) -> Path:
    """DIR/tui.duckdb: a copy of SOURCE scanned with the strict configuration."""
    db = work / "tui.duckdb"
    copy_store(source, db)
    config = write_strict_config(db, work / "strict")
    print("scanning the copy with the strict configuration ...", flush=True)
    command = [
        sys.executable,
        "-m",
        "workbench.cli",
        "scan",
        "--all",
        "--db",
        str(db),
        "--config",
        str(config),
    ]
    subprocess.run([*command, "--format", "json"], check=True, stdout=subprocess.DEVNULL)
    return db


# --- measuring -----------------------------------------------------------------------------------


class StallMeter:
    """The longest gap between the ticks of a 10 ms timer on the app's event loop while on."""

    def __init__(self, app: WorkbenchApp) -> None:
        self.on = False
        self.longest = 0.0
        self.last = time.perf_counter()
        app.set_interval(TICK, self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.on:
            self.longest = max(self.longest, now - self.last - TICK)
        self.last = now

    def start(self) -> None:
        self.on, self.longest, self.last = True, 0.0, time.perf_counter()

    def stop(self) -> float:
        """The longest stall since start, in seconds."""
        self.on = False
        return max(self.longest, 0.0)


async def settled(app: WorkbenchApp) -> None:
    """Wait for the workers (an exclusive worker replaced by a newer one counts as done)."""
    while True:
        try:
            await app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            continue


async def until(condition: Callable[[], bool], timeout: float = 120.0) -> float:
    """Wait (polling every 2 ms, so the event loop runs) until CONDITION holds; the seconds waited."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the TUI did not get there in time")
        await asyncio.sleep(0.002)
    return time.perf_counter() - started


def raw_rows(app: WorkbenchApp) -> int:
    """Rows in the raw events table (0 until the screen is composed)."""
    found = list(app.screen.query("#raw-events").results(PageTable))
    return found[0].row_count if found else 0


def raw_status(app: WorkbenchApp) -> str:
    return str(app.screen.query_one("#raw-status").render())


def first_cell(app: WorkbenchApp) -> str:
    table = app.screen.query_one("#raw-events", PageTable)
    return "|".join(str(c) for c in table.get_row_at(0)) if table.row_count else ""


async def drill(pilot: Pilot[None], app: WorkbenchApp) -> float:
    """Press enter on the focused table; seconds until the raw events' first page shows."""
    started = time.perf_counter()
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, RawEventsScreen) and raw_rows(app) > 0)
    return time.perf_counter() - started


async def turn_page(pilot: Pilot[None], app: WorkbenchApp, key: str) -> float:
    """Press a paging key; seconds until other rows show and the screen is idle again."""
    before = (first_cell(app), raw_status(app))
    started = time.perf_counter()
    await pilot.press(key)
    await until(
        lambda: (first_cell(app), raw_status(app)) != before and not getattr(app.screen, "busy", False)
    )
    return time.perf_counter() - started


async def measure(db: Path, pages: int, screenshot: Path | None) -> dict[str, float | int | str]:
    started = time.perf_counter()
    app = WorkbenchApp(db)
    figures: dict[str, float | int | str] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        figures["first paint"] = time.perf_counter() - started
        anomalies = app.query_one("#anomalies", PageTable)
        await until(lambda: anomalies.row_count > 0)
        figures["first incident list"] = time.perf_counter() - started
        await settled(app)
        pane = app.pane("anomalies")
        figures["findings"] = len(getattr(pane, "every", []))
        figures["incidents"] = len(getattr(pane, "incidents", []))
        figures["anomaly rows"] = anomalies.row_count
        meter = StallMeter(app)

        switches = []  # each key's longest stall: which pane (and visit) the longest one is
        for key in "23456712345671":
            meter.start()
            await pilot.press(key)
            await asyncio.sleep(0.05)
            await settled(app)
            await pilot.pause()
            switches.append(f"{key}:{meter.stop() * 1000:.0f}")
        figures["stall switching panes"] = max(float(s.split(":")[1]) for s in switches) / 1000
        figures["stalls by key"] = " ".join(switches)

        # Timeline: enter on the focused hour of the busiest entity.
        await pilot.press("3")
        await settled(app)
        hours = app.query_one("#timeline-hours", PageTable)
        await until(lambda: hours.row_count > 0)
        hours.focus()
        meter.start()
        figures["drill timeline hour"] = await drill(pilot, app)
        figures["timeline hour events"] = raw_status(app)
        await settled(app)
        await pilot.press("q")
        await pilot.pause()

        # IPs: enter on the busiest address (the largest scope: a good part of the store).
        await pilot.press("4")
        await settled(app)
        ips = app.query_one("#ips", PageTable)
        await until(lambda: ips.row_count > 0)
        counts = [int(str(ips.get_row_at(r)[7]).replace(",", "") or 0) for r in range(ips.row_count)]
        busiest = counts.index(max(counts))
        ips.move_cursor(row=busiest)
        ips.focus()
        await pilot.pause()
        figures["busiest address events"] = max(counts)
        figures["busiest address"] = str(ips.get_row_at(busiest)[0])
        figures["drill busiest address"] = await drill(pilot, app)
        await settled(app)
        figures["stall drilling down"] = meter.stop()

        turns: list[float] = []
        meter.start()
        for n in range(pages):
            turns.append(await turn_page(pilot, app, "right_square_bracket" if n % 2 else "pagedown"))
        figures["deepest page"] = raw_status(app).split(";")[0]
        for n in range(pages):
            turns.append(await turn_page(pilot, app, "left_square_bracket" if n % 2 else "pageup"))
        await settled(app)
        figures["stall paging raw events"] = meter.stop()
        figures["page turn median"] = statistics.median(turns)
        figures["page turn slowest"] = max(turns)
        figures["back on"] = raw_status(app).split(";")[0]
        await pilot.press("q")
        await pilot.pause()
        if screenshot:
            await pilot.press("2")
            await settled(app)
            await pilot.pause()
            screenshot.write_text(app.export_screenshot())
    app.store.close()
    with duckdb.connect(str(db), read_only=True) as con:
        figures["events"] = (con.execute("SELECT count(*) FROM events").fetchone() or (0,))[0]
    depth = int(figures["busiest address events"]) * 2 // 3
    figures["deep row"] = depth
    figures["deep page by key"], figures["deep page by offset"] = deep_page(
        db, str(figures["busiest address"]), depth
    )
    return figures


def deep_page(db: Path, ip: str, depth: int) -> tuple[float, float]:
    """Seconds to read the page after row DEPTH of IP's events: by key (what the screen does),
    and by LIMIT/OFFSET (the `raw_events_page` named query), best of three each."""
    scope = views.EventScope(ip=ip)
    params = {"entity": None, "ip": ip, "start": None, "end": None, "limit": 201, "offset": depth}
    with open_store(db, read_only=True) as con:
        key_sql = (
            "SELECT ts, coalesce(request_id, ''), event_type, org_id, coalesce(content_key, '') FROM events "
            "WHERE effective_ip(client_ip, source_ip) = $ip ORDER BY ALL LIMIT 1 OFFSET $depth"
        )
        key = con.execute(key_sql, {"ip": ip, "depth": depth - 1}).fetchone()
        keyset, offset = [], []
        for _ in range(3):
            started = time.perf_counter()
            views.raw_events(con, scope, 200, after=tuple(key) if key else None)  # type: ignore[arg-type]
            keyset.append(time.perf_counter() - started)
            started = time.perf_counter()
            con.execute(load_query("raw_events_page"), params).fetchall()
            offset.append(time.perf_counter() - started)
    return min(keyset), min(offset)


def report(f: dict[str, float | int | str], source: Path) -> None:
    ms = 1000

    def verdict(value: float, target: float) -> str:
        return "ok" if value <= target else "OVER"

    print(f"\nstore: {f['events']:,} events (copied from {source}); {f['findings']:,} findings in")
    print(f"{f['incidents']:,} incidents ({f['anomaly rows']:,} rows in the Anomalies table)")
    print(f"  {STRICT_NOTE}")
    print(
        f"busiest address: {f['busiest address events']:,} events; paged to {f['deepest page']} and back to"
    )
    print(f"{f['back on']}")
    print(f"longest stall (ms) after each pane key, 1-7 twice: {f['stalls by key']}\n")
    rows = [
        ("first paint", f"{f['first paint']:.2f} s", "", ""),
        (
            "first incident list (Anomalies populated)",
            f"{f['first incident list']:.2f} s",
            f"<= {FIRST_LIST_TARGET_S:.0f} s",
            verdict(float(f["first incident list"]), FIRST_LIST_TARGET_S),
        ),
        (
            "drill-down: Timeline hour -> first page of raw events",
            f"{f['drill timeline hour']:.2f} s",
            f"<= {DRILL_TARGET_S:.0f} s",
            verdict(float(f["drill timeline hour"]), DRILL_TARGET_S),
        ),
        (
            "drill-down: busiest address -> first page of raw events",
            f"{f['drill busiest address']:.2f} s",
            f"<= {DRILL_TARGET_S:.0f} s",
            verdict(float(f["drill busiest address"]), DRILL_TARGET_S),
        ),
        (
            "page turn (key -> rows), median / slowest",
            f"{float(f['page turn median']) * ms:.0f} / {float(f['page turn slowest']) * ms:.0f} ms",
            f"<= {DRILL_TARGET_S:.0f} s",
            verdict(float(f["page turn slowest"]), DRILL_TARGET_S),
        ),
    ]
    rows.append(
        (
            f"a deep page (after row {int(f['deep row']):,} of the busiest address), by key",
            f"{float(f['deep page by key']) * ms:.0f} ms",
            f"(LIMIT/OFFSET: {float(f['deep page by offset']) * ms:.0f} ms)",
            "",
        )
    )
    for label, key in (
        ("longest stall switching panes (1-7, twice)", "stall switching panes"),
        ("longest stall drilling down (both)", "stall drilling down"),
        ("longest stall paging raw events (on and back)", "stall paging raw events"),
    ):
        value = float(f[key])
        rows.append(
            (
                label,
                f"{value * ms:.0f} ms",
                f"< {STALL_TARGET_MS} ms",
                verdict(value * ms, STALL_TARGET_MS - 1),
            )
        )
    print("| figure | measured | target | |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, help="keep (or reuse) the logs and the stores in this folder")
    parser.add_argument("--store", type=Path, help="an ingested store to copy (never modified)")
    parser.add_argument("--scale", type=float, default=15.0, help="15 gives about 5.5M events; 1 a quick run")
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--pages", type=int, default=25, help="raw-event pages to turn on (then back)")
    parser.add_argument("--screenshot", type=Path, help="also write an SVG of the Anomalies pane here")
    args = parser.parse_args()
    # Timing as on a user's machine: Python keeps its compiled bytecode between runs.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ.setdefault("WORKBENCH_TUI_SETTINGS", str(Path(tempfile.mkdtemp()) / "tui.json"))
    work = args.work or Path(tempfile.mkdtemp(prefix="workbench-bench-tui-"))
    work.mkdir(parents=True, exist_ok=True)
    source = args.store or build_events_store(work, args.scale, args.days)
    db = build_tui_store(source, work)
    figures = asyncio.run(measure(db, args.pages, args.screenshot))
    report(figures, source)


if __name__ == "__main__":
    main()
