"""The Textual investigation workbench: overview, anomalies, timeline, IPs, exposure, queries, report.

All database work runs in thread workers with their own DuckDB cursor; the UI never waits on a query.
"""

from __future__ import annotations

import gc
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from textual.app import App, ComposeResult
from textual.notifications import SeverityLevel
from textual.widgets import Footer, Header, TabbedContent, TabPane

from workbench.config import Settings
from workbench.console import lock_down
from workbench.files import describe_os_error, write_atomic
from workbench.investigate.scope import Scope
from workbench.render import inert
from workbench.tui import settings as saved
from workbench.tui.commands import PANES, WorkbenchCommands, bindings
from workbench.tui.screens.modals import HelpScreen, PromptScreen
from workbench.tui.widgets.anomalies import AnomaliesPane
from workbench.tui.widgets.common import Pane
from workbench.tui.widgets.exposure import ExposurePane
from workbench.tui.widgets.ips import IpsPane
from workbench.tui.widgets.overview import OverviewPane
from workbench.tui.widgets.queries import QueriesPane
from workbench.tui.widgets.report import ReportPane
from workbench.tui.widgets.timeline import TimelinePane

PANE_CLASSES: dict[str, type[Pane]] = {
    "overview": OverviewPane, "anomalies": AnomaliesPane, "timeline": TimelinePane, "ips": IpsPane,
    "exposure": ExposurePane, "queries": QueriesPane, "report": ReportPane,
}  # fmt: skip
TITLES = {"ips": "IPs"}
FOCUS = {"anomalies": "#anomalies", "timeline": "#timeline-hours", "ips": "#ips", "exposure": "#exposure-run",
         "queries": "#query-results", "report": "#report-scroll"}  # fmt: skip


