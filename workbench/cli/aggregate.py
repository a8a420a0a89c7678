"""The hourly aggregation on DuckDB or Spark over Parquet event partitions: aggregate.

The Spark engine is an optional extra; nothing here imports PySpark (workbench.store.aggregate
does, only when that engine runs). The service (and pyarrow) is imported inside the command, so
every other command starts without it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from workbench.cli.common import DbOption, checked, fail, opened, say
from workbench.store.db import resolve_db_path
from workbench.times import parse_date

commands = typer.Typer()


class Engine(StrEnum):
    """Where the aggregation runs."""

    duckdb = "duckdb"
    spark = "spark"


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--spark-conf takes KEY=VALUE, not {text!r}")
    return key.strip(), value


@commands.command()
def aggregate(
    engine: Annotated[
        Engine, typer.Option(help="duckdb (this machine) or spark (local, cluster, Connect).")
    ] = (Engine.duckdb),
    events: Annotated[
        str | None,
        typer.Option(
            "--events",
            metavar="PATH_OR_URI",
            help="The partitions (org=/event_type=/day=/*.parquet): a folder, or for Spark a URI such as "
            "s3a://bucket/store.duckdb-events (default: the store's own, <db>-events).",
        ),
    ] = None,
    db: DbOption = None,
    since: Annotated[str | None, typer.Option(help="First day to aggregate (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Last day to aggregate (YYYY-MM-DD, UTC), included.")
    ] = None,
    master: Annotated[
        str | None,
        typer.Option(
            help="Spark master (local[4], spark://host:7077, yarn); default: SPARK_REMOTE, spark-defaults, "
            "else local[*]."
        ),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option("--spark-conf", metavar="KEY=VALUE", help="A Spark setting (repeatable)."),
    ] = None,
) -> None:
    """Recompute the hourly aggregates from the event partitions and replace them in the store."""
    from workbench.store.aggregate import (
        AggregateError,
        Window,
        compute,
        default_source,
        spark_session,
        write_back,
    )

    db_path = resolve_db_path(db)
    if not db_path.exists():
        raise fail(f"no database at {db_path}: ingest some logs first (workbench ingest PATH) or pass --db")
    first, last = checked(lambda: (parse_date(since, "--since"), parse_date(until, "--until")))
    window = checked(lambda: Window(first, last), AggregateError)
    source = events or default_source(db_path)
    if engine is Engine.spark:
        conf = checked(lambda: [_setting(text) for text in spark_conf or []])
        session = checked(lambda: spark_session(master, conf), AggregateError)
        computed = checked(lambda: compute("spark", source, window, session), AggregateError)
    else:
        if master or spark_conf:
            raise fail("--master and --spark-conf are for --engine spark")
        computed = checked(lambda: compute("duckdb", source, window), AggregateError)
    # The store is held for writing only once the results are in: a long Spark job does not keep
    # the TUI or a cron scan from it.
    with opened(db) as con:
        report = write_back(con, computed, source, window)
    rows = ", ".join(f"{count:,} {table}" for table, count in report.rows.items())
    say(
        f"aggregated {source} on {report.where} in {report.compute_seconds:.1f} s; "
        f"replaced {report.ranges} org x event type range(s) with {rows} in {report.write_seconds:.1f} s "
        f"(db: {db_path})"
    )
