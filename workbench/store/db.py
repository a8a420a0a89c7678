"""Open the engagement's DuckDB file: offline settings, the single-writer lock, migrations."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from workbench.store import partitions
from workbench.store.queries import first_row, migration_scripts

DEFAULT_DB = Path("workbench.duckdb")
SCHEMA_VERSION = len(migration_scripts())
PARTITIONS_VERSION = 9
"""The migration after which raw events live in Parquet partitions (workbench.store.partitions)."""


class StoreError(Exception):
    """A problem with the database file that the user can act on; the message says what."""


class DatabaseBusy(StoreError):
    """Another process holds the write lock on the database file."""


class _NeedsWriter(Exception):
    """A read-only open found work only a writable open can do (a migration)."""


def resolve_db_path(path: Path | str | None) -> Path:
    """The DB path from --db, else $WORKBENCH_DB, else ./workbench.duckdb."""
    if path:
        return Path(path)
    env = os.environ.get("WORKBENCH_DB")
    return Path(env) if env else DEFAULT_DB


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<prog>\S+) \(PID (?P<pid>\d+)\)")
# A DuckDB file starts with an 8-byte checksum and this magic; the first 3 x 4 KiB are headers,
# then come the blocks the header counts (DuckDB storage format, stable since v0.2).
_DUCKDB_MAGIC = b"DUCK"
_HEADERS_BYTES = 3 * 4096
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_file_kind(path: Path) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB sees it: given a SQLite file,
    DuckDB tries to load its sqlite extension and fails with a message about extensions."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read database {path}: {exc.strerror or exc}") from None
    if head.startswith(_SQLITE_MAGIC):
        raise StoreError(f"{path} is a SQLite database, not a workbench (DuckDB) store: pass another --db")
    if head[8:12] != _DUCKDB_MAGIC:
        what = "an empty file" if not head else "not a DuckDB database"
        raise StoreError(f"{path} is {what}, not a workbench store: pass another --db")


def _check_complete(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A file cut short (a partial copy or download) opens, then fails on the first read of a
    missing block; its header says how many blocks hold data, so compare with its size. The
    block count can run one block ahead of the file on a healthy store (a block allocated, not
    yet written at the end), so one block of slack keeps a good store from being refused."""
    row = first_row(
        con.execute(
            "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = current_database()"
        )
    )
    if not row or not path.exists():
        return
    block_size, used_blocks = int(row[0]), int(row[1])
    expected = _HEADERS_BYTES + block_size * (used_blocks - 1)
    actual = path.stat().st_size
    if actual < expected:
        raise StoreError(
            f"database {path} is cut short ({actual:,} bytes of at least {expected:,}): "
            "restore it from a complete copy"
        )


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    # Offline by design: never try to fetch or auto-load an extension (json, parquet and icu
    # are built in).
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        text = str(exc)
        match = _LOCK_HOLDER.search(text)
        if match or "lock" in text.lower():
            holder = f"{Path(match['prog']).name} (PID {match['pid']})" if match else "another process"
            raise DatabaseBusy(f"database is in use by {holder}: {path}") from None
        raise StoreError(f"cannot open database {path}: {text.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise StoreError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from None


def open_store(path: Path | str | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating and migrating if needed) the store and return a connection."""
    db_path = resolve_db_path(path)
    if read_only and not db_path.exists():
        raise StoreError(f"no database at {db_path}: ingest some logs first (workbench ingest PATH)")
    if not read_only:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    _check_file_kind(db_path)
    con = _connect(db_path, read_only)
    try:
        _check_complete(con, db_path)
        if read_only:
            if schema_version(con) < SCHEMA_VERSION:
                raise _NeedsWriter
            if schema_version(con) > SCHEMA_VERSION:
                raise StoreError(
                    f"{db_path} has schema version {schema_version(con)}, newer than this workbench "
                    f"({SCHEMA_VERSION}): upgrade workbench"
                )
        else:
            migrate(con)
        partitions.attach_view(con, read_only)
    except (partitions.StoreMoved, _NeedsWriter):
        # An older schema, or a store copied or unpacked with its events folder: one brief
        # writable open migrates it or re-points its view, then it opens read-only.
        con.close()
        try:
            open_store(db_path).close()
        except DatabaseBusy:
            raise StoreError(
                f"{db_path} must be migrated or re-pointed once by a writable open, and another "
                "process holds it: try again when it is done"
            ) from None
        return open_store(db_path, read_only=True)
    except partitions.PartitionError as exc:
        con.close()
        raise StoreError(str(exc)) from None
    except duckdb.Error as exc:
        # A damaged file may open and fail on the first read of the catalog.
        con.close()
        raise StoreError(f"cannot open database {db_path}: {str(exc).splitlines()[0]}") from None
    except Exception:
        con.close()
        raise
    return con


@contextmanager
def store(path: Path | str | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context-managed open_store."""
    con = open_store(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version recorded in `meta`, 0 for an empty database."""
    exists = first_row(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'")
    )
    if not exists or not exists[0]:
        return 0
    row = first_row(con.execute("SELECT value FROM meta WHERE key = 'schema_version'"))
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply the migrations this database has not seen yet, each in its own transaction."""
    current = schema_version(con)
    newer = SCHEMA_VERSION
    if current > newer:
        raise StoreError(
            f"the database has schema version {current}, newer than this workbench ({newer}): "
            "upgrade workbench"
        )
    for version, script in enumerate(migration_scripts(), start=1):
        if version <= current:
            continue
        con.execute("BEGIN")
        try:
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.execute(script)
            if version == PARTITIONS_VERSION:  # a step SQL alone cannot take: it writes files
                partitions.move_events_out(con)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            partitions.recover(con, partitions.events_folder(con))  # files the catalog never named
            raise
        partitions.settle(partitions.events_folder(con))
    return newer
