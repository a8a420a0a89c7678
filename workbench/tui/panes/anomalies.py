"""Anomalies: the incidents, each expandable to its findings; a filter lists the matching findings
flat. Sortable, with detail, sparkline, multi-select triage and suppression."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Input, Sparkline, Static

from workbench import views
from workbench.detect.registry import detector_names
from workbench.investigate.incidents import Incident
from workbench.render import inert, to_csv
from workbench.store.findings import add_suppression, set_triage
from workbench.tui.messages import FocusMoved, TriageChanged
from workbench.tui.panes.base import Pane
from workbench.tui.state import PaneContext, WorkbenchState
from workbench.tui.widgets.page_table import PageTable, Styled, lay_out
from workbench.tui.widgets.table import SEVERITY_STYLE

COLUMNS = ("severity", "score", "detector", "entity", "window (UTC)", "status", "findings", "story")
INCIDENT_KEY = "incident:"
"""Row keys of incident rows start with this; a finding's row key is its id."""
MARK = "\u2713 "
"""Before the severity of a marked row."""


class AnomaliesPane(Pane):
    """The heart of the workbench: findings, their reasons, and triage."""

    NAME = "anomalies"
    TITLE = "Anomalies"
    KEY = "2"
    FOCUS = "#anomalies"
    PRELOAD = True
    EXPORT = "findings as CSV"

    BINDINGS = [
        Binding("i", "copy_id", "Copy finding id", id="anomalies.copy_id"),
        Binding("space,l", "expand", "Expand/collapse incident", id="anomalies.toggle"),
        Binding("v", "mark", "Mark row", id="anomalies.mark"),
        Binding("S", "suppress", "Suppress detector for entity", id="anomalies.suppress"),
    ]

    def __init__(self, context: PaneContext, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.rows: list[dict[str, Any]] = []
        """The findings shown (the filter applied)."""
        self.every: list[dict[str, Any]] = []
        """Every stored finding, as last loaded: the filter narrows these as you type."""
        self.incidents: list[Incident] = []
        """The incidents of every stored finding, most severe first."""
        self.collapsed: set[str] = set()
        """Incidents shown without their findings (incidents start expanded)."""
        self.marked: set[str] = set()
        """Row keys marked for triage (an incident's key stands for all its members)."""
        self.shown: list[tuple[Incident | None, dict[str, Any] | None]] = []
        """The table's rows in order: (incident, None), (incident, member), or (None, finding) when filtered."""
        # Decisions are stored one at a time, in the order they were made (a note after a status).
        self._triage_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="/ filter: words, detector:new_ip, severity:high, status:new, date:2025-11-19, since:...",
            id="anomaly-filter",
        )
        yield Static("", id="anomaly-count")
        with Horizontal(id="anomaly-body"):
            # A line-API table: a DataTable drew its visible cells again each time the pane was
            # shown (25-40 ms in one event-loop step with 1,400 rows); this one crops lines.
            yield PageTable(COLUMNS, id="anomalies")
            with VerticalScroll(id="anomaly-side"):
                yield Static("Select a finding.", id="anomaly-detail")
        yield Sparkline([], id="anomaly-sparkline")

    @work(thread=True, exclusive=True, group="anomalies")
    def load(self) -> None:
        self.fetch(views.anomaly_incidents, self.show)

    def state_changed(self, before: WorkbenchState, after: WorkbenchState) -> None:
        if after.triage_version != before.triage_version:
            self.load()  # show the new status where the cursor was

    def show(self, found: tuple[list[dict[str, Any]], list[Incident], list[str]]) -> None:
        every, incidents, suggestions = found
        first = not self.every and not self.incidents
        self.every, self.incidents = every, incidents
        self.marked &= {f["id"] for f in every} | {INCIDENT_KEY + i.id for i in incidents}
        self.query_one("#anomaly-filter", Input).suggester = SuggestFromList(
            suggestions, case_sensitive=False
        )
        self.show_rows(views.filter_findings(every, self.query_one("#anomaly-filter", Input).value), first)

    def show_rows(self, rows: list[dict[str, Any]], first: bool = False) -> None:
        """Show ROWS (the findings the filter keeps): grouped under their incidents when there is no
        filter, flat when there is one; the cursor on the row it was on (or, FIRST, on the first
        finding)."""
        self.rows = rows
        table = self.query_one("#anomalies", PageTable)
        was = self._cursor_key()
        keep = table.cursor_row
        if self.query_one("#anomaly-filter", Input).value.strip():
            self.shown = [(None, f) for f in rows]
        else:
            expanded = {i.id for i in self.incidents} - self.collapsed
            self.shown = list(views.incident_rows(self.incidents, expanded))
        keys, cells = [], []
        for incident, finding in self.shown:
            key = _key(incident, finding)
            keys.append(key)
            marked = key in self.marked
            if finding is not None:
                cells.append(_cells(finding, indent=incident is not None, marked=marked))
            elif incident is not None:
                cells.append(_incident_cells(incident, incident.id not in self.collapsed, marked))
        table.set_page(lay_out(COLUMNS, cells, keys=keys))
        grouped = (
            "" if not self.shown or self.shown[0][0] is None else f" in {len(self.incidents)} incident(s)"
        )
        marks = f", {len(self.marked)} marked" if self.marked else ""
        table.border_title = f"{len(rows)} of {len(self.every)} finding(s){grouped}{marks}"
        self.query_one("#anomaly-count", Static).update(Text(str(table.border_title)))
        if not self.shown:
            self.query_one("#anomaly-detail", Static).update("No finding matches the filter.")
            return
        if first:  # the most severe finding, not its incident's row
            row = next((n for n, (_, f) in enumerate(self.shown) if f is not None), 0)
        elif was in keys:
            row = keys.index(was)
        else:
            row = min(keep, len(self.shown) - 1)
        table.move_cursor(row=row)
        self.describe_row(row)

    @on(Input.Changed, "#anomaly-filter")
    def filter_typed(self, event: Input.Changed) -> None:
        """The filter applies as you type, the cursor on the first match."""
        self.show_rows(views.filter_findings(self.every, event.value), first=True)

    @on(Input.Submitted, "#anomaly-filter")
    def filter_changed(self, event: Input.Submitted) -> None:
        moment = views.filter_moment(event.value)
        if moment is not None:  # date:/since: moves the focus time there too
            self.post_message(FocusMoved(None, moment))
        self.query_one("#anomalies", PageTable).focus()

    def action_copy_id(self) -> None:
        finding = self.selected()
        if finding:
            self.app.copy_to_clipboard(finding["id"])
            self.app.notify(f"copied finding id {finding['id']}", timeout=2)

    def export(self) -> tuple[str, str] | None:
        return ("findings.csv", to_csv(self.rows, with_triage=True)) if self.rows else None

    @on(PageTable.RowHighlighted, "#anomalies")
    def highlighted(self, event: PageTable.RowHighlighted) -> None:
        self.describe_row(event.cursor_row)

    @on(PageTable.RowSelected, "#anomalies")
    def open_timeline(self, event: PageTable.RowSelected) -> None:
        """Enter: a finding opens its timeline; an incident expands or collapses."""
        finding = self.selected()
        if finding:
            self.post_message(FocusMoved(finding["entity_id"], finding["window_start"], open_timeline=True))
        elif self.selected_incident():
            self.action_expand()

    def _row(self, key: str | None) -> tuple[Incident | None, dict[str, Any] | None]:
        return next(((i, f) for i, f in self.shown if _key(i, f) == key), (None, None))

    def _cursor_key(self) -> str | None:
        table = self.query_one("#anomalies", PageTable)
        return table.row_key(table.cursor_row) if self.shown else None

    def selected(self) -> dict[str, Any] | None:
        """The finding under the cursor (None on an incident's row)."""
        return self._row(self._cursor_key())[1]

    def selected_incident(self) -> Incident | None:
        """The incident under the cursor (None on a finding's row)."""
        incident, finding = self._row(self._cursor_key())
        return incident if finding is None else None

    def describe_row(self, row: int) -> None:
        incident = self.selected_incident()
        finding = self.selected()
        if finding:
            self.describe(finding)
        elif incident:
            self.query_one("#anomaly-detail", Static).update(incident_detail(incident))
            self.sparkline_for(incident.entity_id, incident.window_start)

    def action_expand(self) -> None:
        """Expand or collapse the incident under the cursor (or the one of the finding under it)."""
        incident = self._row(self._cursor_key())[0]
        if incident is None:
            return
        self.collapsed ^= {incident.id}
        table = self.query_one("#anomalies", PageTable)
        if self._cursor_key() != INCIDENT_KEY + incident.id:  # collapsing from a member: onto its incident
            table.move_cursor(row=table.get_row_index(INCIDENT_KEY + incident.id))
        self.show_rows(self.rows)

    def action_mark(self) -> None:
        """Mark (or unmark) the row under the cursor for triage, then move down."""
        key = self._cursor_key()
        if key is None:
            return
        self.marked ^= {key}
        table = self.query_one("#anomalies", PageTable)
        row = table.cursor_row
        self.show_rows(self.rows)
        table.move_cursor(row=min(row + 1, table.row_count - 1))

    def targets(self) -> list[dict[str, Any]]:
        """The findings a triage key acts on: the marked rows (an incident: all its members), or the
        row under the cursor."""
        keys = sorted(self.marked) if self.marked else [k for k in [self._cursor_key()] if k]
        by_id = {f["id"]: f for f in self.every}
        found: dict[str, dict[str, Any]] = {}
        for key in keys:
            if key.startswith(INCIDENT_KEY):
                incident = next((i for i in self.incidents if INCIDENT_KEY + i.id == key), None)
                found.update((m["id"], m) for m in (incident.members if incident else []))
            elif key in by_id:
                found[key] = by_id[key]
        return list(found.values())

    def describe(self, f: dict[str, Any]) -> None:
        self.query_one("#anomaly-detail", Static).update(finding_detail(f))
        self.sparkline_for(f["entity_id"], f["window_start"])

    @work(thread=True, exclusive=True, group="anomaly-sparkline")
    def sparkline_for(self, entity_id: str, moment: Any) -> None:
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=13)

        def daily(cursor: Any) -> list[float]:
            hours = views.timeline(cursor, entity_id, start, start + timedelta(days=14))["hours"]
            days = [(start + timedelta(days=d), start + timedelta(days=d + 1)) for d in range(14)]
            return [sum(views.hour_series(hours, first, last)) for first, last in days]

        self.fetch(daily, self._set_sparkline)

    def _set_sparkline(self, values: list[float]) -> None:
        sparkline = self.query_one("#anomaly-sparkline", Sparkline)
        sparkline.data = values
        sparkline.tooltip = "calls per day, last 14 days of the entity"

    def triage(self, status: str, note: str | None = None) -> None:
        """Store a decision on the selected findings (in a worker; the app is told when it landed)."""
        findings = self.targets()
        if not findings:
            self.app.notify("no finding selected", severity="warning")
            return
        self.marked = set()
        if len(findings) == 1:
            (finding,) = findings
            summary = f"{finding['detector']} on {finding['entity_label']}"
            self.write_triage(finding["id"], status, note, summary)
        else:
            self.write_triages([f["id"] for f in findings], status, note, f"{len(findings)} findings")

    # Not exclusive: every decision must land, even when the next one is made before it did.
    @work(thread=True, group="triage")
    def write_triage(self, finding_id: str, status: str, note: str | None, summary: str) -> None:
        def store(cursor: Any) -> str:
            with self._triage_lock:
                return set_triage(cursor, finding_id, status, note)

        def stored(full_id: str) -> None:
            self.post_message(TriageChanged(full_id, status, summary))  # the app answers: see state_changed

        self.fetch(store, stored, "saving triage", writes=True)

    @work(thread=True, group="triage")
    def write_triages(self, finding_ids: list[str], status: str, note: str | None, summary: str) -> None:
        """Several decisions in one worker, then one message (for the first; the app reloads all)."""

        def store(cursor: Any) -> list[str]:
            with self._triage_lock:
                return [set_triage(cursor, finding_id, status, note) for finding_id in finding_ids]

        def stored(full_ids: list[str]) -> None:
            self.post_message(TriageChanged(full_ids[0], status, summary))

        self.fetch(store, stored, "saving triage", writes=True)

    def action_suppress(self) -> None:
        """Suppress the detector of the finding under the cursor for its entity, asking why."""
        finding = self.selected()
        if not finding:
            self.app.notify("put the cursor on a finding to suppress its detector", severity="warning")
            return
        # Deferred: the modals import the command list, which imports the panes.
        from workbench.tui.screens.modals import PromptScreen

        detector, entity = finding["detector"], finding["entity_id"]

        def done(reason: str | None) -> None:
            if reason:
                self.write_suppression(finding["id"], detector, entity, reason)

        question = f"Suppress {detector} for {inert(finding['entity_label'])}: reason?"
        self.app.push_screen(PromptScreen(question, ""), done)

    @work(thread=True, group="triage")
    def write_suppression(self, finding_id: str, detector: str, entity: str, reason: str) -> None:
        def store(cursor: Any) -> int:
            with self._triage_lock:
                return add_suppression(cursor, detector, entity, None, reason, detector_names())

        def stored(count: int) -> None:
            summary = f"{detector} on {entity} ({count} finding(s))"
            self.post_message(TriageChanged(finding_id, "suppressed", summary))

        self.fetch(store, stored, "saving suppression", writes=True)


