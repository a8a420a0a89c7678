"""The hourly aggregation over Parquet event partitions, on DuckDB or on Spark, written back into
the store.

The one step whose cost grows with the number of events is turning raw events into the three
small tables detection, the TUI and reports read (hourly_activity, signal_events, client_hourly).
`queries/portable/*.sql` compute them from a relation named `events` in SQL that DuckDB and Spark
SQL both run, so the same partitions can be aggregated on this machine, or on a Spark cluster
where they sit on object storage (s3a://, abfss://, gs://). Either way the results (small: one row
per hour and entity) come back as Arrow and replace the covered (org, event type, hour) ranges of
the store in one transaction.

PySpark is an optional extra (`workbench[spark]`): it is imported only when the Spark engine runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from workbench.store import partitions
from workbench.store.queries import first_row, load_query, statements

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Table in the store -> the portable query that computes its rows.
AGGREGATES = ("hourly_activity", "signal_events", "client_hourly")
ENGINES = ("duckdb", "spark")
# What the portable queries read: the columns of the partition files, and `day` from the path.
EVENT_COLUMNS = (
    "org_id",
    "event_type",
    "ts",
    "request_id",
    "user_id",
    "user_name",
    "connected_app_id",
    "connected_app_name",
    "client_name",
    "client_ip",
    "source_ip",
    "api_family",
    "api_resource",
    "http_method",
    "entity_name",
    "status_code",
    "rows_processed",
    "user_agent",
    "is_error",
    "attributes",
)
SPARK_EXTRA = "install the spark extra: uv sync --extra spark (or pip install 'workbench[spark]')"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_MIN_JAVA = 17


class AggregateError(Exception):
    """The aggregation cannot run as asked; the message says what to do."""


@dataclass(frozen=True)
class Window:
    """Which days of partitions to aggregate (inclusive; None = unbounded)."""

    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise AggregateError(f"--since {self.since} is after --until {self.until}")

    def start(self) -> datetime | None:
        """The first instant covered."""
        return datetime.combine(self.since, datetime.min.time()) if self.since else None

    def end(self) -> datetime | None:
        """The first instant after the window."""
        return datetime.combine(self.until + timedelta(days=1), datetime.min.time()) if self.until else None

    def day_filter(self) -> str:
        """A WHERE clause on the `day` partition column (SQL both engines read), so only the
        window's partitions are opened. Days are date objects, never user text."""
        terms = []
        if self.since:
            terms.append(f"day >= DATE '{self.since.isoformat()}'")
        if self.until:
            terms.append(f"day <= DATE '{self.until.isoformat()}'")
        return " AND ".join(terms) or "TRUE"


@dataclass
class Aggregates:
    """The three aggregates as computed by one engine, as Arrow tables keyed by store table."""

    engine: str
    where: str
    tables: dict[str, pa.Table]
    seconds: float


@dataclass
class AggregateReport:
    """What `aggregate` did: the engine, the rows written per table, the ranges replaced."""

    engine: str
    where: str
    source: str
    rows: dict[str, int] = field(default_factory=dict)
    ranges: int = 0
    compute_seconds: float = 0.0
    write_seconds: float = 0.0


def portable_query(table: str) -> str:
    """The portable SQL computing TABLE's rows from `events` (comments dropped, no final ';')."""
    text = "\n".join(
        line for line in load_query(f"portable/{table}").splitlines() if not line.startswith("--")
    )
    return text.strip().rstrip(";")


def is_uri(source: str) -> bool:
    """Whether SOURCE names object storage or another file system (scheme://...)."""
    return bool(_URI.match(source))


def default_source(db_path: Path) -> str:
    """The store's own partitions: `<db file>-events` beside it."""
    db = db_path.resolve()
    return str(db.with_name(db.name + "-events"))


def _local_folder(source: str) -> Path:
    folder = Path(source[len("file://") :] if source.startswith("file://") else source).expanduser().resolve()
    if not folder.is_dir():
        raise AggregateError(f"no event partitions at {folder}: pass --events with the partitions' folder")
    if not any(folder.glob("*/*/*/*.parquet")):
        raise AggregateError(
            f"{folder} holds no partition files (org=.../event_type=.../day=.../*.parquet): "
            "pass --events with the partitions' folder"
        )
    return folder


