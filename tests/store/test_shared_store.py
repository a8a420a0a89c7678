"""A store held open for long (the TUI's) lets other processes read it, and writes around them.

Every other process here is a real one: DuckDB's file lock is per process, so only a second
process shows what a user running `workbench backcheck` beside the TUI meets."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench.store.db import DatabaseBusy, open_store
from workbench.store.shared import SharedStore

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("held", flush=True)
time.sleep(float(sys.argv[3]))
con.close()
"""


def hold(db: Path, mode: str, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the store (read-only or read-write) for SECONDS."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), mode, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.duckdb"
    open_store(path).close()
    return path


def count_triage(store: SharedStore) -> int:
    with store.reading() as cursor:
        return int(cursor.execute("SELECT count(*) FROM triage").fetchall()[0][0])


def test_other_processes_read_while_it_is_open(db: Path) -> None:
    store = SharedStore(db)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "workbench.cli", "findings", "--db", str(db), "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "[]"
    finally:
        store.close()


def test_a_write_waits_for_another_reader_to_let_go_then_lands(db: Path) -> None:
    store = SharedStore(db, patience=20)
    reader = hold(db, "ro", 1.5)  # e.g. `workbench report` running beside the TUI
    started = time.monotonic()
    with store.writing() as con:
        con.execute("INSERT INTO triage VALUES ('f1', 'benign', 'checked', 'me', now())")
    waited = time.monotonic() - started
    reader.wait(timeout=30)
    assert waited >= 0.5  # it retried instead of failing at once
    assert count_triage(store) == 1  # and reads see the write
    store.close()


def test_a_write_gives_up_with_a_clear_error_when_the_store_stays_busy(db: Path) -> None:
    store = SharedStore(db, patience=0.5)
    reader = hold(db, "ro", 5)
    try:
        with pytest.raises(DatabaseBusy, match="in use by"), store.writing():
            pass
        assert count_triage(store) == 0  # and it still reads
    finally:
        reader.kill()
        reader.wait()
    store.close()


def test_opening_while_another_process_writes_waits_then_says_who(db: Path) -> None:
    writer = hold(db, "rw", 5)  # e.g. `workbench ingest` running
    try:
        with pytest.raises(DatabaseBusy, match=r"in use by python.* \(PID \d+\)"):
            SharedStore(db, patience=0.3)
    finally:
        writer.kill()
        writer.wait()
    SharedStore(db).close()


def test_reads_wait_for_a_write_in_this_process(db: Path) -> None:
    store = SharedStore(db)
    seen: list[int] = []
    writing = threading.Event()

    def write() -> None:
        with store.writing() as con:
            writing.set()
            time.sleep(0.3)
            con.execute("INSERT INTO triage VALUES ('f1', 'confirmed', NULL, 'me', now())")

    thread = threading.Thread(target=write)
    thread.start()
    writing.wait(timeout=10)
    seen.append(count_triage(store))  # blocks until the write is done, then sees it
    thread.join()
    assert seen == [1]
    store.close()


def test_a_store_with_an_older_schema_is_migrated_once(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    store = SharedStore(path)  # no file yet: created and migrated, then opened read-only
    assert count_triage(store) == 0
    with pytest.raises(Exception, match="read-only"), store.reading() as cursor:
        cursor.execute("DELETE FROM triage")
    store.close()
    with pytest.raises(DatabaseBusy, match="closed"), store.reading():
        pass
