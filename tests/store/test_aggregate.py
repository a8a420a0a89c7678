"""`workbench aggregate`: the portable hourly aggregation gives exactly the store's own aggregates,
writes them back over the ranges it covers, and fails in one line when Spark cannot run.

The store is built through the real CLI (`workbench ingest sample_logs`); its Parquet partitions
are the ones ingest wrote beside it.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.store.aggregate import (
    AGGREGATES,
    AggregateError,
    Aggregates,
    Window,
    default_source,
    duckdb_aggregates,
)
from workbench.store.queries import load_query

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

# The columns that identify a client_hourly row; request_ids is compared apart (see below).
CLIENT_KEYS = "org_id, event_type, hour, connected_app_id, user_id, ip, user_agent, client_name"
CLIENT_VALUES = "user_name, events, first_ts, last_ts"


def build_sample_store(folder: Path) -> Path:
    """A store of sample_logs/ made as a user makes it: `workbench ingest` through the CLI, with
    the Parquet partitions ingest writes beside it."""
    db = folder / "sample.duckdb"
    result = runner.invoke(app, ["ingest", str(ROOT / "sample_logs"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert Path(default_source(db)).is_dir()  # ingest keeps raw events as partitions
    return db


def copy_store(source: Path, target: Path) -> Path:
    """The DuckDB file and its partitions folder beside it."""
    shutil.copy(source, target)
    shutil.copytree(default_source(source), default_source(target))
    return target


def mismatches(db: Path, computed: Aggregates) -> dict[str, tuple[int, int]]:
    """Per table: (rows only in the store, rows only in COMPUTED); (0, 0) everywhere when they agree.

    client_hourly's request_ids (the first three in time order, ties broken by the id) are
    compared apart because the portable SQL returns them as three columns."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        for table in AGGREGATES:
            con.register(f"new_{table}", computed.tables[table])
        differences = {}
        for table, store_rows, new_rows in (
            ("hourly_activity", "SELECT * FROM hourly_activity", "SELECT * FROM new_hourly_activity"),
            ("signal_events", "SELECT * FROM signal_events", "SELECT * FROM new_signal_events"),
            (
                "client_hourly",
                f"SELECT {CLIENT_KEYS}, {CLIENT_VALUES} FROM client_hourly",
                f"SELECT {CLIENT_KEYS}, {CLIENT_VALUES} FROM new_client_hourly",
            ),
            (
                "client_hourly.request_ids",
                f"SELECT {CLIENT_KEYS}, request_ids FROM client_hourly",
                f"""SELECT {CLIENT_KEYS},
                           list_filter([request_id_1, request_id_2, request_id_3], lambda x: x IS NOT NULL)
                      FROM new_client_hourly""",
            ),
        ):
            only_store = con.execute(f"SELECT count(*) FROM ({store_rows} EXCEPT ALL {new_rows})").fetchall()
            only_new = con.execute(f"SELECT count(*) FROM ({new_rows} EXCEPT ALL {store_rows})").fetchall()
            differences[table] = (int(only_store[0][0]), int(only_new[0][0]))
        return differences
    finally:
        con.close()


def table_rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(con.execute(sql).fetchall(), key=repr)
    finally:
        con.close()


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample_store(tmp_path_factory.mktemp("aggregate"))


def test_portable_sql_on_duckdb_gives_the_stores_aggregates(sample_db: Path) -> None:
    computed = duckdb_aggregates(default_source(sample_db))
    assert computed.tables["hourly_activity"].num_rows > 10_000
    assert computed.tables["signal_events"].num_rows > 1_000
    assert computed.tables["client_hourly"].num_rows > 1_000
    assert mismatches(sample_db, computed) == {
        "hourly_activity": (0, 0),
        "signal_events": (0, 0),
        "client_hourly": (0, 0),
        "client_hourly.request_ids": (0, 0),
    }


def test_a_drift_is_seen(sample_db: Path) -> None:
    """The comparison above can fail: one changed aggregate row is named."""
    computed = duckdb_aggregates(default_source(sample_db))
    hourly = computed.tables["hourly_activity"]
    calls = hourly.column("calls").to_pylist()
    calls[0] += 1
    computed.tables["hourly_activity"] = hourly.set_column(
        hourly.schema.get_field_index("calls"), "calls", [calls]
    )
    assert mismatches(sample_db, computed)["hourly_activity"] == (1, 1)


def test_window_reads_only_its_days(sample_db: Path) -> None:
    computed = duckdb_aggregates(default_source(sample_db), Window(date(2025, 11, 10), date(2025, 11, 11)))
    hours = {h.date().isoformat() for h in computed.tables["hourly_activity"].column("hour").to_pylist()}
    assert hours == {"2025-11-10", "2025-11-11"}


