"""Ingest benchmark: `workbench ingest` against DuckDB's bare read_csv over the same files.

Run: uv run python tests/benchmarks/bench_ingest.py [--scale 13.5] [--days 45] [--keep DIR] [--repeat 3]
Prints, in one run on the same files: the ingest's time and DuckDB's bare `CREATE TABLE AS
read_csv` (wall and CPU seconds; medians of alternating rounds, with each side's range), their
ratio, rows/second, the ingest's peak memory (RSS of the child), the store's size (DuckDB file
plus event partitions) against the CSV's, and a re-ingest of the same files.
The Spark path's scaling is measured by bench_aggregate.py.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from statistics import median

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


def spread(values: Iterable[float]) -> str:
    """The lowest and highest of VALUES, in seconds."""
    ordered = sorted(values)
    return f"{ordered[0]:.1f}-{ordered[-1]:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=13.5, help="13.5 gives about 5M rows")
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--keep", type=Path, help="keep the logs and DB in this folder")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds of each (medians)")
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
    bare_db = work / "bare.duckdb"
    file_list = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    bare_sql = f"CREATE TABLE t AS SELECT * FROM read_csv({file_list}, union_by_name = true)"
    bare_cmd = [
        sys.executable,
        "-c",
        f"import duckdb; duckdb.connect({str(bare_db)!r}).execute({bare_sql!r})",
    ]
    for f in files:  # into the page cache, so that neither side pays the disk reads of the other
        Path(f).read_bytes()

    # Alternating rounds, reported as medians: on a shared machine one run of either can be off
    # by 10-30%.
    ingests, agains, bares = [], [], []
    for _ in range(args.repeat):
        db.unlink(missing_ok=True)
        shutil.rmtree(events_folder, ignore_errors=True)
        ingests.append(run([*exe, "ingest", str(logs), "--db", str(db)]))
        agains.append(run([*exe, "ingest", str(logs), "--db", str(db)])[0])  # every file already there
        bare_db.unlink(missing_ok=True)
        bares.append(run(bare_cmd))
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    stored = db.stat().st_size + sum(p.stat().st_size for p in events_folder.rglob("*") if p.is_file())

    ingest_s, ingest_cpu = median(r[0] for r in ingests), median(r[2] for r in ingests)
    ingest_peak = max(r[1] for r in ingests)
    bare_s, bare_cpu = median(r[0] for r in bares), median(r[2] for r in bares)
    again_s = median(agains)
    ratios = sorted(i[0] / b[0] for i, b in zip(ingests, bares, strict=True))

    print(
        f"files: {len(files)}, {size / 1e6:.0f} MB of CSV, {rows:,} events; medians of {args.repeat} rounds\n"
    )
    print("| what | figure | target |")
    print("|---|---|---|")
    print(
        f"| workbench ingest | {ingest_s:.1f} s ({rows / ingest_s:,.0f} rows/s), {ingest_cpu:.1f} CPU s "
        f"(rounds: {spread(r[0] for r in ingests)}) | |"
    )
    print(
        f"| DuckDB bare `CREATE TABLE AS read_csv` | {bare_s:.1f} s, {bare_cpu:.1f} CPU s "
        f"(rounds: {spread(r[0] for r in bares)}) | |"
    )
    print(
        f"| ratio ingest / bare | {ingest_s / bare_s:.2f}x ({ingest_cpu / bare_cpu:.2f}x in CPU time; "
        f"rounds: {ratios[0]:.2f}-{ratios[-1]:.2f}x) | <= 0.6x (goal 0.4x) |"
    )
    print(f"| peak memory of the ingest | {ingest_peak / 1e6:,.0f} MB (the highest round) | <= 1,500 MB |")
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
