"""Named SQL from the `queries/` folder (a checkout) or `workbench/queries` (an installed wheel)."""

from __future__ import annotations

from collections.abc import Sequence
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


def normalise_types(frame: pl.DataFrame) -> pl.DataFrame:
    """DuckDB's sum() over integers is a HUGEINT, which arrives in Polars as Decimal(38, 0) or
    Int128: make whole numbers Int64 and other decimals Float64, once, where frames are loaded,
    so no consumer meets a Decimal."""
    casts = {}
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Decimal):
            casts[name] = pl.Int64 if (dtype.scale or 0) == 0 else pl.Float64
        elif dtype == pl.Int128:
            casts[name] = pl.Int64
    return frame.cast(casts) if casts else frame  # type: ignore[arg-type]


def query_frame(con: Any, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    """Run queries/NAME.sql and return its rows as a Polars frame with normalised types."""
    return normalise_types(con.sql(load_query(name), params=params or None).pl())


def first_row(result: Any) -> Any:
    """The first row of an executed statement (None if it has none), consuming the result:
    DuckDB refuses new work on a connection while a result is only partly fetched."""
    rows = result.fetchall()
    return rows[0] if rows else None


def insert_rows(con: Any, table: str, row: str, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ROWS into TABLE in one statement, each through the placeholder tuple ROW (such as
    `(?, ?, ?)`): DuckDB runs executemany as a statement per row, about four times the cost."""
    if rows:
        con.execute(
            f"INSERT INTO {table} VALUES {', '.join([row] * len(rows))}",
            [v for values in rows for v in values],
        )
