"""The pane base class: what a tab declares about itself, and how it loads data off the UI thread.

A pane never imports the app. It reads the shared state (`self.state`), gets a cursor per worker
from its `PaneContext`, and tells the app what happened by posting a message
(`workbench.tui.messages`); the app answers by calling `state_changed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import duckdb
from textual.containers import Vertical

from workbench.render import inert
from workbench.tui.state import PaneContext, WorkbenchState

T = TypeVar("T")


class Pane(Vertical):
    """A tab's content: loads its data in a thread worker with its own DuckDB cursor."""

    NAME: ClassVar[str]
    """The pane's id in actions, binding ids (`go.NAME`) and widget ids (`tab-NAME`, `NAME-pane`)."""
    TITLE: ClassVar[str]
    """The tab's label and the palette's `go: TITLE`."""
    KEY: ClassVar[str]
    """The key that opens the tab."""
    FOCUS: ClassVar[str | None] = None
    """The widget that takes the keys when the tab opens (None: leave focus alone)."""
    PRELOAD: ClassVar[bool] = False
    """Load when the app starts rather than on the first visit."""

    loaded = False

    def __init__(self, context: PaneContext, **kwargs: Any) -> None:
        kwargs.setdefault("id", f"{self.NAME}-pane")
        super().__init__(**kwargs)
        self.context = context

    @property
    def state(self) -> WorkbenchState:
        """The shared state now (read-only: post a message to change it)."""
        return self.context.state()

    def state_changed(self, before: WorkbenchState, after: WorkbenchState) -> None:
        """The app changed the shared state (after a message); a pane that shows it reacts here."""

    def load(self) -> object:
        """Fetch and show the pane's data (each pane starts its own worker)."""
        return None

    def ensure_loaded(self) -> None:
        """Load on the first visit only; ctrl+r reloads (revisiting a tab costs nothing)."""
        if not self.loaded:
            self.loaded = True
            self.load()

    def fetch(self, compute: Callable[[duckdb.DuckDBPyConnection], T], show: Callable[[T], None]) -> None:
        """In a worker thread: COMPUTE with a cursor of its own, then SHOW on the UI thread (or
        show the error as a notification)."""
        try:
            data = compute(self.context.cursor())
        except Exception as exc:  # shown, never a crash
            self.app.call_from_thread(self.fail, exc)
            return
        self.app.call_from_thread(show, data)

    def fail(self, error: BaseException) -> None:
        """Show a worker's error as a notification, never a crash (its text is never markup)."""
        self.app.notify(
            inert(f"{type(error).__name__}: {error}")[:300], severity="error", timeout=8, markup=False
        )
