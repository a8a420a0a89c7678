"""Exposure: the back-check form, run in a worker, results as Markdown, export to a file."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Static

from workbench.investigate.backcheck import Backcheck, run_backcheck
from workbench.investigate.ioc import parse_iocs
from workbench.investigate.report import backcheck_markdown
from workbench.investigate.scope import Scope
from workbench.tui.messages import ScopeSet
from workbench.tui.panes.base import Pane
from workbench.tui.state import PaneContext


def parse_time(value: str) -> datetime:
    """YYYY-MM-DD[THH:MM] (UTC)."""
    return datetime.fromisoformat(value.strip().removesuffix("Z").replace(" ", "T"))


class ExposurePane(Pane):
    """Back-check a window for an app, a user or addresses; export the result as Markdown."""

    NAME = "exposure"
    TITLE = "Exposure"
    KEY = "5"
    FOCUS = "#exposure-run"
    EXPORT = "back-check as Markdown"

    def __init__(self, context: PaneContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.result: Backcheck | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="exposure-form"):
            yield Input(placeholder="start (UTC) 2025-11-17", id="exposure-start")
            yield Input(placeholder="end (UTC) 2025-11-20", id="exposure-end")
            yield Input(placeholder="app id (optional)", id="exposure-app")
            yield Input(placeholder="IOC file (optional)", id="exposure-ioc")
            yield Button("Back-check", id="exposure-run", variant="primary")
        with VerticalScroll(id="exposure-scroll"):
            yield Static(
                "Fill the window and press Back-check (the result stays here; ctrl+e exports it as Markdown).",
                id="exposure-result",
                markup=False,
            )

    def load(self) -> None:
        start = self.query_one("#exposure-start", Input)
        if not start.value:
            state = self.state
            focus = state.focus_time.replace(hour=0, minute=0, second=0, microsecond=0)
            start.value = (focus - timedelta(days=2)).strftime("%Y-%m-%d")
            self.query_one("#exposure-end", Input).value = (focus + timedelta(days=1)).strftime("%Y-%m-%d")
            if state.focus_entity and state.focus_entity.startswith("0H4"):
                self.query_one("#exposure-app", Input).value = state.focus_entity

    @on(Button.Pressed, "#exposure-run")
    @on(Input.Submitted)
    def run(self) -> None:
        try:
            start = parse_time(self.query_one("#exposure-start", Input).value)
            end_text = self.query_one("#exposure-end", Input).value.strip()
            end = parse_time(end_text) + (timedelta(days=1) if len(end_text) == 10 else timedelta())
            app_id = self.query_one("#exposure-app", Input).value.strip()
            scope = Scope(start, end, [app_id] if app_id else [])
            ioc = self.query_one("#exposure-ioc", Input).value.strip()
            indicators = parse_iocs(Path(ioc))[0] if ioc else []
        except Exception as exc:  # a bad time or IOC file: said in place, in one line
            self.query_one("#exposure-result", Static).update(Text(f"cannot run: {exc}", style="red"))
            return
        self.query_one("#exposure-result", Static).update("Running the back-check... (escape cancels)")
        self.backcheck(scope, indicators)

    @work(thread=True, exclusive=True, group="exposure")
    def backcheck(self, scope: Scope, indicators: list[Any]) -> None:
        self.fetch(lambda cursor: run_backcheck(cursor, scope, indicators), self.show, "back-check")

    def show(self, result: Backcheck) -> None:
        self.result = result
        self.post_message(ScopeSet(result.scope))
        # The Markdown source as plain text: log strings in it stay literal.
        self.query_one("#exposure-result", Static).update(Text(backcheck_markdown(result)))

    def markdown(self) -> str | None:
        """The current result as Markdown, for export."""
        return backcheck_markdown(self.result) if self.result else None

    def export(self) -> tuple[str, str] | None:
        text = self.markdown()
        return ("backcheck.md", text) if text is not None else None

    def cancelled(self) -> None:
        self.query_one("#exposure-result", Static).update("The back-check was cancelled.")
