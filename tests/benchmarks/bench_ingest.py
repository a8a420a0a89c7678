"""Ingest benchmark: `workbench ingest` against DuckDB's bare read_csv over the same files.

Run: uv run python tests/benchmarks/bench_ingest.py [--scale 13.5] [--days 45] [--keep DIR]
Prints, in one run on the same files: the ingest's time and DuckDB's bare `CREATE TABLE AS
read_csv` (wall and CPU seconds), their ratio, rows/second, the ingest's peak memory (RSS of the child), the store's size
(DuckDB file plus event partitions) against the CSV's, and a re-ingest of the same files.
The Spark path's scaling is measured by bench_aggregate.py.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

_MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); used = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(used.ru_maxrss, used.ru_utime + used.ru_stime)"
)


def run(cmd: list[str]) -> tuple[float, int, float]:
    """Run a command in a fresh wrapper process; return wall seconds, its peak RSS in bytes and
    the CPU seconds it used (on a shared machine the CPU ratio moves less than the wall one)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    peak, cpu = out.stdout.split()
    return elapsed, int(peak) * 1024, float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=13.5, help="13.5 gives about 5M rows")
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--keep", type=Path, help="keep the logs and DB in this folder")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    logs, db = work / "logs", work / "ingest.duckdb"
    exe = [sys.executable, "-m", "workbench.cli"]
    if not logs.exists():
        print(f"generating {args.days} days at scale {args.scale} into {logs} ...", flush=True)
        started = time.perf_counter()
        subprocess.run(
            [
                *exe,
                "generate",
                str(logs),
                "--days",
                str(args.days),
                "--scale",
                str(args.scale),
                "--event-type",
                "ApiTotalUsage",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"  generated in {time.perf_counter() - started:.1f} s")
    files = sorted(str(p) for p in logs.rglob("*.csv"))
    size = sum(Path(f).stat().st_size for f in files)
    events_folder = db.with_name(db.name + "-events")
    db.unlink(missing_ok=True)
    shutil.rmtree(events_folder, ignore_errors=True)

    ingest_s, ingest_peak, ingest_cpu = run([*exe, "ingest", str(logs), "--db", str(db)])
    again_s, _, _ = run([*exe, "ingest", str(logs), "--db", str(db)])  # every file already there
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    stored = db.stat().st_size + sum(p.stat().st_size for p in events_folder.rglob("*") if p.is_file())

    bare_db = work / "bare.duckdb"
    bare_db.unlink(missing_ok=True)
    file_list = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    bare_sql = f"CREATE TABLE t AS SELECT * FROM read_csv({file_list}, union_by_name = true)"
    bare_s, _, bare_cpu = run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(bare_db)!r}).execute({bare_sql!r})"]
    )

    print(f"files: {len(files)}, {size / 1e6:.0f} MB of CSV, {rows:,} events\n")
    print("| what | figure | target |")
    print("|---|---|---|")
    print(
        f"| workbench ingest | {ingest_s:.1f} s ({rows / ingest_s:,.0f} rows/s), {ingest_cpu:.1f} CPU s | |"
    )
    print(f"| DuckDB bare `CREATE TABLE AS read_csv` | {bare_s:.1f} s, {bare_cpu:.1f} CPU s | |")
    print(
        f"| ratio ingest / bare | {ingest_s / bare_s:.2f}x ({ingest_cpu / bare_cpu:.2f}x in CPU time) "
        "| <= 0.6x (goal 0.4x) |"
    )
    print(f"| peak memory of the ingest | {ingest_peak / 1e6:,.0f} MB | <= 1,500 MB |")
    print(
        f"| store (DuckDB file + partitions) | {stored / 1e6:,.0f} MB = {stored / size:.3f}x the CSV | <= 0.15x |"
    )
    per_100 = again_s / len(files) * 100
    print(
        f"| re-ingest of the same {len(files)} files | {again_s:.1f} s ({per_100:.2f} s per 100 files) | < 1 s per 100 |"
    )
    (work / "ingest_seconds.txt").write_text(f"{ingest_s:.3f}\n")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
