"""Report: a Markdown preview of the incident summary from marked findings and the back-check."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.investigate.service import BuiltReport, build_report
from workbench.tui.widgets.common import Pane


class ReportPane(Pane):
    """Confirmed findings (else every high or critical one) and the current back-check scope."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.built: BuiltReport | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="report-scroll"):
            yield Static("Building the report...", id="report-preview", markup=False)

    @work(thread=True, exclusive=True, group="report")
    def load(self) -> None:
        try:
            built = build_report(self.workbench.cursor(), [], self.workbench.backcheck_scope, [],
                                 "Incident summary: SaaS integration token abuse", ["tui"])  # fmt: skip
        except ValueError as exc:
            self.app.call_from_thread(self._message, f"Nothing to report yet: {exc}")
            return
        except Exception as exc:
            self.app.call_from_thread(self.fail, exc)
            return
        self.app.call_from_thread(self.show, built)

    def _message(self, text: str) -> None:
        self.query_one("#report-preview", Static).update(text)

    def show(self, built: BuiltReport) -> None:
        self.built = built
        # The Markdown source as plain text (what ctrl+e writes), log strings literal.
        self.query_one("#report-preview", Static).update(Text(built.markdown))

    def markdown(self) -> str | None:
        """The previewed report, for export."""
        return self.built.markdown if self.built else None
