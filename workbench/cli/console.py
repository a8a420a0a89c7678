"""The read-only SQL console from the command line: query.

The console service is imported inside the command, not at the top: start-up time; `workbench
status` and `--help` must not pay for it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from workbench.cli import tables
from workbench.cli.common import DbOption, checked, opened, say
from workbench.cli.tables import Column, position
from workbench.store.db import resolve_db_path

commands = typer.Typer()


class QueryFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@commands.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL, or the name of a query in queries/.")],
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Rows to show.")] = 50,
    format: Annotated[QueryFormat, typer.Option("--format", help="Output format.")] = QueryFormat.table,
) -> None:
    """Run one read-only query (or a named query) against the store and print the rows.

    The console opens the store read-only with no access to other files or extensions, and runs
    exactly one SELECT-like statement (see README, Security model)."""
    from workbench.console import MEMORY_LIMIT, ConsoleError, lock_down, run_console

    with opened(db, read_only=True) as con:
        lock_down(con, resolve_db_path(db), MEMORY_LIMIT)
        result = checked(lambda: run_console(con, sql, limit), ConsoleError, prefix="query failed: ")
    columns = [Column[tuple[Any, ...]](name, position(i)) for i, name in enumerate(result.columns)]
    tables.show(result.rows, columns, format.value)
    say(result.summary, stderr=True)
