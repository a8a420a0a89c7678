"""The Textual investigation workbench: overview, anomalies, timeline, IPs, exposure, queries, report.

How it fits together (attributes down, messages up):

- `panes.PANES` is the list of tabs; each pane class declares its name, key and focus. The tabs,
  the `go.*` bindings and the palette are built from it.
- Panes read the shared `WorkbenchState` and post `messages` when something happened; only this app
  replaces the state (`on_*` handlers below), then calls every pane's `state_changed`.
- All database work runs in thread workers with their own DuckDB cursor; the UI never waits on a query.
"""

from __future__ import annotations

import gc
import os
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar, overload

import duckdb
from textual import events, on
from textual.app import App, ComposeResult
from textual.notifications import SeverityLevel
from textual.widget import Widget
from textual.widgets import Header, Input, Static, TabbedContent, TabPane

from workbench.config import Settings
from workbench.console import lock_down
from workbench.files import describe_os_error, write_atomic
from workbench.investigate.scope import Scope
from workbench.render import inert
from workbench.store.queries import first_row
from workbench.store.shared import SharedStore
from workbench.times import TimeError, parse_moment
from workbench.tui import settings as saved
from workbench.tui.commands import COMMANDS, WorkbenchCommands, bindings, widget_commands, with_keys
from workbench.tui.messages import FocusMoved, FocusStepped, ScopeSet, TriageChanged
from workbench.tui.panes import PANES, Pane
from workbench.tui.panes.anomalies import AnomaliesPane
from workbench.tui.screens.modals import HelpScreen, PromptScreen
from workbench.tui.screens.raw_events import RawEventsScreen
from workbench.tui.state import PaneContext, WorkbenchState
from workbench.tui.widgets.footer import KeysFooter
from workbench.tui.widgets.table import TableActions

P = TypeVar("P", bound=Pane)
PANE_NAMED = {pane.NAME: pane for pane in PANES}
NARROW = 120
"""Below this many columns, detail panels stack under their tables."""


