"""Report: a Markdown preview of the incident summary from marked findings and the back-check."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult

from workbench.investigate.service import BuiltReport, build_report
from workbench.tui.panes.base import Pane
from workbench.tui.state import PaneContext, WorkbenchState
from workbench.tui.widgets.document import LongText

REPORT_TITLE = "Incident summary: SaaS integration token abuse"


class ReportPane(Pane):
    """Confirmed findings (else every high or critical one) and the current back-check scope."""

    NAME = "report"
    TITLE = "Report"
    KEY = "7"
    FOCUS = "#report-preview"
    EXPORT = "incident report as Markdown"

    def __init__(self, context: PaneContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.built: BuiltReport | None = None

    def compose(self) -> ComposeResult:
        # Wrapped off the UI thread, only the lines on screen rendered: a report on 1,000+
        # findings is a megabyte of Markdown.
        yield LongText("Building the report...", id="report-preview")

    @work(thread=True, exclusive=True, group="report")
    def load(self) -> None:
        scope = self.state.backcheck_scope

        def build(cursor: Any) -> BuiltReport | str:
            try:
                return build_report(cursor, [], scope, [], REPORT_TITLE, ["tui"])
            except ValueError as exc:
                return f"Nothing to report yet: {exc}"

        self.fetch(build, self.show)

    def state_changed(self, before: WorkbenchState, after: WorkbenchState) -> None:
        if (before.backcheck_scope, before.triage_version) != (after.backcheck_scope, after.triage_version):
            self.loaded = False  # built again on the next visit, with the new scope and decisions

    def _message(self, text: str) -> None:
        self.query_one("#report-preview", LongText).set_text(text)

    def show(self, built: BuiltReport | str) -> None:
        if isinstance(built, str):
            self._message(built)
            return
        self.built = built
        # The Markdown source as plain text (what ctrl+e writes), log strings literal.
        self.query_one("#report-preview", LongText).set_text(built.markdown)

    def markdown(self) -> str | None:
        """The previewed report, for export."""
        return self.built.markdown if self.built else None

    def export(self) -> tuple[str, str] | None:
        return ("incident.md", self.built.markdown) if self.built else None
