"""The scan's load stage, kept apart from the detectors so that it can start first.

The aggregates a scan reads do not depend on the judged days or the settings, so the CLI starts
their queries as soon as the store is open and imports the detector suite (numpy and a dozen
modules, about a tenth of a second) while DuckDB, which runs without the GIL, works on them.
This module imports only what opening the store has loaded already (DuckDB, Polars, the named
queries): importing it costs nothing the scan would not pay anyway.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import duckdb
import polars as pl

from workbench.store.queries import query_frame

# What every scan reads, in the order the detectors need them: the API activity first (the
# biggest, and the first the profiles read), the rest small.
AGGREGATES = ("api_activity_hourly", "auth_failures_hourly", "ip_info_all", "login_history_hourly")


def _key(name: str, params: dict[str, Any] | None) -> tuple[str, str]:
    return name, repr(params)


def _on_own_cursor(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None) -> pl.DataFrame:
    """queries/NAME.sql on a cursor of its own, closed once read: an open cursor keeps the store's
    database open after the connection closes, until the interpreter's teardown finally frees it."""
    cursor = con.cursor()
    try:
        return query_frame(cursor, name, params)
    finally:
        cursor.close()


class Loading:
    """Named queries running ahead on their own cursors, two at a time.

    While it runs, DuckDB works on one thread per query: the scan's queries are small (the
    biggest returns 63,000 rows) and run beside Python threads importing and detecting, so
    DuckDB's own parallelism only added overhead (A/B on the bench store, three series of 12-14
    alternating runs: median wall -6 to -34 ms, CPU -12 to -41 ms). `finish` gives the
    connection its setting back."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        row = con.execute("SELECT current_setting('threads')").fetchone()
        self._threads = int(row[0]) if row else None
        con.execute("SET threads = 1")
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scan-load")
        self._ahead: dict[tuple[str, str], Future[pl.DataFrame]] = {}
        self._all: list[Future[pl.DataFrame]] = []
        self._finished = False

    def submit(self, name: str, params: dict[str, Any] | None = None) -> None:
        """Start queries/NAME.sql with PARAMS, unless it is running already."""
        key = _key(name, params)
        if key not in self._ahead:
            future = self._pool.submit(_on_own_cursor, self._con, name, params)
            self._ahead[key] = future
            self._all.append(future)

    def take(self, name: str, params: dict[str, Any] | None = None) -> Future[pl.DataFrame] | None:
        """The query started for NAME with PARAMS, handed over once (None if none was)."""
        return self._ahead.pop(_key(name, params), None)

    def seal(self) -> None:
        """No more queries: the pool's threads end once the started ones are done."""
        self._pool.shutdown(wait=False)

    def finish(self) -> None:
        """Wait for every query started (their cursors must be done before the store closes),
        then give DuckDB its threads back."""
        self.seal()
        wait(self._all)
        if not self._finished:
            self._finished = True
            if self._threads is not None:
                self._con.execute(f"SET threads = {self._threads:d}")


def start_loading(con: duckdb.DuckDBPyConnection) -> Loading:
    """Start the aggregates every scan reads (see AGGREGATES) on CON's store."""
    loading = Loading(con)
    for name in AGGREGATES:
        loading.submit(name)
    return loading
