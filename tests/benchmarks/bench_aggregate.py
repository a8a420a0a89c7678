"""Time the hourly aggregation (queries/portable/*.sql) on DuckDB and on Spark local mode over 1x,
2x and 4x the events, and print a table with rows/s per core.

Run: uv run --extra spark python tests/benchmarks/bench_aggregate.py [--scale 2.7] [--days 45]
     [--factors 1 2 4] [--keep DIR] [--no-spark]

The 1x data is `workbench generate` (ApiTotalUsage, 2 orgs; scale 2.7 x 45 days is about 1M
events) ingested with `workbench ingest`, whose Parquet partitions are the input. 2x and 4x copy
those partitions with the org ids shifted (a copy per extra org pair), so every copy aggregates
into its own rows, as more orgs or busier days would. Spark runs in local mode on every core of
this machine with one SessionSession; its first aggregation (JVM start, code generation) is timed
apart and left out of the table, as a long-running cluster does not pay it per job.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from workbench.store.aggregate import default_source, duckdb_aggregates, spark_aggregates

EXE = [sys.executable, "-m", "workbench.cli"]


def make_store(work: Path, scale: float, days: int) -> Path:
    """Generate and ingest the 1x data (kept in WORK between runs)."""
    logs, db = work / "logs", work / "bench.duckdb"
    if not logs.exists():
        print(f"generating {days} days at scale {scale} into {logs} ...", flush=True)
        subprocess.run(
            [
                *EXE,
                "generate",
                str(logs),
                "--days",
                str(days),
                "--scale",
                str(scale),
                "--event-type",
                "ApiTotalUsage",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if not db.exists():
        print("ingesting ...", flush=True)
        subprocess.run([*EXE, "ingest", str(logs), "--db", str(db)], check=True, stdout=subprocess.DEVNULL)
    return db


def replicate(source: Path, target: Path, factor: int) -> int:
    """TARGET holds the partitions at SOURCE FACTOR times, each copy under shifted org ids; the
    number of events written."""
    if target.exists():
        con = duckdb.connect()
        return int(
            con.execute(f"SELECT count(*) FROM read_parquet('{target}/*/*/*/*.parquet')").fetchall()[0][0]
        )
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    files = (
        f"read_parquet('{source}/*/*/*/*.parquet', hive_partitioning = true, hive_types = {{'day': DATE}})"
    )
    copies = " UNION ALL ".join(
        f"SELECT * EXCLUDE (org, org_id, event_type, day), org_id || '{'' if k == 0 else f'-{k}'}' AS org_id, "
        f"org_id || '{'' if k == 0 else f'-{k}'}' AS org, event_type, day FROM {files} WHERE org <> '_'"
        for k in range(factor)
    )
    con.execute(
        f"COPY ({copies}) TO '{target}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (org, event_type, day))"
    )
    placeholder = target / "org=_" / "event_type=_" / "day=1970-01-01"
    placeholder.mkdir(parents=True)
    con.execute(
        f"COPY (SELECT * EXCLUDE (org, event_type, day) FROM {files} LIMIT 0) "
        f"TO '{placeholder / 'placeholder.parquet'}' (FORMAT parquet, COMPRESSION zstd)"
    )
    return int(con.execute(f"SELECT count(*) FROM read_parquet('{target}/*/*/*/*.parquet')").fetchall()[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=2.7, help="2.7 x 45 days gives about 1M events")
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--keep", type=Path, help="keep the logs, store and copies in this folder")
    parser.add_argument("--no-spark", action="store_true", help="time DuckDB only")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="workbench-bench-aggregate-"))
    work.mkdir(parents=True, exist_ok=True)
    db = make_store(work, args.scale, args.days)
    base = Path(default_source(db))
    cores = os.cpu_count() or 1
    inputs = {factor: (work / f"events-{factor}x", 0) for factor in args.factors}
    for factor in args.factors:
        inputs[factor] = (inputs[factor][0], replicate(base, inputs[factor][0], factor))

    session = None
    if not args.no_spark:
        from pyspark.sql import SparkSession

        started = time.perf_counter()
        session = (
            SparkSession.builder.master(f"local[{cores}]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "8g")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        start_s = time.perf_counter() - started
        first = spark_aggregates(str(inputs[args.factors[0]][0]), session=session)
        print(
            f"Spark {session.version}: session start {start_s:.1f} s, first (cold) aggregation {first.seconds:.1f} s"
        )

    print(f"\n{cores} cores; DuckDB {duckdb.__version__}; rows/s per core = events / seconds / {cores}\n")
    print(
        "| data | events | aggregate rows | DuckDB s | DuckDB rows/s/core | Spark local s | Spark rows/s/core |"
    )
    print("|---|---|---|---|---|---|---|")
    for factor in args.factors:
        folder, events = inputs[factor]
        on_duckdb = duckdb_aggregates(str(folder))
        rows = sum(t.num_rows for t in on_duckdb.tables.values())
        spark_cells = "- | -"
        if session is not None:
            on_spark = spark_aggregates(str(folder), session=session)
            assert {k: t.num_rows for k, t in on_spark.tables.items()} == {
                k: t.num_rows for k, t in on_duckdb.tables.items()
            }, "the engines disagree"
            spark_cells = f"{on_spark.seconds:.1f} | {events / on_spark.seconds / cores:,.0f}"
        print(
            f"| {factor}x | {events:,} | {rows:,} | {on_duckdb.seconds:.1f} | "
            f"{events / on_duckdb.seconds / cores:,.0f} | {spark_cells} |",
            flush=True,
        )
    if not args.keep:
        print(f"\n(data left in {work}; pass --keep DIR to reuse it)")


if __name__ == "__main__":
    main()
