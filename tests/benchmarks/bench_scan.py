"""Scan benchmark: `workbench scan --all` against the pandas notebook peer, side by side in one run.

Run: uv run python tests/benchmarks/bench_scan.py [--work DIR] [--scale 15] [--days 45]
     [--peer PATH_TO/pandas_peer.py]

It generates ApiTotalUsage, Login and BulkApi2 logs (about 5.6M events at the default scale) as
plain CSV, ingests them once, then times in the same run:
- the peer: `pandas_peer.py LOGS --quiet --engine pyarrow` (CSV -> findings, five detectors);
- `workbench scan --all` on the store (every day with history, 23 detectors).
Each side runs twice and the second run is reported: the first warms the page cache and writes
Python's compiled bytecode, as on any machine after the first use.
Each runs in a fresh process; wall time and peak RSS are measured around it. The peer lives in
the workplace's shared folder (../shared/bench/pandas_peer.py); without it only the scan runs.
Target: scan <= 0.2x the peer's time (goal 0.1x), peak memory <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import run

DEFAULT_PEER = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "pandas_peer.py"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, help="keep (or reuse) the logs and the store in this folder")
    parser.add_argument("--scale", type=float, default=15.0, help="15 gives about 5.6M events")
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--peer", type=Path, default=DEFAULT_PEER)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="workbench-bench-scan-"))
    logs, db = work / "logs", work / "scan.duckdb"
    exe = [sys.executable, "-m", "workbench.cli"]
    if not logs.exists():
        print(f"generating {args.days} days at scale {args.scale} into {logs} ...", flush=True)
        started = time.perf_counter()
        command = [*exe, "generate", str(logs), "--days", str(args.days), "--scale", str(args.scale)]
        types = [arg for t in ("ApiTotalUsage", "Login", "BulkApi2") for arg in ("--event-type", t)]
        subprocess.run([*command, *types], check=True, stdout=subprocess.DEVNULL)
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    if not db.exists():
        ingest_s, _, _ = run([*exe, "ingest", str(logs), "--db", str(db)])
        print(f"ingested in {ingest_s:.1f} s", flush=True)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        (events,) = con.execute("SELECT count(*) FROM events").fetchone() or (0,)
    print(f"{events:,} events\n")

    # As on a user's machine, Python keeps compiled bytecode between runs (some sandboxes switch
    # that off, which would charge both sides a second of compiling on every run).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    peer = None
    if args.peer.exists():
        command = ["uv", "run", "--with", "pandas", "--with", "pyarrow", "python", str(args.peer)]
        peer_run = [*command, str(logs), "--quiet", "--engine", "pyarrow"]
        run(peer_run)  # warm-up: the page cache and compiled bytecode, as for the scan below
        peer = run(peer_run)
    scan = [*exe, "scan", "--all", "--db", str(db), "--format", "json"]
    run(scan)  # warm-up: the page cache, bytecode, and the store's findings exist from here on
    scanned = run(scan)

    print("| run | what | wall time | CPU time | peak memory |")
    print("|---|---|---|---|---|")
    rows = [("pandas peer", "CSV -> findings, 5 detectors", peer)] if peer else []
    rows.append(("workbench scan --all", "store -> findings, 23 detectors", scanned))
    for name, what, (wall, peak, cpu) in rows:
        print(f"| {name} | {what} | {wall:.2f} s | {cpu:.2f} s | {peak / 1e6:,.0f} MB |")
    if peer:
        # On a shared machine the CPU ratio moves less than the wall one; the target is on wall time.
        print(
            f"\nratio scan / peer: {scanned[0] / peer[0]:.2f}x wall, {scanned[2] / peer[2]:.2f}x CPU "
            "(target <= 0.2x, goal 0.1x; peak <= 1.5 GB)"
        )
    else:
        print(f"\n(no peer at {args.peer}: ratio not measured)")


if __name__ == "__main__":
    main()