class WorkbenchApp(App[None]):
    """One engagement's store, seven panes."""

    TITLE = "workbench"
    CSS_PATH = "app.tcss"
    BINDINGS = bindings()
    COMMANDS = App.COMMANDS | {WorkbenchCommands}

    def __init__(
        self, db_path: Path, settings: Settings | None = None, store: SharedStore | None = None
    ) -> None:
        """Open the app on the store at DB_PATH: read-only, so other commands can read it too
        (raises workbench.store.db.StoreError, or DatabaseBusy while another process writes)."""
        super().__init__()
        self.db_path = db_path
        # The Queries pane's console shares this process's store instance, so the instance
        # itself is kept to the store's own files.
        self.store = store or SharedStore(db_path, prepare=lambda con: confine(con, db_path))
        self.settings = settings or Settings()
        with self.store.reading() as cursor:
            last = first_row(cursor.execute("SELECT max(last_ts) FROM hourly_activity"))[0]
        self.state = WorkbenchState(focus_time=last or datetime(2025, 1, 1))
        self.context = PaneContext(state=lambda: self.state, store=self.store, settings=self.settings)
        self.running = self.context.running
        self.history: list[str] = []
        self.sub_title = inert(db_path)
        remembered = saved.load()
        theme = remembered.get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self.keymap = saved.keymap(remembered)
        self.commands = with_keys([*COMMANDS, *widget_commands()], self.keymap)
        """The commands with the user's keys: what the help screen and the palette show."""
        self.set_keymap(self.keymap)

    # The shared state, by name (read-only: panes post messages, the handlers below change it).
    @property
    def focus_time(self) -> datetime:
        return self.state.focus_time

    @property
    def focus_entity(self) -> str | None:
        return self.state.focus_entity

    @property
    def backcheck_scope(self) -> Scope | None:
        return self.state.backcheck_scope

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs", initial=f"tab-{PANES[0].NAME}"):
            for pane in PANES:
                with TabPane(f"{pane.KEY} {pane.TITLE}", id=f"tab-{pane.NAME}"):
                    yield pane(self.context)
        yield Static("", id="work-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        # Full garbage collections over the result sets the panes hold stalled the event loop by
        # 50-100 ms (measured by bench_tui.py): move what survived into the permanent generation
        # every few seconds, so collections only walk new objects, and make full ones rare. Young
        # collections stay small: one over 50,000 new objects took 10-30 ms (landing inside a
        # screen update while switching panes); over 2,000, a few ms at most.
        gc.set_threshold(2_000, 10, 100)
        self.set_interval(3.0, lambda: gc.freeze())
        saved.save({"db": str(self.db_path.resolve())})
        unknown = sorted(set(self.keymap) - binding_ids())
        if unknown:
            self.notify(f"tui.json: no key binding has the id(s) {', '.join(unknown)}", severity="warning")
        for pane in self.query(Pane):
            if pane.PRELOAD:
                pane.ensure_loaded()
        self.set_interval(0.2, self.show_running)
        self.fit_width(self.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self.fit_width(event.size.width)

    def fit_width(self, width: int) -> None:
        """Below NARROW columns, detail panels stack under their tables (see app.tcss)."""
        for tabs in self.query("#tabs"):
            tabs.set_class(width < NARROW, "narrow")

    def show_running(self) -> None:
        """Say what is running, while it runs (Escape interrupts it)."""
        labels = self.running.labels()
        # The screen shown: the main screen's line under another one (raw events, which shows its
        # own status) would be laid out again, unseen, each time a query starts or ends.
        found = self.screen.query("#work-status").results(Static)
        status = next(iter(found), None)
        if status is None:
            return
        text = f"running {', '.join(sorted(set(labels)))}... (esc cancels)" if labels else ""
        if status.content == text and status.display == bool(labels):
            return  # unchanged: an update would lay the screen out again, five times a second
        status.display = bool(labels)
        status.update(text)

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

    @overload
    def pane(self, kind: type[P]) -> P: ...
    @overload
    def pane(self, kind: str) -> Pane: ...
    def pane(self, kind: type[Pane] | str) -> Pane:
        """The pane of a tab, by class or by name."""
        cls = PANE_NAMED[kind] if isinstance(kind, str) else kind
        return self.query_one(f"#{cls.NAME}-pane", cls)

    @property
    def active(self) -> str:
        """The tab shown now."""
        return self.query_one("#tabs", TabbedContent).active.removeprefix("tab-")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        name = (event.pane.id or "").removeprefix("tab-")
        if name not in PANE_NAMED:
            return
        if name != self.active:
            return  # a later key already moved on: focus nothing in a pane that is hidden again
        pane = self.pane(name)
        if pane.FOCUS:
            self.query_one(pane.FOCUS).focus()  # the pane's keys work straight away
        # The first visit's worker starts once the pane is drawn: started before, its Python work
        # (turning rows into objects, building a report) took the GIL from the screen update
        # that shows the pane, and that update took up to twice as long (bench_tui.py).
        self.call_after_refresh(pane.ensure_loaded)

    # --- messages from the panes: the only place the shared state changes ----------------------

    def change_state(self, after: WorkbenchState) -> None:
        """Replace the shared state and tell every pane."""
        before, self.state = self.state, after
        for pane in self.query(Pane):
            pane.state_changed(before, after)

    @on(FocusMoved)
    def move_focus(self, message: FocusMoved) -> None:
        entity = message.entity_id or self.state.focus_entity
        self.change_state(replace(self.state, focus_time=message.moment, focus_entity=entity))
        if message.open_timeline:
            self.action_go("timeline")

    @on(FocusStepped)
    def step_focus(self, message: FocusStepped) -> None:
        self.change_state(
            replace(self.state, focus_time=self.state.focus_time + timedelta(hours=message.hours))
        )

    @on(TriageChanged)
    def triage_stored(self, message: TriageChanged) -> None:
        self.notify(f"{message.summary}: {message.status}", timeout=3)
        self.change_state(replace(self.state, triage_version=self.state.triage_version + 1))

    @on(ScopeSet)
    def keep_scope(self, message: ScopeSet) -> None:
        self.change_state(replace(self.state, backcheck_scope=message.scope))

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

    def action_triage(self, status: str) -> None:
        if self.active != AnomaliesPane.NAME:
            self.notify(f"triage works on the Anomalies pane (key {AnomaliesPane.KEY})", severity="warning")
            return
        self.pane(AnomaliesPane).triage(status)

    def action_note(self) -> None:
        anomalies = self.pane(AnomaliesPane)
        finding = anomalies.selected()
        if self.active != AnomaliesPane.NAME or not finding:
            self.notify("select a finding on the Anomalies pane first", severity="warning")
            return

        def done(note: str | None) -> None:
            if note:
                anomalies.triage(finding.get("status") or "new", note)

        self.push_screen(PromptScreen("Note for this finding:", finding.get("note") or ""), done)

    def action_filter(self) -> None:
        self.action_go(AnomaliesPane.NAME)
        self.query_one("#anomaly-filter").focus()

    def action_refresh(self) -> None:
        self.pane(self.active).load()

    def action_cancel_work(self) -> None:
        """Escape: interrupt the running queries, and leave a text box (its pane keeps the keys);
        with neither to do, go back to the pane you came from (unlike `q`, it never quits)."""
        interrupted = self.running.interrupt()
        if interrupted:
            self.notify(f"cancelled: {', '.join(sorted(set(interrupted)))}", timeout=3)
        if isinstance(self.focused, Input):
            pane = self.pane(self.active)
            if pane.FOCUS and not isinstance(self.query_one(pane.FOCUS), Input):
                self.query_one(pane.FOCUS).focus()
            else:
                self.set_focus(None)
        elif not interrupted and self.history:
            self.action_go_back()

    async def action_quit(self) -> None:
        """ctrl+q: interrupt whatever runs (its worker thread would hold the exit), then leave."""
        self.running.interrupt()
        self.exit()

    def action_goto(self, moment: str | None = None) -> None:
        """Move the focus time (`:goto 2025-11-15 14:00`); asks for the time when none is given."""
        if moment is None:
            self.push_screen(PromptScreen("Go to time (UTC), e.g. 2025-11-15 14:00:", ""), self.action_goto)
            return
        if not moment.strip():
            return
        try:
            when = parse_moment(moment, "goto")
        except TimeError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.change_state(replace(self.state, focus_time=when))
        self.notify(f"focus time {when:%Y-%m-%d %H:%M} UTC", timeout=3)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.commands))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
        saved.save({"theme": self.theme})

    def action_export(self) -> None:
        # The raw events screen exports its page; otherwise the pane shown exports what it shows.
        source: RawEventsScreen | Pane = (
            self.screen if isinstance(self.screen, RawEventsScreen) else self.pane(self.active)
        )
        exported = source.export()
        if exported is None:
            self.notify(f"nothing to export here yet ({source.EXPORT})", severity="warning")
            return
        default, text = exported

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

        self.push_screen(PromptScreen(f"Export {source.EXPORT} to:", default), write)


def confine(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    """The TUI's store connection: DuckDB leaves a core to the UI thread (its worker threads
    otherwise take every core, and the event loop stalls while a query runs), then lock_down."""
    con.execute("SET threads = ?", [max(1, (os.cpu_count() or 2) - 1)])
    lock_down(con, db_path)


def binding_ids() -> set[str]:
    """Every binding id a user can rebind in tui.json: the commands, the panes' and the tables' keys."""
    widgets: list[type[Widget]] = [*PANES, TableActions, RawEventsScreen]
    return {c.id for c in COMMANDS} | {
        b.id for w in widgets for b in w.BINDINGS if not isinstance(b, tuple) and b.id is not None
    }


def run(db_path: Path, settings: Settings) -> int:
    """Open the TUI on the store (blocks until the user quits); the exit code: 0, or non-zero
    if the app stopped on an unhandled error."""
    app = WorkbenchApp(db_path, settings)
    try:
        app.run()
    finally:
        app.store.close()
    return app.return_code or 0