def incident_detail(incident: Incident) -> Text:
    """An incident: its score, story, lines and members, each member one line."""
    detail = Text()
    style = SEVERITY_STYLE.get(incident.severity, "")
    detail.append(f"{incident.severity.upper()} {incident.score}  ", style=style)
    detail.append(f"incident on {inert(incident.entity_label)}\n", style="bold")
    _field(detail, "incident id", inert(incident.id))
    _field(detail, "entity", f"{inert(incident.entity_type)} {inert(incident.entity_id)}")
    window = f"{incident.window_start:%Y-%m-%d %H:%M} to {incident.window_end:%Y-%m-%d %H:%M} UTC"
    _field(detail, "window", window)
    _field(detail, "status", f"{incident.status}  ({len(incident.members)} finding(s))")
    detail.append("\n" + inert(incident.story) + "\n\n")
    for line in incident.lines:
        detail.append(f"  {inert(line)}\n")
    detail.append("\nfindings\n", style="bold underline")
    for m in incident.members:
        detail.append(f"{m['severity']} {m['score']} {inert(m['detector'])}: ", style="bold")
        detail.append(inert(m["explanation"]) + "\n")
    return detail


def finding_detail(f: dict[str, Any]) -> Text:
    """A finding as labelled fields: what, who, when, why, then its evidence field by field."""
    detail = Text()
    detail.append(f"{f['severity'].upper()} {f['score']}  ", style=SEVERITY_STYLE.get(f["severity"], ""))
    detail.append(f"{inert(f['detector'])} ({inert(f['category'])})\n", style="bold")
    _field(detail, "finding id", f"{inert(f['id'])}  (i copies)")
    _field(
        detail, "entity", f"{inert(f['entity_label'])}  [{inert(f['entity_type'])} {inert(f['entity_id'])}]"
    )
    _field(detail, "window", f"{f['window_start']:%Y-%m-%d %H:%M} to {f['window_end']:%Y-%m-%d %H:%M} UTC")
    _field(detail, "observed", f"{f['observed']}   baseline {f['baseline']}")
    _field(detail, "status", f"{f['status']}" + (f"  note: {inert(f['note'])}" if f.get("note") else ""))
    detail.append("\n" + inert(f["explanation"]) + "\n\n")
    evidence = f.get("evidence") or {}
    if evidence:
        detail.append("evidence\n", style="bold underline")
    for label, items, more in views.evidence_fields(evidence if isinstance(evidence, dict) else {}):
        more_text = f" (+{more} more)" if more else ""
        if sum(len(item) + 2 for item in items) <= 60:  # short values: one line
            _field(detail, label, ", ".join(items) + more_text)
            continue
        detail.append(f"{label}:\n", style="bold")
        for item in items:
            detail.append(f"  {item}\n")
        if more:
            detail.append(f"  +{more} more\n", style="italic")
    return detail


