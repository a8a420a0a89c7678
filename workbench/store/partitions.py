"""Raw events as hive-partitioned Parquet beside the store file, and `events` as a view over them.

Layout: `<db>-events/org=<org>/event_type=<type>/day=<YYYY-MM-DD>/<batch>_<n>.parquet`, zstd.
DuckDB writes the directory names (percent-encoding anything that is not path-safe, so a hostile
org id or event type cannot leave the folder) and decodes them on read; Polars writes a batch
already in memory, but only where the names need no encoding. Inside each file: every
column of `events` except event_type and day, which come from the path. One zero-row file under
`org=_/event_type=_/day=1970-01-01/` keeps the glob from ever being empty.

A batch lands whole or not at all: a marker file lists its files, they are written under a
temporary name (Polars, beside the final one; DuckDB, into a staging folder) and renamed into
place, then the catalog rows (`event_files`) are committed with the rest of the ingest's
transaction. A file no catalog row names is not part of the store: after a
crash the next open removes it (`recover`), so nothing is doubled and nothing half-written is read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from workbench.store.queries import first_row, insert_rows

# The view's columns, in the order of the table they replaced (SELECT * keeps its shape), with
# the type each file holds them in; event_type is in a file's path, not in it, and `day` (the
# partition) comes last, for queries that prune by it.
_TYPES = {
    "file_id": "INTEGER",
    "org_id": "VARCHAR",
    "event_type": "VARCHAR",
    "ts": "TIMESTAMP",
    **dict.fromkeys(
        ("request_id", "user_id", "user_name", "connected_app_id", "connected_app_name"), "VARCHAR"
    ),
    **dict.fromkeys(("client_name", "client_ip", "source_ip", "api_family", "api_resource"), "VARCHAR"),
    "http_method": "VARCHAR",
    "entity_name": "VARCHAR",
    "status_code": "INTEGER",
    "rows_processed": "BIGINT",
    "user_agent": "VARCHAR",
    "is_error": "BOOLEAN",
    "content_key": "VARCHAR",
    "attributes": "VARCHAR",  # JSON text in the file; the view reads it back as JSON
}
COLUMNS: tuple[str, ...] = tuple(_TYPES)
EVENT_COLUMNS = ", ".join(_TYPES)
_IN_FILE = {column: kind for column, kind in _TYPES.items() if column != "event_type"}
_FILE_SELECT = ", ".join(f"CAST({column} AS {kind}) AS {column}" for column, kind in _IN_FILE.items())
_PLACEHOLDER = Path("org=_", "event_type=_", "day=1970-01-01", "placeholder.parquet")
_PENDING = ".pending-"
_STAGING = ".staging-"
_PART = ".part"  # a partition file still being written
_FOLDER_KEY = "events_folder"


class PartitionError(Exception):
    """The event partitions cannot be used as they are; the message says what to do."""


class StoreMoved(PartitionError):
    """The store file was moved or copied with its events folder: the view must be re-pointed,
    which takes one writable open."""


@dataclass(frozen=True)
class EventFile:
    """One Parquet file of the store: where (relative to the events folder) and what it holds."""

    path: str
    org_id: str
    event_type: str
    day: date
    rows: int
    bytes: int


def _literal(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def read_files(files: str, filename: bool = False) -> str:
    """DuckDB's read_parquet over FILES (a SQL string or list literal: paths or a glob) with the
    layout's partition columns typed (an org directory that looks like a number stays text)."""
    extra = "filename = true, " if filename else ""
    return (
        f"read_parquet({files}, {extra}hive_partitioning = true,"
        " hive_types = {'org': VARCHAR, 'event_type': VARCHAR, 'day': DATE})"
    )


def every_file(folder: Path) -> str:
    """The glob (a SQL literal) of every partition file under FOLDER."""
    return _literal(folder / "*" / "*" / "*" / "*.parquet")


def events_folder(con: duckdb.DuckDBPyConnection) -> Path:
    """The partitions' folder of the store CON is open on: `<db file>-events` beside it."""
    row = first_row(
        con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    )
    if not row or not row[0]:
        raise PartitionError("an in-memory database has no event partitions")
    db = Path(row[0]).resolve()
    return db.with_name(db.name + "-events")


def _view_sql(folder: Path) -> str:
    columns = EVENT_COLUMNS.replace("attributes", "CAST(attributes AS JSON) AS attributes")
    return f"CREATE OR REPLACE VIEW events AS SELECT {columns}, day FROM {read_files(every_file(folder))}"


