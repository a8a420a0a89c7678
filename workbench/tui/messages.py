"""What panes tell the app. Panes post these and never change shared state themselves; the app
handles each one, changes `WorkbenchState`, and tells the panes (attributes down, messages up).

| message | posted by | the app then |
|---|---|---|
| `FocusMoved` | Anomalies (enter on a finding), Timeline (entity picked) | moves the focus (to the Timeline) |
| `FocusStepped` | Timeline (`[`, `]`, `,`, `.`) | moves the focus time by the step |
| `TriageChanged` | Anomalies, after its worker stored the decision | says so; finding views reload |
| `ScopeSet` | Exposure, after a back-check | keeps the scope for the Report |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.message import Message

from workbench.investigate.scope import Scope


@dataclass
class FocusMoved(Message):
    """The focus moved to an entity (None: the same one) at a moment."""

    entity_id: str | None
    moment: datetime
    open_timeline: bool = False
    """Show the entity's Timeline at that moment (enter on a finding)."""


@dataclass
class FocusStepped(Message):
    """The focus time moved by some hours (relative, so quick repeated keys all count)."""

    hours: int


@dataclass
class TriageChanged(Message):
    """A triage decision was stored (by a worker, with its own cursor)."""

    finding_id: str
    status: str
    summary: str
    """Who and what, for the toast: `detector on entity: status`."""


@dataclass
class ScopeSet(Message):
    """A back-check ran over this scope; the Report includes it."""

    scope: Scope
