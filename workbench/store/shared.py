"""A store held open for a long time beside other commands (the TUI).

DuckDB locks the file per process: several processes may hold it read-only at once, but a
process that holds it for writing excludes every other, readers included. So a long-lived
session keeps a read-only connection, and `workbench backcheck`, `report` or `findings` run
beside it. To write (a triage decision, a suppression) it waits for its reads in flight,
swaps that connection for a read-write one, writes, and swaps back; while another process
holds the store it retries for a while instead of failing at once.

The two connections cannot be open together: DuckDB refuses a second, differently configured
connection to a file already open in the same process, so a write really closes the reader.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from workbench.store.db import DatabaseBusy, StoreError, open_store

Prepare = Callable[[duckdb.DuckDBPyConnection], None]


def _retrying(open_: Callable[[], duckdb.DuckDBPyConnection], patience: float) -> duckdb.DuckDBPyConnection:
    """OPEN_, retried while another process holds the store, for up to PATIENCE seconds."""
    deadline = time.monotonic() + patience
    delay = 0.05
    while True:
        try:
            return open_()
        except DatabaseBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class SharedStore:
    """Reads share one read-only connection; a write briefly takes the store read-write.

    `prepare` runs on every read-only connection opened (the TUI confines it with
    `workbench.console.lock_down`); `patience` is how long a write (or the reopen after it)
    waits for another process to let go of the store before giving up with DatabaseBusy."""

    def __init__(self, path: Path, prepare: Prepare | None = None, patience: float = 10.0) -> None:
        self.path = path
        self.patience = patience
        self._prepare = prepare or (lambda con: None)
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False
        self._closed = False
        self._con: duckdb.DuckDBPyConnection | None
        try:
            self._con = self._open_reader()
        except DatabaseBusy:
            raise
        except StoreError:
            # No store yet, or an older schema: create or migrate it once, read-write, then read.
            # (A damaged file fails here again, with open_store's own words.)
            _retrying(lambda: open_store(path), patience).close()
            self._con = self._open_reader()

    def _open_reader(self) -> duckdb.DuckDBPyConnection:
        con = _retrying(lambda: open_store(self.path, read_only=True), self.patience)
        try:
            self._prepare(con)
        except Exception:
            con.close()
            raise
        return con

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own on the read-only connection, for one thread (waits out a write)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._writing)
            if self._closed:
                raise DatabaseBusy(f"the store {self.path} is closed")
            if self._con is None:  # the reopen after a write found the store busy: try again
                self._con = self._open_reader()
            cursor = self._con.cursor()
            self._readers += 1
        try:
            yield cursor
        finally:
            cursor.close()
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The store read-write, for one block: other threads' reads wait until it is done.
        Raises DatabaseBusy when another process kept the store for longer than `patience`."""
        with self._changed:
            self._changed.wait_for(lambda: not self._writing)
            self._writing = True
            self._changed.wait_for(lambda: self._readers == 0)
        try:
            if self._con is not None:
                self._con.close()
                self._con = None
            writer = _retrying(lambda: open_store(self.path), self.patience)
            try:
                yield writer
            finally:
                writer.close()
        finally:
            try:
                self._con = self._open_reader()
            except DatabaseBusy:
                pass  # another process took the store at once: the next read tries again
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()

    def close(self) -> None:
        """Let go of the store (reads after this raise DatabaseBusy)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._writing)
            self._closed = True
            if self._con is not None:
                self._con.close()
                self._con = None