def _ensure_placeholder(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    target = folder / _PLACEHOLDER
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    empty = (
        "SELECT " + ", ".join(f"NULL::{kind} AS {column}" for column, kind in _IN_FILE.items()) + " LIMIT 0"
    )
    con.execute(f"COPY ({empty}) TO {_literal(temporary)} (FORMAT parquet, COMPRESSION zstd)")
    os.replace(temporary, target)


def attach_view(con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
    """Point `events` at this store's partitions (a store moved with its folder, e.g. unpacked
    from `workbench pack`, is re-pointed on its first writable open), and clear what a crashed
    writer left behind."""
    folder = events_folder(con)
    recover(con, folder)
    row = first_row(con.execute("SELECT value FROM meta WHERE key = ?", [_FOLDER_KEY]))
    if row and row[0] == str(folder) and (folder / _PLACEHOLDER).exists():
        return
    (stored,) = first_row(con.execute("SELECT count(*) FROM event_files")) or (0,)
    if stored and not folder.is_dir():
        raise PartitionError(
            f"the store's events folder {folder} is missing: a store is the .duckdb file and this "
            "folder beside it (copy both, or hand it over with workbench pack)"
        )
    if read_only:
        raise StoreMoved(f"the store's event partitions must be re-pointed to {folder}")
    _ensure_placeholder(con, folder)
    con.execute(_view_sql(folder))
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_FOLDER_KEY, str(folder)])


def move_events_out(con: duckdb.DuckDBPyConnection) -> list[EventFile]:
    """Migration: move the rows of an `events` table into partitions and replace the table with
    the view (inside the caller's transaction; if it fails, `recover` removes the files written)."""
    kind = first_row(
        con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'events'")
    )
    folder = events_folder(con)
    foreign = [p for p in folder.rglob("*.parquet") if p.relative_to(folder) != _PLACEHOLDER]
    if foreign:  # a folder left beside a deleted store, or someone else's: never read, never deleted
        raise PartitionError(
            f"{folder} already holds {len(foreign)} Parquet file(s) that belong to no store: move it "
            "away (or delete it) before using this database"
        )
    _ensure_placeholder(con, folder)
    written: list[EventFile] = []
    if kind and kind[0] == "BASE TABLE":
        (count,) = first_row(con.execute("SELECT count(*) FROM events"))
        if count:
            written = write_batch(con, "SELECT * FROM events", folder)
            record(con, written)
        con.execute("DROP TABLE events")
    con.execute(_view_sql(folder))
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_FOLDER_KEY, str(folder)])
    return written


def _batch_name() -> str:
    return f"b{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"


def write_batch(con: duckdb.DuckDBPyConnection, rows_sql: str, folder: Path) -> list[EventFile]:
    """Write the events ROWS_SQL selects as one batch of partition files, in place but not yet in
    the catalog: `record` them in the same transaction as the rest, then `settle` (or, if that
    transaction fails, `recover` removes them)."""
    batch = _batch_name()
    staging = folder / f"{_STAGING}{batch}"
    select = f"SELECT {_FILE_SELECT}, org_id AS org, event_type, CAST(ts AS DATE) AS day FROM ({rows_sql})"
    con.execute(
        f"""COPY ({select}) TO {_literal(staging)}
            (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (org, event_type, day),
             FILENAME_PATTERN {_literal(batch + "_{i}")})"""
    )
    if not any(staging.rglob("*.parquet")):  # no rows (the folder may or may not be there)
        shutil.rmtree(staging, ignore_errors=True)
        return []
    found = con.execute(
        f"""SELECT filename, any_value(org_id), any_value(event_type), any_value(day), count(*)
              FROM {read_files(every_file(staging), filename=True)}
             GROUP BY filename ORDER BY filename"""
    ).fetchall()
    files = [
        EventFile(
            Path(name).relative_to(staging).as_posix(),
            org,
            event_type,
            day,
            int(rows),
            Path(name).stat().st_size,
        )
        for name, org, event_type, day, rows in found
    ]
    return _land(folder, staging, batch, files)


# Directory names Polars may write as they are: DuckDB leaves these characters unescaped, so its
# hive reader reads back the same value. Anything else (a dot, a space, a slash) is written by
# DuckDB's COPY, which percent-encodes it.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def write_encoded(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, folder: Path) -> list[EventFile]:
    """`write_batch` for events already in memory (FRAME has the view's columns but `day`) whose
    names need encoding (not `plain_names`): DuckDB's COPY writes them, on CON."""
    con.register("frame_rows", frame.to_arrow())
    try:
        return write_batch(con, "SELECT * FROM frame_rows", folder)
    finally:
        con.unregister("frame_rows")


def plain_names(frame: pl.DataFrame) -> bool:
    """Whether every org id and event type of FRAME may name a folder as it is."""
    names = frame.select(pl.col("org_id").unique().implode(), pl.col("event_type").unique().implode()).row(0)
    return all(_PLAIN_NAME.match(name) for values in names for name in values)


