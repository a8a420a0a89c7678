"""Queries: the named SQL files with their descriptions; run one or typed SQL, read-only."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from workbench import views
from workbench.console import ConsoleError, ConsoleResult, run_console
from workbench.tui.panes.base import Pane
from workbench.tui.widgets.table import WorkbenchTable, literal

ROW_CAP = 1000


class QueriesPane(Pane):
    """Pick a query (enter) or type SQL: one read-only statement through workbench.console, the
    same runner as `workbench query`."""

    NAME = "queries"
    TITLE = "Queries"
    KEY = "6"
    FOCUS = "#query-results"
    EXPORT = "results as CSV"

    def compose(self) -> ComposeResult:
        options = [Option(Text(f"{name}: {about}"), id=name) for name, about in views.query_catalog()]
        yield OptionList(*options, id="query-list")
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

    def run_sql(self, sql: str) -> None:
        """Run SQL in a worker, saying so in place until it is done or cancelled."""
        self.query_one("#query-status", Static).update(literal("running... (esc cancels)", "italic"))
        self._run_worker(sql)

    @work(thread=True, exclusive=True, group="query")
    def _run_worker(self, sql: str) -> None:
        self.fetch(lambda cursor: self._run(cursor, sql), self.show)

    def _run(self, cursor: Any, sql: str) -> ConsoleResult | str:
        try:
            return run_console(cursor, sql, ROW_CAP)
        except ConsoleError as exc:
            return f"query failed: {exc}"  # shown in the status line, like the CLI's message

    def fail(self, error: BaseException) -> None:
        """Errors stay in place, in the status line, in one line (never a toast)."""
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        self.query_one("#query-status", Static).update(literal(f"query failed: {first}", "red"))

    def cancelled(self) -> None:
        self.query_one("#query-status", Static).update(literal("query cancelled", "yellow"))

    def show(self, result: ConsoleResult | str) -> None:
        status = self.query_one("#query-status", Static)
        if isinstance(result, str):
            status.update(literal(result, "red"))
            return
        table = self.query_one("#query-results", WorkbenchTable)
        table.clear(columns=True)
        # Column names come from the SQL (and so from whoever wrote it): Text, never markup.
        table.add_columns(*(literal(name) for name in result.columns))
        for row in result.rows:
            table.add_row(*(literal(v) for v in row))
        status.update(literal(result.summary))
