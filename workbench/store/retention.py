"""Retention and hand-over: drop whole days of events, and pack a store (the DuckDB file and its
event partitions) into one `.tar.zst` for the person who takes over the engagement.

Both keep the store's guarantee that a file the catalog names exists and a file it does not name
is not read: `prune` lists the files it drops in a pending marker, commits their removal from the
catalog with their aggregates, then deletes them; a crash in between is finished by the next
open (`partitions.recover` deletes listed files the catalog no longer names).
"""

from __future__ import annotations

import json
import os
import tarfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from workbench.store import partitions

# Aggregates keyed by hour that describe the dropped days, and what they are keyed by.
_HOURLY_TABLES = {"hourly_activity": "hour", "signal_events": "ts", "client_hourly": "hour"}


class RetentionError(Exception):
    """A pack or unpack that cannot be done; the message says why in one line."""


@dataclass(frozen=True)
class Pruned:
    """What `prune` dropped."""

    files: int
    events: int
    days: int


def prune(con: duckdb.DuckDBPyConnection, before: date) -> Pruned:
    """Drop every event partition of a day before BEFORE, with the hourly aggregates of those
    days. Files, findings and triage are kept: they are the record of what was seen."""
    folder = partitions.events_folder(con)
    dropped = con.execute(
        "SELECT path, rows, day FROM event_files WHERE day < ? ORDER BY path", [before]
    ).fetchall()
    if not dropped:
        return Pruned(0, 0, 0)
    paths = [row[0] for row in dropped]
    marker = folder / f".pending-prune-{before}"
    marker.write_text(json.dumps(paths), encoding="utf-8")
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM event_files WHERE day < ?", [before])
        for table, column in _HOURLY_TABLES.items():
            con.execute(f"DELETE FROM {table} WHERE {column} < ?", [before])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        marker.unlink(missing_ok=True)
        raise
    for path in paths:
        (folder / path).unlink(missing_ok=True)
        _remove_empty_parents(folder / path, folder)
    marker.unlink(missing_ok=True)
    return Pruned(len(paths), sum(int(r[1]) for r in dropped), len({r[2] for r in dropped}))


def _remove_empty_parents(path: Path, root: Path) -> None:
    parent = path.parent
    while parent != root and parent.is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:
            return
        parent = parent.parent


def pack(con: duckdb.DuckDBPyConnection, db_path: Path, target: Path) -> int:
    """Write the store at DB_PATH (open read-write as CON, so no one writes meanwhile) into
    TARGET, a zstd-compressed tar of `<name>.duckdb` and `<name>.duckdb-events/`; returns its
    size. Written to a temporary name, then renamed: no half-written archive is left."""
    con.execute("CHECKPOINT")  # everything in the file itself, not in its write-ahead log
    folder = partitions.events_folder(con)
    named = {r[0] for r in con.execute("SELECT path FROM event_files").fetchall()}
    members = [folder / p for p in sorted(named)]
    placeholder = next(folder.glob("org=_/event_type=_/day=*/placeholder.parquet"), None)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with (
            pa.OSFile(str(temporary), "wb") as raw,
            pa.CompressedOutputStream(raw, "zstd") as stream,
            tarfile.open(fileobj=stream, mode="w|") as archive,
        ):
            archive.add(db_path, arcname=db_path.name)
            for member in [*([placeholder] if placeholder else []), *members]:
                archive.add(member, arcname=f"{folder.name}/{member.relative_to(folder).as_posix()}")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return target.stat().st_size


def unpack(archive_path: Path, into: Path) -> Path:
    """Extract a packed store into the folder INTO; returns the DuckDB file's path. Members must
    be the store's file and its events folder, nothing else (no absolute paths, no `..`, no
    links): an archive from elsewhere cannot write outside INTO."""
    into.mkdir(parents=True, exist_ok=True)
    db_name: str | None = None
    try:
        with (
            pa.OSFile(str(archive_path), "rb") as raw,
            pa.CompressedInputStream(raw, "zstd") as stream,
            tarfile.open(fileobj=stream, mode="r|") as archive,
        ):
            for member in archive:
                name = member.name
                if db_name is None:
                    if "/" in name or not member.isfile():
                        raise RetentionError(f"{archive_path} is not a packed store (first member {name!r})")
                    db_name = name
                elif not (name.startswith(f"{db_name}-events/") and member.isfile()):
                    raise RetentionError(f"{archive_path}: unexpected member {name!r}")
                if (into / name).exists():
                    raise RetentionError(f"{into / name} exists already: unpack into an empty folder")
                archive.extract(member, into, filter="data")
    except (OSError, tarfile.TarError, pa.ArrowInvalid) as exc:
        raise RetentionError(f"{archive_path} cannot be unpacked: {str(exc).splitlines()[0]}") from None
    if db_name is None:
        raise RetentionError(f"{archive_path} is empty")
    return into / db_name
