"""Named SQL from the `queries/` folder (a checkout) or `workbench/queries` (an installed wheel)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

_PACKAGE = Path(__file__).resolve().parent.parent


def queries_dir() -> Path:
    """Where the .sql files live."""
    for candidate in (_PACKAGE / "queries", _PACKAGE.parent / "queries"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the queries/ folder is missing from this installation")


@cache
def load_query(name: str) -> str:
    """The text of queries/NAME.sql."""
    return (queries_dir() / f"{name}.sql").read_text(encoding="utf-8")


@cache
def migration_scripts() -> tuple[str, ...]:
    """Migration scripts in order; migration N brings the schema to version N."""
    folder = queries_dir() / "migrations"
    return tuple(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.sql")))


def statements(name: str) -> list[str]:
    """The statements of a multi-statement named query, in order (split on ';' at line end)."""
    text = "\n".join(line for line in load_query(name).splitlines() if not line.startswith("--"))
    return [part.strip() for part in text.split(";\n") if part.strip().rstrip(";")]


def describe_query(name: str) -> str:
    """The first comment line of a named query: what it returns."""
    for line in load_query(name).splitlines():
        if line.startswith("--"):
            return line.lstrip("- ").strip()
    return ""


def named_queries() -> list[str]:
    """Names of the user-facing queries (migrations excluded)."""
    return sorted(p.stem for p in queries_dir().glob("*.sql"))


def query_frame(con: Any, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """Run queries/NAME.sql and return its rows as a Polars frame."""
    return con.sql(load_query(name), params=params or None).pl()


def first_row(result: Any) -> Any:
    """The first row of an executed statement (None if it has none), consuming the result:
    DuckDB refuses new work on a connection while a result is only partly fetched."""
    rows = result.fetchall()
    return rows[0] if rows else None
