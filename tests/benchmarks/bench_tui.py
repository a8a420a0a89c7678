"""TUI benchmark: the app headless on the ~5M-event store of the ingest benchmark.

Run: uv run python tests/benchmarks/bench_tui.py [--work DIR]
With --work pointing at a folder kept by `bench_ingest.py --keep DIR` (and scanned, e.g. by
bench_scan.py) its store is used; otherwise the ingest benchmark and a scan run first. Prints the
time to first paint, the time until the anomaly table is populated, and the longest event-loop
stall while switching through every tab. Also writes docs/anomalies.svg (the Anomalies pane).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual.worker import WorkerCancelled

from workbench.store.db import open_store
from workbench.tui.app import WorkbenchApp

ROOT = Path(__file__).resolve().parents[2]


async def settled(app: WorkbenchApp) -> None:
    """Wait for the workers (an exclusive worker replaced by a newer one counts as done)."""
    while True:
        try:
            await app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            continue


async def measure(db: Path, screenshot: Path | None) -> None:
    started = time.perf_counter()
    app = WorkbenchApp(db)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    async with app.run_test(size=(120, 36)) as pilot:
        first_paint = time.perf_counter() - started
        table = app.query_one("#anomalies")
        while table.row_count == 0 and time.perf_counter() - started < 60:
            await asyncio.sleep(0.01)
        anomalies_ready = time.perf_counter() - started
        await settled(app)
        app.set_interval(0.01, tick)
        last[0] = time.perf_counter()
        gaps.clear()
        for key in "2345671":
            await pilot.press(key)
            await asyncio.sleep(0.05)
            await settled(app)
            await pilot.pause()
        stall = max(gaps, default=0.01) - 0.01
        if screenshot:
            await pilot.press("2")
            await settled(app)
            await pilot.pause()
            screenshot.write_text(app.export_screenshot())
    app.store.close()
    events = open_store(db).execute("SELECT count(*) FROM events").fetchall()[0][0]
    print(f"store: {events:,} events, {table.row_count} findings")
    print(f"first paint: {first_paint:.2f} s")
    print(f"anomaly table populated: {anomalies_ready:.2f} s (target <= 2 s)")
    print(f"longest event-loop stall while switching all tabs: {stall * 1000:.0f} ms (target <= 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, help="folder kept by bench_ingest.py --keep")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "docs" / "anomalies.svg")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    db = work / "ingest.duckdb"
    if not db.exists():
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("bench_scan.py")), "--work", str(work)], check=True
        )
    asyncio.run(measure(db, args.screenshot))


if __name__ == "__main__":
    main()
