"""The one way the CLI prints rows: `show(rows, columns, format, title)`.

A table (Rich) and Markdown show the COLUMNS, every cell made inert (never markup, Markdown escaped
and defanged by workbench.render); JSON and CSV carry each row's whole record (every field of a
mapping row, else the columns), timestamps as ISO 8601 UTC, CSV cells neutralised.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from rich.table import Table
from rich.text import Text

from workbench.cli.common import Format, emit, out
from workbench.render import csv_text, escape_markdown, inert, iso, md_table

R = TypeVar("R")


@dataclass(frozen=True)
class Column(Generic[R]):
    """One column: its header, the value it shows for a row, and how it sits in a table."""

    header: str
    value: Callable[[R], object]
    right: bool = False  # numbers
    wrap: bool = True
    style: Callable[[R], str] | None = None


def position(index: int) -> Callable[[Sequence[Any]], object]:
    """The value at INDEX of a tuple row."""
    return lambda row: row[index]


def minute(value: datetime | date | None) -> str:
    """A timestamp to the minute (UTC), '' for none."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def count(value: int | None) -> str:
    """A count with thousands separators."""
    return f"{value or 0:,}"


def joined(values: Sequence[object] | None, limit: int | None = None) -> str:
    """A list as 'a, b, c' (the first LIMIT items)."""
    return ", ".join(str(v) for v in (values or [])[:limit])


def plain(value: Any) -> Any:
    """JSON-ready data: timestamps as ISO 8601 UTC, collections recursed, anything else as text."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _record(row: object, columns: Sequence[Column[Any]]) -> dict[str, Any]:
    if isinstance(row, Mapping):
        return dict(row)
    return {c.header: c.value(row) for c in columns}


def show(
    rows: Sequence[R],
    columns: Sequence[Column[R]],
    fmt: Format | str = Format.table,
    title: str | None = None,
) -> None:
    """Print ROWS in FMT: table, json, markdown or csv (see the module's docstring)."""
    if fmt == Format.json:
        emit(json.dumps([plain(_record(r, columns)) for r in rows], indent=2) + "\n")
    elif fmt == Format.csv:
        records = [_record(r, columns) for r in rows]
        headers = list(records[0]) if records else [c.header for c in columns]
        emit(csv_text(headers, [[plain(v) for v in rec.values()] for rec in records]))
    elif fmt == Format.markdown:
        heading = [f"# {escape_markdown(title)}", ""] if title else []
        lines = md_table([c.header for c in columns], [[c.value(r) for c in columns] for r in rows])
        emit("\n".join([*heading, *lines]) + "\n")
    else:
        out.print(table(rows, columns, title))


def table(rows: Sequence[R], columns: Sequence[Column[R]], title: str | None = None) -> Table:
    """ROWS as a Rich table whose every cell shows its value literally."""
    grid = Table(title=Text(inert(title)) if title is not None else None)
    for column in columns:
        grid.add_column(
            Text(inert(column.header)),
            justify="right" if column.right else "left",
            overflow="fold",
            no_wrap=not column.wrap,
        )
    for row in rows:
        grid.add_row(*(Text(_cell(c.value(row)), style=c.style(row) if c.style else "") for c in columns))
    return grid


def _cell(value: object) -> str:
    """A cell's text, inert; a list shows one item per line (a newline inside an item stays
    visible as a placeholder: it is the log's, not ours)."""
    if isinstance(value, list | tuple):
        return "\n".join(inert(item) for item in value)
    return inert(value)