def write_plain(frame: pl.DataFrame, folder: Path) -> list[EventFile]:
    """`write_batch` for events in memory whose names are plain (`plain_names`): Polars writes one
    zstd file per partition, without a round trip through DuckDB or a read back of what was
    written. Touches no database, so it may run beside the transaction that will name them."""
    if frame.is_empty():
        return []
    batch = _batch_name()
    parts: dict[str, tuple[str, str, date, pl.DataFrame]] = {}
    days = frame.with_columns(pl.col("ts").dt.date().alias("day"))
    for (org, event_type, day), part in _partitions(days).items():
        assert isinstance(org, str) and isinstance(event_type, str) and isinstance(day, date)
        path = f"org={org}/event_type={event_type}/day={day.isoformat()}/{batch}_0.parquet"
        parts[path] = (org, event_type, day, part)
    # Each file is written beside its final name (under a suffix the view's glob skips), then
    # renamed: no staging folders, whose directories ext4 allocated and freed again for every
    # batch (about 3% of the benchmark's CPU time went to finding free inodes). The marker names
    # both before the first byte is written, so `recover` removes either after a crash.
    marker = folder / f"{_PENDING}{batch}"
    marker.write_text(json.dumps([name for path in parts for name in (path, path + _PART)]), encoding="utf-8")
    written = []
    for relative in sorted(parts):
        org, event_type, day, part = parts[relative]
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + _PART)
        # One file at a time: Polars' writer already uses both cores.
        write_parquet_file(part.select(list(_IN_FILE)), partial)
        os.replace(partial, target)
        written.append(EventFile(relative, org, event_type, day, part.height, target.stat().st_size))
    return written


def write_parquet_file(frame: pl.DataFrame, target: Path) -> None:
    """One partition file. zstd's level 1 writes some 15% faster than its default for a store
    about 5% larger."""
    frame.write_parquet(target, compression="zstd", compression_level=1)


def _partitions(frame: pl.DataFrame) -> dict[tuple[object, ...], pl.DataFrame]:
    """FRAME's rows per (org_id, event_type, day). A chunk of daily files comes as one run of
    rows per partition: then the parts are slices (no copy); otherwise partition_by gathers them."""
    keys = ["org_id", "event_type", "day"]
    run = frame.select(pl.struct(keys).rle_id().alias("run"))["run"]
    starts = frame.select(keys).with_row_index("start").filter(run != run.shift(1, fill_value=-1))
    if starts.select(pl.struct(keys).is_unique().all()).item():
        bounds = [*starts["start"].to_list(), frame.height]
        return {
            tuple(key): frame.slice(start, end - start)
            for key, start, end in zip(starts.select(keys).iter_rows(), bounds, bounds[1:], strict=False)
        }
    return frame.partition_by(*keys, as_dict=True)


def _land(folder: Path, staging: Path, batch: str, files: list[EventFile]) -> list[EventFile]:
    """Move a staged batch into place under a pending marker (so `recover` can remove it until
    the catalog names it)."""
    marker = folder / f"{_PENDING}{batch}"
    marker.write_text(json.dumps([f.path for f in files]), encoding="utf-8")
    for f in files:
        target = folder / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / f.path, target)
    shutil.rmtree(staging, ignore_errors=True)
    return files


def summary(
    con: duckdb.DuckDBPyConnection, folder: Path, files: list[EventFile]
) -> list[tuple[int, str, str, int, datetime, datetime]]:
    """Per input file, org and event type in FILES: (file id, org, type, rows, first, last)."""
    if not files:
        return []
    paths = "[" + ", ".join(_literal(folder / f.path) for f in files) + "]"
    return con.execute(
        f"""SELECT file_id, org_id, event_type, count(*), min(ts), max(ts)
              FROM {read_files(paths)}
             GROUP BY ALL"""
    ).fetchall()


def record(con: duckdb.DuckDBPyConnection, files: list[EventFile]) -> None:
    """Name FILES in the catalog (inside the caller's transaction)."""
    if not files:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    insert_rows(
        con,
        "event_files",
        "(?, ?, ?, ?, ?, ?, ?)",
        [(f.path, f.org_id, f.event_type, f.day, f.rows, f.bytes, now) for f in files],
    )


def settle(folder: Path) -> None:
    """After the commit: the batches written are part of the store; forget their markers."""
    for marker in folder.glob(f"{_PENDING}*"):
        marker.unlink(missing_ok=True)


def recover(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Remove what a writer that died mid-batch left: staging folders, and renamed files that no
    catalog row names (the commit never happened). Safe in a read-only open too: holding the
    store at all means no writer is running."""
    if not folder.is_dir():
        return
    for staging in folder.glob(f"{_STAGING}*"):
        shutil.rmtree(staging, ignore_errors=True)
    markers = list(folder.glob(f"{_PENDING}*"))
    if not markers:
        return
    has_catalog = first_row(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'event_files'")
    )
    for marker in markers:
        try:
            paths = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            paths = []
        known: set[str] = set()
        if has_catalog and has_catalog[0] and paths:
            rows = con.execute(
                "SELECT path FROM event_files WHERE list_contains(?, path)", [paths]
            ).fetchall()
            known = {r[0] for r in rows}
        for path in paths:
            if path not in known and ".." not in Path(path).parts:
                (folder / path).unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