def test_aggregate_rewrites_the_covered_ranges_and_detection_is_unchanged(
    sample_db: Path, tmp_path: Path
) -> None:
    db = copy_store(sample_db, tmp_path / "store.duckdb")
    scan = ["scan", "--all", "--format", "json", "--db", str(db)]
    before = runner.invoke(app, scan)
    assert before.exit_code in (0, 1), before.output
    findings_before = sorted(f["id"] for f in json.loads(before.stdout))
    hourly = table_rows(db, "SELECT * FROM hourly_activity")
    signals = table_rows(db, "SELECT * FROM signal_events")
    clients = table_rows(db, f"SELECT {CLIENT_KEYS}, {CLIENT_VALUES} FROM client_hourly")

    con = duckdb.connect(str(db))
    org = con.execute("SELECT min(org_id) FROM hourly_activity").fetchall()[0][0]
    con.execute("DELETE FROM hourly_activity WHERE CAST(hour AS DATE) = DATE '2025-11-12'")
    con.execute("DELETE FROM signal_events WHERE CAST(ts AS DATE) = DATE '2025-11-12'")
    con.execute("UPDATE client_hourly SET events = events + 1 WHERE CAST(hour AS DATE) = DATE '2025-11-12'")
    for day in ("2025-11-12", "2025-11-14"):  # a stale row inside the window, one outside it
        con.execute(
            f"""INSERT INTO hourly_activity (org_id, event_type, hour, connected_app_id, calls, errors,
                       auth_failures, rows_processed, first_ts, last_ts)
                VALUES (?, 'ApiTotalUsage', TIMESTAMP '{day} 05:00:00', 'stale', 1, 0, 0, 0,
                        TIMESTAMP '{day} 05:00:00', TIMESTAMP '{day} 05:00:00')""",
            [org],
        )
    con.close()

    result = runner.invoke(
        app, ["aggregate", "--since", "2025-11-12", "--until", "2025-11-12", "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert "replaced" in result.output and "hourly_activity" in result.output
    after = table_rows(db, "SELECT * FROM hourly_activity")
    stale = [row for row in after if row[3] == "stale"]
    assert [str(row[2].date()) for row in stale] == ["2025-11-14"]  # type: ignore[attr-defined]
    assert [row for row in after if row[3] != "stale"] == hourly
    assert table_rows(db, "SELECT * FROM signal_events") == signals
    assert table_rows(db, f"SELECT {CLIENT_KEYS}, {CLIENT_VALUES} FROM client_hourly") == clients

    # No window: every range the partitions cover, so the stale row outside goes too.
    result = runner.invoke(
        app, ["aggregate", "--engine", "duckdb", "--events", default_source(db), "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT * FROM hourly_activity") == hourly
    after_scan = runner.invoke(app, scan)
    assert after_scan.exit_code == before.exit_code, after_scan.output
    assert sorted(f["id"] for f in json.loads(after_scan.stdout)) == findings_before


def test_portable_sql_uses_no_duckdb_only_forms() -> None:
    """What Spark SQL rejects (or reads otherwise) never creeps into the portable queries."""
    duckdb_only = {
        "GROUP BY ALL": r"GROUP\s+BY\s+ALL",
        "FILTER clause": r"\bFILTER\s*\(",
        "any_value": r"\bany_value\s*\(",
        "min_by/max_by": r"\b(min|max)_by\s*\(",
        "a macro": r"\b(effective_ip|is_signal_event)\s*\(",
        "json_extract": r"\bjson_extract\w*\s*\(",
        ":: cast": r"::",
        "list literal": r"\[",
        "left()": r"\bleft\s*\(",
        "contains/suffix/prefix": r"\b(contains|suffix|prefix|starts_with|ends_with)\s*\(",
        "$parameter": r"\$\w",
        "EXCLUDE/REPLACE": r"\b(EXCLUDE|REPLACE)\s*\(",
    }
    for table in AGGREGATES:
        text = "\n".join(
            line for line in load_query(f"portable/{table}").splitlines() if not line.startswith("--")
        )
        found = [name for name, pattern in duckdb_only.items() if re.search(pattern, text, re.IGNORECASE)]
        assert not found, f"portable/{table}.sql uses {found}"


def test_duckdb_engine_refuses_object_storage(sample_db: Path) -> None:
    result = runner.invoke(
        app, ["aggregate", "--events", "s3a://bucket/x.duckdb-events", "--db", str(sample_db)]
    )
    assert result.exit_code == 2
    assert "--engine spark" in result.output and "Traceback" not in result.output
    with pytest.raises(AggregateError, match="local folders only"):
        duckdb_aggregates("gs://bucket/events")


def test_missing_partitions_and_bad_window_are_one_line(sample_db: Path, tmp_path: Path) -> None:
    empty = runner.invoke(app, ["aggregate", "--events", str(tmp_path), "--db", str(sample_db)])
    assert empty.exit_code == 2 and "holds no partition files" in empty.output
    backwards = runner.invoke(
        app, ["aggregate", "--since", "2025-11-12", "--until", "2025-11-01", "--db", str(sample_db)]
    )
    assert backwards.exit_code == 2 and "after --until" in backwards.output
    no_db = runner.invoke(app, ["aggregate", "--db", str(tmp_path / "none.duckdb")])
    assert no_db.exit_code == 2 and "no database" in no_db.output
    assert not (tmp_path / "none.duckdb").exists()


def test_spark_without_pyspark_names_the_extra(sample_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    result = runner.invoke(app, ["aggregate", "--engine", "spark", "--db", str(sample_db)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "uv sync --extra spark" in lines[0], result.output


def test_spark_without_java_says_so(sample_db: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("pyspark", reason="the Java check runs after PySpark is found (extra `spark`)")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    result = runner.invoke(app, ["aggregate", "--engine", "spark", "--db", str(sample_db)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Java 17" in lines[0], result.output
