"""Scan benchmark: the full detector suite over the ~5M-event store of the ingest benchmark.

Run: uv run python tests/benchmarks/bench_scan.py [--work DIR]
With --work pointing at a folder kept by `bench_ingest.py --keep DIR`, its store and ingest time
are reused; otherwise the ingest benchmark runs first. Prints the scan time (default window, the
last 7 days, and the whole 45-day history) next to the ingest time, the ratio and peak memory.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, help="folder kept by bench_ingest.py --keep")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    db = work / "ingest.duckdb"
    if not (work / "ingest_seconds.txt").exists():
        subprocess.run([sys.executable, str(Path(__file__).with_name("bench_ingest.py")), "--keep", str(work)],
                       check=True)  # fmt: skip
    ingest_s = float((work / "ingest_seconds.txt").read_text())
    exe = [sys.executable, "-m", "workbench.cli", "scan", "--db", str(db), "--format", "json"]
    window_s, window_peak = run(exe)
    full_s, full_peak = run([*exe, "--since", "2025-10-08"])
    print(f"ingest of the store: {ingest_s:.1f} s")
    print(
        f"scan, last 7 days: {window_s:.1f} s (ratio to ingest {window_s / ingest_s:.2f}), "
        f"peak memory {window_peak / 1e6:.0f} MB"
    )
    print(
        f"scan, all 45 days: {full_s:.1f} s (ratio to ingest {full_s / ingest_s:.2f}), "
        f"peak memory {full_peak / 1e6:.0f} MB"
    )
    print("target: under 0.5x the ingest time, peak memory under 2 GB")


if __name__ == "__main__":
    main()
