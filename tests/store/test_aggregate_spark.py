"""The distributed path: the portable aggregation on Spark (local mode) over the partitions that
`workbench ingest` wrote gives, row for row, the aggregates DuckDB keeps in the store.

Needs the `spark` extra and Java 17+ (.ci/run installs both); skipped with the reason otherwise.
One SparkSession for the module, few shuffle partitions: the data is small, start-up is the cost.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from tests.store.test_aggregate import (
    CLIENT_KEYS,
    CLIENT_VALUES,
    build_sample_store,
    copy_store,
    mismatches,
    table_rows,
)
from workbench.cli import app
from workbench.store.aggregate import default_source, spark_aggregates

pytest.importorskip("pyspark", reason="PySpark is not installed: uv sync --extra spark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip(
        "Spark needs Java 17+ and there is none (apt-get install openjdk-17-jre-headless)",
        allow_module_level=True,
    )

runner = CliRunner()


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("workbench tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_store(tmp_path_factory.mktemp("aggregate_spark"))


def test_spark_gives_the_stores_aggregates_row_for_row(sample_db: Path, spark: Any) -> None:
    computed = spark_aggregates(default_source(sample_db), session=spark)
    assert computed.engine == "spark" and "local[2]" in computed.where
    assert computed.tables["hourly_activity"].num_rows > 10_000
    assert mismatches(sample_db, computed) == {
        "hourly_activity": (0, 0),
        "signal_events": (0, 0),
        "client_hourly": (0, 0),
        "client_hourly.request_ids": (0, 0),
    }


def test_spark_through_the_cli_restores_a_window(sample_db: Path, spark: Any, tmp_path: Path) -> None:
    db = copy_store(sample_db, tmp_path / "store.duckdb")
    hourly = table_rows(db, "SELECT * FROM hourly_activity")
    clients = table_rows(db, f"SELECT {CLIENT_KEYS}, {CLIENT_VALUES} FROM client_hourly")
    con = duckdb.connect(str(db))
    con.execute(
        "DELETE FROM hourly_activity WHERE CAST(hour AS DATE) BETWEEN DATE '2025-11-17' AND DATE '2025-11-18'"
    )
    con.execute("DELETE FROM client_hourly WHERE CAST(hour AS DATE) = DATE '2025-11-18'")
    con.close()
    result = runner.invoke(
        app,
        ["aggregate", "--engine", "spark", "--since", "2025-11-17", "--until", "2025-11-18", "--db", str(db)],
    )
    assert result.exit_code == 0, result.output
    assert "Spark" in result.output and "replaced" in result.output
    assert table_rows(db, "SELECT * FROM hourly_activity") == hourly
    assert table_rows(db, f"SELECT {CLIENT_KEYS}, {CLIENT_VALUES} FROM client_hourly") == clients
