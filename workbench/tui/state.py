"""The one state the panes share. Panes read it; only the app replaces it, on a message
(`workbench.tui.messages`), and then tells each pane what changed (`Pane.state_changed`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from workbench.config import Settings
from workbench.investigate.scope import Scope
from workbench.store.shared import SharedStore
from workbench.tui.work import RunningQueries


@dataclass(frozen=True)
class WorkbenchState:
    """What every pane may look at; frozen, so a pane cannot change it behind the app's back."""

    focus_time: datetime
    """The time in focus (lnav-style): starts at the latest event; the Timeline centres on it."""
    focus_entity: str | None = None
    """The app or user last opened from a finding."""
    backcheck_scope: Scope | None = None
    """The last back-check's window and apps, for the Report."""
    triage_version: int = 0
    """Counts the triage decisions stored in this session: panes that show findings reload on a change."""


@dataclass(frozen=True)
class PaneContext:
    """What the app hands each pane: the current state, the store, the settings."""

    state: Callable[[], WorkbenchState]
    """The state now (the app replaces the object, so panes ask each time)."""
    store: SharedStore
    """The store: a read-only cursor per worker, read-write only while a worker writes."""
    settings: Settings
    running: RunningQueries = field(default_factory=RunningQueries)
    """The cursors in use now: what Escape and quit interrupt."""
