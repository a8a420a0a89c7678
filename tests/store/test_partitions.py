"""Raw events in Parquet partitions beside the store: the layout, whole-or-nothing batches, a
crashed or killed writer, a store copied or moved, and the migration of an older store."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, copy_store, quoted_csv
from workbench.cli import app
from workbench.store import partitions
from workbench.store.db import open_store
from workbench.store.queries import migration_scripts

ROOT = Path(__file__).resolve().parents[2]
# How many partition files land before the kill (KILL_AFTER_FILES=n varies it when hunting races).
KILL_AFTER_FILES = int(os.environ.get("KILL_AFTER_FILES", "20"))
runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def count(db: Path, sql: str) -> int:
    con = open_store(db, read_only=True)
    try:
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()


def parquet_files(db: Path) -> set[str]:
    folder = db.with_name(db.name + "-events")
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet")} - {
        "org=_/event_type=_/day=1970-01-01/placeholder.parquet"
    }


def landed(folder: Path) -> int:
    """Parquet files under FOLDER now (staging folders come and go while it looks)."""
    return sum(name.endswith(".parquet") for _, _, names in os.walk(folder) for name in names)


def catalogued(db: Path) -> set[str]:
    con = open_store(db, read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT path FROM event_files").fetchall()}
    finally:
        con.close()


def test_events_land_in_hive_partitions_and_read_back_through_the_view(tmp_path: Path) -> None:
    rows = [
        api_row(request_id="a1", ts="20251118100000.000"),
        api_row(request_id="a2", ts="20251119100000.000"),
        api_row(request_id="evil", ts="20251119110000.000", org="../../x y"),
    ]
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, rows))
    db = tmp_path / "s.duckdb"
    assert invoke("ingest", tmp_path / "api.csv", "--db", db)[0] == 0
    files = parquet_files(db)
    assert {f.rsplit("/", 1)[0] for f in files} == {
        "org=00D68000004DKqo/event_type=ApiTotalUsage/day=2025-11-18",
        "org=00D68000004DKqo/event_type=ApiTotalUsage/day=2025-11-19",
        "org=..%2F..%2Fx%20y/event_type=ApiTotalUsage/day=2025-11-19",  # encoded: it cannot leave the folder
    }
    assert files == catalogued(db)
    assert count(db, "SELECT count(*) FROM events WHERE org_id = '../../x y' AND day = '2025-11-19'") == 1
    assert count(db, "SELECT count(*) FROM events") == 3
    # Re-ingesting the same bytes, or an overlapping file, adds no file and no row.
    overlap = [*rows[:2], api_row(request_id="a3", ts="20251119120000.000")]
    (tmp_path / "again.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, overlap))
    assert invoke("ingest", tmp_path, "--db", db)[0] == 0
    assert count(db, "SELECT count(*) FROM events") == 4
    assert len(parquet_files(db)) == 4 and parquet_files(db) == catalogued(db)


def test_a_batch_written_but_never_committed_is_removed_on_the_next_open(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, [api_row(request_id="kept")]))
    assert invoke("ingest", tmp_path / "api.csv", "--db", db)[0] == 0
    con = open_store(db)
    folder = partitions.events_folder(con)
    # A writer that died after renaming its files into place, before its catalog commit...
    orphans = partitions.write_batch(con, "SELECT * FROM events", folder)
    # ... and one that died while DuckDB was still writing into its staging folder.
    (folder / ".staging-crashed" / "org=x").mkdir(parents=True)
    con.close()
    assert orphans and all((folder / f.path).exists() for f in orphans)
    assert count(db, "SELECT count(*) FROM events") == 1  # a read-only open cleans up too
    assert not any((folder / f.path).exists() for f in orphans)
    assert not list(folder.glob(".staging-*")) and not list(folder.glob(".pending-*"))


def test_a_polars_batch_that_died_mid_write_leaves_nothing_on_the_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.duckdb"
    rows = [
        api_row(request_id="a1", ts="20251118100000.000"),
        api_row(request_id="a2", ts="20251119100000.000"),
    ]
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, rows))
    assert invoke("ingest", tmp_path / "api.csv", "--db", db)[0] == 0
    before = parquet_files(db)
    con = open_store(db)
    folder = partitions.events_folder(con)
    frame = con.sql("SELECT * EXCLUDE (day) FROM events").pl()
    renamed: list[str] = []
    real_replace = os.replace

    def die_after_the_first_file(source: str | Path, target: str | Path) -> None:
        if renamed:
            raise OSError("the disk went away")
        renamed.append(str(target))
        real_replace(source, target)

    # The writer died with one file renamed into place and the next still under its partial name.
    with monkeypatch.context() as patch:
        patch.setattr(partitions.os, "replace", die_after_the_first_file)
        with pytest.raises(OSError):
            partitions.write_plain(frame, folder)
    con.close()
    left = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".part") for p in left) and Path(renamed[0]).exists()
    assert count(db, "SELECT count(*) FROM events") == 2  # a read-only open cleans up too
    assert parquet_files(db) == before == catalogued(db)
    assert not [p for p in folder.rglob("*") if p.name.endswith(".part") or p.name.startswith(".pending-")]


def test_a_writer_thread_that_fails_mid_batch_leaves_no_file_and_no_aggregate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Partition files are written in a thread while the aggregates are refreshed: when the
    # writing fails after its first file, the commit is rolled back and that file removed.
    rows = [
        api_row(request_id="a1", ts="20251118100000.000"),
        api_row(request_id="a2", ts="20251119100000.000"),
    ]
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, rows))
    db = tmp_path / "s.duckdb"
    real_write = partitions.write_parquet_file

    def fail_on_the_second(frame: object, target: Path) -> None:
        if list(target.parent.parent.parent.parent.rglob("*_0.parquet")):
            raise OSError("no space left on device")
        real_write(frame, target)  # type: ignore[arg-type]

    monkeypatch.setattr(partitions, "write_parquet_file", fail_on_the_second)
    code, output = invoke("ingest", tmp_path / "api.csv", "--db", db)
    assert code != 0 and "no space left on device" in output, output
    assert parquet_files(db) == set() == catalogued(db)
    assert count(db, "SELECT count(*) FROM events") == 0
    assert count(db, "SELECT count(*) FROM hourly_activity") == 0


def test_kill_minus_9_mid_ingest_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    command = [sys.executable, "-m", "workbench.cli", "ingest", str(ROOT / "sample_logs"), "--db", str(db)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = db.with_name(db.name + "-events")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and landed(folder) < KILL_AFTER_FILES:
        time.sleep(0.05)  # until some batches have landed
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    code, output = invoke("ingest", ROOT / "sample_logs", "--db", db)
    assert code == 0, output
    assert count(db, "SELECT count(*) FROM events") == 170_875
    distinct = "SELECT count(DISTINCT (org_id, event_type, ts, request_id, content_key)) FROM events"
    assert count(db, distinct) == 170_875
    assert parquet_files(db) == catalogued(db)


def test_a_store_copied_with_its_folder_opens_and_one_without_it_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "a" / "s.duckdb"
    db.parent.mkdir()
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, [api_row(request_id="r1")]))
    assert invoke("ingest", tmp_path / "api.csv", "--db", db)[0] == 0
    moved = copy_store(db, tmp_path / "moved.duckdb")
    shutil.rmtree(db.parent)  # the original is gone: the copy must read its own partitions
    code, output = invoke("query", "SELECT count(*) AS n FROM events", "--db", moved, "--format", "csv")
    assert code == 0 and "n\n1\n" in output, output
    lone = tmp_path / "lone.duckdb"
    shutil.copy(moved, lone)
    code, output = invoke("status", "--db", lone)
    assert code == 2 and "lone.duckdb-events is missing" in output and "workbench pack" in output


def test_an_older_store_has_its_events_table_moved_out_on_open(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    for version, script in enumerate(migration_scripts()[:8], start=1):
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(script)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
    con.execute(
        """INSERT INTO events (file_id, org_id, event_type, ts, request_id, is_error, attributes)
           VALUES (1, '00Dx', 'ApiTotalUsage', '2025-11-18 10:00', 'r1', false, '{"API_VERSION": "58.0"}'),
                  (1, '00Dx', 'Login', '2025-11-19 10:00', 'r2', true, NULL)"""
    )
    con.close()
    assert count(db, "SELECT count(*) FROM events") == 2  # migrated on open (read-only commands too)
    con = open_store(db, read_only=True)
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'events'"
    ).fetchall()
    attributes = con.execute(
        "SELECT attributes->>'API_VERSION' FROM events WHERE request_id = 'r1'"
    ).fetchall()
    con.close()
    assert kind == [("VIEW",)] and attributes == [("58.0",)]
    assert len(parquet_files(db)) == 2 and parquet_files(db) == catalogued(db)


@pytest.mark.parametrize("sql", ["DELETE FROM events", "COPY events TO '{folder}/x.parquet'"])
def test_the_console_cannot_change_the_partitions(tmp_path: Path, sql: str) -> None:
    db = tmp_path / "s.duckdb"
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, [api_row(request_id="r1")]))
    assert invoke("ingest", tmp_path / "api.csv", "--db", db)[0] == 0
    before = parquet_files(db)
    folder = db.with_name(db.name + "-events")
    code, output = invoke("query", sql.format(folder=folder), "--db", db)
    assert code == 2 and "query failed" in output
    assert parquet_files(db) == before and count(db, "SELECT count(*) FROM events") == 1


def test_prune_drops_whole_days_and_their_aggregates(tmp_path: Path) -> None:
    rows = [api_row(request_id=f"r{d}", ts=f"202511{d}100000.000") for d in (17, 18, 19)]
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, rows))
    db = tmp_path / "s.duckdb"
    assert invoke("ingest", tmp_path / "api.csv", "--db", db)[0] == 0
    code, output = invoke("prune", "--before", "2025-11-19", "--db", db)
    assert code == 0 and "pruned 2 events in 2 file(s) over 2 day(s) before 2025-11-19" in output
    assert count(db, "SELECT count(*) FROM events") == 1
    assert count(db, "SELECT count(*) FROM hourly_activity WHERE hour < '2025-11-19'") == 0
    assert count(db, "SELECT count(*) FROM hourly_activity") == 1
    assert parquet_files(db) == catalogued(db) and len(parquet_files(db)) == 1
    assert count(db, "SELECT count(*) FROM files WHERE status = 'ingested'") == 1  # the record stays
    assert invoke("prune", "--before", "2025-13-01", "--db", db)[0] == 2


def test_pack_and_unpack_hand_over_the_whole_store(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert invoke("ingest", ROOT / "sample_logs" / "acme-00Dr0F3kxdTdhsx", "--db", db)[0] == 0
    events = count(db, "SELECT count(*) FROM events")
    archive = tmp_path / "handover.tar.zst"
    code, output = invoke("pack", archive, "--db", db)
    assert code == 0 and archive.exists() and "packed" in output
    assert not list(tmp_path.glob(".*.tmp"))
    code, output = invoke("unpack", archive, "--into", tmp_path / "elsewhere")
    assert code == 0, output
    restored = tmp_path / "elsewhere" / "s.duckdb"
    assert count(restored, "SELECT count(*) FROM events") == events
    assert parquet_files(restored) == catalogued(restored) == catalogued(db)
    # The same archive again on top of it is refused, not merged.
    code, output = invoke("unpack", archive, "--into", tmp_path / "elsewhere")
    assert code == 2 and "exists already" in output
    (tmp_path / "not-a-store.tar.zst").write_bytes(b"\x28\xb5\x2f\xfd garbage")
    code, output = invoke("unpack", tmp_path / "not-a-store.tar.zst", "--into", tmp_path / "x")
    assert code == 2 and "cannot be unpacked" in output and len(output.strip().splitlines()) == 1


def test_a_folder_of_another_store_beside_a_new_database_is_never_read(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, [api_row(request_id="r1")]))
    assert invoke("ingest", tmp_path / "api.csv", "--db", db)[0] == 0
    db.unlink()  # the database deleted, its events folder left behind
    left = parquet_files(db)
    code, output = invoke("ingest", tmp_path / "api.csv", "--db", db)
    assert code == 2 and "belong to no store" in output and len(output.strip().splitlines()) == 1
    assert parquet_files(db) == left  # nothing deleted


def test_a_batch_that_fails_halfway_through_its_renames_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [api_row(request_id=f"r{d}", ts=f"202511{d}100000.000") for d in (16, 17, 18)]
    (tmp_path / "api.csv").write_text(quoted_csv(API_TOTAL_USAGE_HEADER, rows))
    db = tmp_path / "s.duckdb"
    open_store(db).close()  # the placeholder is in place; now every rename is a batch file's
    renames = []

    def second_fails(source: Path, target: Path) -> None:
        renames.append(target)
        if len(renames) == 2:
            raise OSError("disk full")  # one file of the batch is already in place
        os.rename(source, target)

    monkeypatch.setattr(partitions.os, "replace", second_fails)
    code, output = invoke("ingest", tmp_path / "api.csv", "--db", db)
    assert code == 2 and "disk full" in output
    assert parquet_files(db) == set() == catalogued(db)
    assert count(db, "SELECT count(*) FROM events") == 0
    folder = db.with_name(db.name + "-events")
    assert not list(folder.glob(".pending-*")) and not list(folder.glob(".staging-*"))