def _field(text: Text, label: str, value: str) -> None:
    text.append(f"{label}: ", style="bold")
    text.append(value + "\n")


def _key(incident: Incident | None, finding: dict[str, Any] | None) -> str:
    """A row's key: the finding's id, or the incident's id after INCIDENT_KEY."""
    if finding is not None:
        return str(finding["id"])
    return INCIDENT_KEY + (incident.id if incident else "")


def _cells(f: dict[str, Any], indent: bool = False, marked: bool = False) -> list[Any]:
    """One finding's row (INDENT: under its incident), for `lay_out` (which makes it inert)."""
    return [
        Styled((MARK if marked else "") + f["severity"], SEVERITY_STYLE.get(f["severity"], "")),
        str(f["score"]),
        ("  " if indent else "") + f["detector"],
        f["entity_label"],
        f["window_start"],
        f["status"],
        "",
        "",
    ]


def _incident_cells(incident: Incident, expanded: bool, marked: bool = False) -> list[Any]:
    """One incident's row: its members' count, and its story."""
    return [
        Styled((MARK if marked else "") + incident.severity, SEVERITY_STYLE.get(incident.severity, "")),
        str(incident.score),
        ("\u25be " if expanded else "\u25b8 ") + "incident",
        incident.entity_label,
        incident.window_start,
        incident.status,
        str(len(incident.members)),
        incident.story,
    ]
