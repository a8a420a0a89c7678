"""Queries: the named SQL files with their descriptions; run one or typed SQL, read-only."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from workbench import views
from workbench.tui.widgets.common import Pane, WorkbenchTable, literal

ROW_CAP = 1000


class QueriesPane(Pane):
    """Pick a query (enter) or type SQL; nothing it does is kept (it runs in a rolled-back transaction)."""

    def compose(self) -> ComposeResult:
        yield OptionList(*(Option(Text(f"{name}: {about}"), id=name) for name, about in views.query_catalog()),
                         id="query-list")  # fmt: skip
        yield Input(placeholder="SQL, or a query name; enter runs it (read-only)", id="query-sql")
        yield Static("", id="query-status")
        yield WorkbenchTable(id="query-results")

    @on(OptionList.OptionSelected, "#query-list")
    def picked(self, event: OptionList.OptionSelected) -> None:
        name = str(event.option.id)
        self.query_one("#query-sql", Input).value = name
        self.run_sql(name)

    @on(Input.Submitted, "#query-sql")
    def submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.run_sql(event.value.strip())

    @work(thread=True, exclusive=True, group="query")
    def run_sql(self, sql: str) -> None:
        self.fetch(lambda cursor: views.run_readonly(cursor, sql, ROW_CAP), self.show)

    def show(self, result: tuple[list[str], list[tuple[Any, ...]], int]) -> None:
        columns, rows, total = result
        table = self.query_one("#query-results", WorkbenchTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        for row in rows:
            table.add_row(*(literal(v) for v in row))
        self.query_one("#query-status", Static).update(Text(f"{len(rows):,} of {total:,} rows"))