def _finish(table: pa.Table) -> pa.Table:
    """Timestamps as the store keeps them: UTC without a zone (Spark hands back zoned ones)."""
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = pc.cast(column, pa.timestamp(column.type.unit))  # keeps the UTC wall clock
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


# --- DuckDB -------------------------------------------------------------------------------------


def duckdb_aggregates(source: str, window: Window = Window(), threads: int | None = None) -> Aggregates:
    """Run the portable queries on DuckDB (in memory, offline) over the partitions in the local
    folder SOURCE."""
    if is_uri(source) and not source.startswith("file://"):
        raise AggregateError(
            f"the DuckDB engine reads local folders only (it loads no extension), not {source}: "
            "use --engine spark for object storage"
        )
    folder = _local_folder(source)
    started = time.perf_counter()
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if threads:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute(
            f"""CREATE VIEW events AS
                SELECT {", ".join(EVENT_COLUMNS)}, day
                  FROM {partitions.read_files(partitions.every_file(folder))}
                 WHERE {window.day_filter()}"""
        )
        # Spark's name for the one JSON function the two engines name differently.
        con.execute("CREATE TEMP MACRO get_json_object(json, path) AS json_extract_string(json, path)")
        tables = {table: _finish(con.sql(portable_query(table)).to_arrow_table()) for table in AGGREGATES}
    except duckdb.Error as exc:
        raise AggregateError(f"DuckDB could not aggregate {folder}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    where = f"DuckDB {duckdb.__version__}, {threads or os.cpu_count()} thread(s)"
    return Aggregates("duckdb", where, tables, time.perf_counter() - started)


# --- Spark --------------------------------------------------------------------------------------


def _java_version(java: str) -> int | None:
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        return None
    major = int(match[1])
    return int(match[2] or 0) if major == 1 else major  # "1.8.0" is Java 8


def check_spark(remote: bool) -> None:
    """Refuse, with what to install, when the Spark engine cannot start: no pyspark, or (for a
    local or cluster driver; Spark Connect needs none) no Java 17+."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise AggregateError(f"--engine spark needs PySpark: {SPARK_EXTRA}") from None
    if remote:
        return
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise AggregateError(
            f"--engine spark needs Java {_MIN_JAVA} or later and found none (no java on PATH, JAVA_HOME unset): "
            "install it (e.g. apt-get install openjdk-17-jre-headless) or set SPARK_REMOTE for Spark Connect"
        )
    version = _java_version(java)
    if version is not None and version < _MIN_JAVA:
        raise AggregateError(
            f"--engine spark needs Java {_MIN_JAVA} or later, {java} is Java {version}: install a newer one "
            "and point JAVA_HOME at it"
        )


def spark_session(master: str | None = None, conf: Sequence[tuple[str, str]] = ()) -> SparkSession:
    """The active SparkSession, or a new one: Spark Connect when SPARK_REMOTE is set, else a
    driver on MASTER, else whatever the usual Spark configuration says (spark-defaults.conf,
    PYSPARK_SUBMIT_ARGS), which is local[*] when it says nothing."""
    remote = bool(os.environ.get("SPARK_REMOTE")) and not master
    check_spark(remote)
    from pyspark.sql import SparkSession

    # A progress bar per stage would fill stderr; --spark-conf can turn it back on.
    builder = SparkSession.builder.appName("workbench aggregate").config(
        "spark.ui.showConsoleProgress", "false"
    )
    if master:
        builder = builder.master(master)
    for key, value in conf:
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM or the Connect server refused: one line, not a trace
        raise AggregateError(f"Spark did not start: {_first_line(exc)}") from None
    if not remote:
        session.sparkContext.setLogLevel("ERROR")
    return session


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _spark_where(session: SparkSession) -> str:
    try:
        context = session.sparkContext
        return f"Spark {session.version}, master {context.master}, parallelism {context.defaultParallelism}"
    except Exception:  # Spark Connect has no SparkContext
        return f"Spark {session.version} over Spark Connect"


def spark_aggregates(
    source: str, window: Window = Window(), session: SparkSession | None = None
) -> Aggregates:
    """Run the portable queries on Spark over the partitions at SOURCE: a local folder, or a URI
    Spark reads (s3a://, abfss://, gs://, hdfs://, dbfs:/), passed as given."""
    local = not is_uri(source) and not source.startswith("dbfs:")
    if local:
        source = str(_local_folder(source))
    session = session or spark_session()
    started = time.perf_counter()
    try:
        if local:  # listing a local folder as a Spark job costs more than it saves
            session.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
        # Hours are UTC, as the store's; partition values stay strings (an org directory that
        # looks like a number must not become one), `day` is cast where it is filtered.
        session.conf.set("spark.sql.session.timeZone", "UTC")
        session.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        session.read.parquet(source).createOrReplaceTempView("event_files")
        session.sql(
            f"""CREATE OR REPLACE TEMP VIEW events AS
                SELECT *
                  FROM (SELECT {", ".join(EVENT_COLUMNS)}, CAST(day AS DATE) AS day FROM event_files) f
                 WHERE {window.day_filter()}"""
        )
        tables = {table: _finish(_to_arrow(session.sql(portable_query(table)))) for table in AGGREGATES}
    except AggregateError:
        raise
    except Exception as exc:  # Spark's analysis and execution errors: one line, not a trace
        raise AggregateError(f"Spark could not aggregate {source}: {_first_line(exc)}") from None
    return Aggregates("spark", _spark_where(session), tables, time.perf_counter() - started)


def _to_arrow(frame: Any) -> pa.Table:
    if hasattr(frame, "toArrow"):  # PySpark 4 (classic and Connect)
        return frame.toArrow()
    return frame._collect_as_arrow()  # PySpark 3.5


# --- Writing back -------------------------------------------------------------------------------


def write_aggregates(
    con: duckdb.DuckDBPyConnection, aggregates: Aggregates, window: Window = Window()
) -> int:
    """Replace the store's aggregates over the (org, event type, hour) ranges AGGREGATES covers
    with them, in one transaction; the number of ranges replaced."""
    names = {
        "hourly_activity": "new_hourly",
        "signal_events": "new_signal_events",
        "client_hourly": "new_client_hourly",
    }
    for table, name in names.items():
        con.register(name, aggregates.tables[table])
    params = {"since": window.start(), "until": window.end()}
    con.execute("BEGIN")
    try:
        for statement in statements("portable/duckdb_write_back"):
            con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
        ranges = int(first_row(con.execute("SELECT count(*) FROM aggregate_ranges"))[0])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in names.values():
            con.unregister(name)
    return ranges


def aggregate(
    con: duckdb.DuckDBPyConnection,
    engine: str,
    source: str,
    window: Window = Window(),
    session: SparkSession | None = None,
) -> AggregateReport:
    """Aggregate the partitions at SOURCE on ENGINE and write the results into the store CON."""
    computed = compute(engine, source, window, session)
    return write_back(con, computed, source, window)


def compute(
    engine: str, source: str, window: Window = Window(), session: SparkSession | None = None
) -> Aggregates:
    """The aggregates of the partitions at SOURCE, computed on ENGINE (duckdb or spark)."""
    if engine == "duckdb":
        return duckdb_aggregates(source, window)
    if engine == "spark":
        return spark_aggregates(source, window, session)
    raise AggregateError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")


def write_back(
    con: duckdb.DuckDBPyConnection, computed: Aggregates, source: str, window: Window = Window()
) -> AggregateReport:
    """Write COMPUTED into the store CON and say what was done."""
    started = time.perf_counter()
    ranges = write_aggregates(con, computed, window)
    return AggregateReport(
        engine=computed.engine,
        where=computed.where,
        source=source,
        rows={table: computed.tables[table].num_rows for table in AGGREGATES},
        ranges=ranges,
        compute_seconds=computed.seconds,
        write_seconds=time.perf_counter() - started,
    )