class WorkbenchApp(App[None]):
    """One engagement's store, seven panes."""

    TITLE = "workbench"
    CSS_PATH = "app.tcss"
    BINDINGS = bindings()
    COMMANDS = App.COMMANDS | {WorkbenchCommands}

    def __init__(
        self, con: duckdb.DuckDBPyConnection, db_path: Path, settings: Settings | None = None
    ) -> None:
        super().__init__()
        self.con = con
        self.db_path = db_path
        # The Queries pane's console shares this process's store instance (DuckDB allows no second,
        # read-only one beside it), so the instance itself is kept to the store's own files.
        if not con.execute("SELECT current_setting('lock_configuration')").fetchall()[0][0]:
            lock_down(con, db_path)
        self.settings = settings or Settings()
        last = con.execute("SELECT max(last_ts) FROM hourly_activity").fetchall()[0][0]
        # The time in focus, shared by the panes (lnav-style): starts at the latest event.
        self.focus_time: datetime = last or datetime(2025, 1, 1)
        self.focus_entity: str | None = None
        self.backcheck_scope: Scope | None = None
        self.history: list[str] = []
        self.sub_title = inert(db_path)
        theme = saved.load().get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs", initial="tab-overview"):
            for n, pane in enumerate(PANES, start=1):
                with TabPane(f"{n} {TITLES.get(pane, pane.capitalize())}", id=f"tab-{pane}"):
                    yield PANE_CLASSES[pane](id=f"{pane}-pane")
        yield Footer()

    def on_mount(self) -> None:
        # Full garbage collections over the result sets the panes hold stalled the event loop by
        # 50-100 ms (measured by bench_tui.py). Collect less often, and move what survived into the
        # permanent generation every few seconds so collections only walk new objects.
        gc.set_threshold(50_000, 20, 100)
        self.set_interval(3.0, lambda: gc.freeze())
        saved.save({"db": str(self.db_path.resolve())})
        self.pane("overview").ensure_loaded()
        self.pane("anomalies").ensure_loaded()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast (widgets' too) shows its text literally: messages carry log strings and
        exception text, which must never be read as markup (a `[@click=...]` would be an action)."""
        super().notify(inert(message), title=inert(title), severity=severity, timeout=timeout, markup=False)

    def on_unmount(self) -> None:
        gc.unfreeze()  # let everything be collected normally again once the UI is gone
        gc.set_threshold(700, 10, 10)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own for a worker thread."""
        return self.con.cursor()

    def pane(self, name: str) -> Any:
        """The pane widget of a tab."""
        return self.query_one(f"#{name}-pane", PANE_CLASSES[name])

    @property
    def active(self) -> str:
        """The tab shown now."""
        return self.query_one("#tabs", TabbedContent).active.removeprefix("tab-")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        name = (event.pane.id or "").removeprefix("tab-")
        if name in FOCUS:
            self.query_one(FOCUS[name]).focus()  # the pane's keys work straight away
        if name in PANE_CLASSES:
            self.pane(name).ensure_loaded()

    # --- actions (named in workbench.tui.commands) ---------------------------------------------

    def action_go(self, pane: str) -> None:
        if self.active != pane:
            self.history.append(self.active)
        # Drop focus first: focus left inside the old pane would move to its next widget and
        # TabbedContent would switch right back to the pane that holds it.
        self.set_focus(None)
        self.query_one("#tabs", TabbedContent).active = f"tab-{pane}"

    def action_go_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self.history:
            self.set_focus(None)
            self.query_one("#tabs", TabbedContent).active = f"tab-{self.history.pop()}"
        else:
            self.exit()

    def show_timeline(self, entity_id: str, moment: datetime) -> None:
        """Jump to an entity's timeline at a moment (enter on a finding)."""
        self.focus_time = moment
        self.focus_entity = entity_id
        timeline = self.pane("timeline")
        timeline.entity_id = entity_id
        self.action_go("timeline")
        timeline.load_entities()

    def action_triage(self, status: str) -> None:
        if self.active != "anomalies":
            self.notify("triage works on the Anomalies pane (key 2)", severity="warning")
            return
        self.pane("anomalies").triage(status)

    def action_note(self) -> None:
        if self.active != "anomalies" or not self.pane("anomalies").selected():
            self.notify("select a finding on the Anomalies pane first", severity="warning")
            return
        finding = self.pane("anomalies").selected()

        def done(note: str | None) -> None:
            if note:
                self.pane("anomalies").triage(finding.get("status") or "new", note)

        self.push_screen(PromptScreen("Note for this finding:", finding.get("note") or ""), done)

    def action_filter(self) -> None:
        self.action_go("anomalies")
        self.query_one("#anomaly-filter").focus()

    def action_refresh(self) -> None:
        self.pane(self.active).load()

    def action_cancel_work(self) -> None:
        running = [w for w in self.workers if w.is_running]
        if running:
            self.workers.cancel_all()
            self.notify(f"cancelled {len(running)} running task(s)", timeout=3)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
        saved.save({"theme": self.theme})

    def action_export(self) -> None:
        source = self.pane("exposure") if self.active == "exposure" else self.pane("report")
        text = source.markdown()
        if text is None:
            self.notify(
                "nothing to export yet: run a back-check (Exposure) or open the Report", severity="warning"
            )
            return
        default = "backcheck.md" if source is self.pane("exposure") else "incident.md"

        def write(path: str | None) -> None:
            if not path:
                return
            target = Path(path).expanduser()
            try:
                write_atomic(target, inert(text, keep_newlines=True))
            except OSError as exc:
                self.notify(describe_os_error(exc, target), severity="error")
                return
            self.notify(f"wrote {target}", timeout=4)

        self.push_screen(PromptScreen("Export Markdown to:", default), write)


def run(con: duckdb.DuckDBPyConnection, db_path: Path, settings: Settings) -> int:
    """Open the TUI on an open store (blocks until the user quits); the exit code: 0, or non-zero
    if the app stopped on an unhandled error."""
    app = WorkbenchApp(con, db_path, settings)
    app.run()
    return app.return_code or 0
