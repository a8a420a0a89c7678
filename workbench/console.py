"""The SQL console (`workbench query`, the TUI's Queries pane): one read-only statement at a time.

What it may do: run exactly one query (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE) or a
named query over the store, in a read-only transaction, on a connection that cannot read or write
other files, install or load extensions, or change its own settings. It streams only the rows it
shows, and counts the rest with a time limit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from workbench.store.queries import load_query, named_queries

COUNT_SECONDS = 3.0  # how long counting the rows beyond those shown may take before "at least"
MEMORY_LIMIT = "1GB"  # the CLI console's own connection


class ConsoleError(Exception):
    """SQL the console refuses or that failed; the message says why, in one line (shown after
    "query failed: ")."""


@dataclass
class ConsoleResult:
    """The columns, the rows shown, and the total (None when counting took too long)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    total: int | None
    seconds: float

    @property
    def summary(self) -> str:
        """'1,000 of 170,875 rows', or 'of at least 1,001' when the count gave up."""
        total = f"{self.total:,}" if self.total is not None else f"at least {len(self.rows) + 1:,}"
        return f"{len(self.rows):,} of {total} rows ({self.seconds:.2f} s)"


def _event_folders(db_path: Path) -> list[str]:
    # Event partitions beside the store file (DESIGN: <db>-events/); the only files outside the
    # database the console may read, because the events view is built on them.
    candidates = {db_path.with_name(db_path.name + "-events"), db_path.with_name(db_path.stem + "-events")}
    return [str(p.resolve()) + "/" for p in sorted(candidates) if p.is_dir()]


def lock_down(con: duckdb.DuckDBPyConnection, db_path: Path, memory_limit: str | None = None) -> None:
    """Confine a connection's database instance: no file outside the store (and its event
    partitions), no extension install or autoload, and settings locked so SQL cannot undo it.

    The CLI's `query` applies it to its own read-only connection (workbench.store.db.open_store
    with read_only=True). The TUI applies it to its store connection: DuckDB refuses a second,
    differently configured connection to a file already open in the same process, so there the
    console's read-only transaction is what keeps the store unchanged. MEMORY_LIMIT caps the
    instance (the CLI's own connection only: in the TUI it would cap every pane)."""
    folders = _event_folders(db_path)
    if folders:  # must be set while external access is still on
        con.execute("SET allowed_directories = ?", [folders])
    if memory_limit:  # a sort or join bigger than this spills to <db>.tmp instead of growing
        con.execute("SET memory_limit = ?", [memory_limit])
    for statement in (
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ):
        con.execute(statement)


def single_statement(sql: str) -> str:
    """The one query in SQL (a named query's text if SQL is a name), or ConsoleError saying why not."""
    text = load_query(sql) if sql in named_queries() else sql
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise ConsoleError(f"the SQL does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise ConsoleError(
            f"the console runs exactly one statement; this has {len(statements)} (separate them and run "
            "each on its own)"
        )
    (statement,) = statements
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name.lower()
        raise ConsoleError(
            f"the console is read-only: it runs queries (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE), "
            f"not {kind} statements"
        )
    return statement.query.strip().rstrip(";").strip()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def run_console(con: duckdb.DuckDBPyConnection, sql: str, limit: int) -> ConsoleResult:
    """Run one read-only query and return at most LIMIT rows (streamed, never the whole result)
    and the total row count (counted separately, given up after COUNT_SECONDS)."""
    query = single_statement(sql)
    started = time.monotonic()
    # A read-only transaction on top of the read-only connection: in the TUI, whose store is open
    # for writing in the same process, it is what stops a query from changing anything (even a
    # sequence), and it is always rolled back.
    con.execute("BEGIN TRANSACTION READ ONLY")
    try:
        try:
            cursor = con.execute(query)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(limit + 1) if columns else []
        except duckdb.Error as exc:
            raise ConsoleError(_first_line(exc)) from None
        total: int | None = len(rows)
        if len(rows) > limit:
            rows = rows[:limit]
            total = _count(con, query)
    finally:
        con.execute("ROLLBACK")
    return ConsoleResult(columns, rows, total, time.monotonic() - started)


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int | None:
    """The query's row count, or None if it takes longer than COUNT_SECONDS (interrupted)."""
    # The newlines keep a trailing `-- comment` in the query from swallowing the parenthesis.
    counting = f"SELECT count(*) FROM (\n{query}\n)"
    timer = threading.Timer(COUNT_SECONDS, con.interrupt)
    timer.start()
    try:
        row = con.execute(counting).fetchone()
    except duckdb.Error:
        return None  # interrupted, or a statement that cannot be a subquery: say "at least"
    finally:
        timer.cancel()
    return int(row[0]) if row else None
