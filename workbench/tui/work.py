"""Database work off the UI thread, visible and cancellable.

Every query a pane or screen runs goes through `Loader.fetch`: a thread worker takes a DuckDB cursor
of its own, registers it in `RunningQueries` while the query runs (so Escape and quit can call
DuckDB's `interrupt()` on exactly that cursor), and hands the result back to the UI thread as a
`Fetched` message. Posting a message never blocks, so a worker finishing while the app quits ends
quietly instead of waiting on a UI loop that is gone. Cursors are read-only: the store is taken
read-write only while a worker writes, so other commands can read it while the TUI is open
(`workbench.store.shared`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import duckdb
from textual.message import Message
from textual.message_pump import MessagePump

from workbench.render import inert
from workbench.store.shared import SharedStore

T = TypeVar("T")


class RunningQueries:
    """The cursors the workers are using now, by what they are doing (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, tuple[str, duckdb.DuckDBPyConnection]] = {}
        self._interrupted: set[int] = set()

    @contextmanager
    def track(self, label: str, cursor: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Register CURSOR as running LABEL while the block runs."""
        with self._lock:
            self._running[id(cursor)] = (label, cursor)
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(id(cursor), None)

    def labels(self) -> list[str]:
        """What is running now."""
        with self._lock:
            return [label for label, _ in self._running.values()]

    def interrupt(self) -> list[str]:
        """Interrupt every running query; what was running."""
        with self._lock:
            running = list(self._running.items())
            self._interrupted |= {key for key, _ in running}
        for _, (_, cursor) in running:
            cursor.interrupt()
        return [label for _, (label, _) in running]

    def was_interrupted(self, cursor: duckdb.DuckDBPyConnection) -> bool:
        """Whether CURSOR's query was interrupted (asked once, by the worker that ran it)."""
        with self._lock:
            if id(cursor) in self._interrupted:
                self._interrupted.discard(id(cursor))
                return True
            return False


@dataclass
class Fetched(Message, bubble=False):
    """A worker's result, for the node that started it."""

    callback: Callable[..., None]
    value: tuple[Any, ...]


class Loader(MessagePump):
    """Mixed into panes and screens: `fetch` runs a query in a worker, tracked and cancellable."""

    running: RunningQueries
    store: SharedStore
    LABEL = "query"

    def fetch(
        self,
        compute: Callable[[duckdb.DuckDBPyConnection], T],
        show: Callable[[T], None],
        label: str | None = None,
        writes: bool = False,
    ) -> None:
        """In a worker thread: COMPUTE with a cursor of its own, then SHOW on the UI thread (an
        interrupted query calls `cancelled`, an error `fail`; neither crashes the app). WRITES:
        COMPUTE gets the store read-write (waiting for other workers' reads, and retrying while
        another process holds the store)."""
        held = self.store.writing() if writes else self.store.reading()
        cursor: duckdb.DuckDBPyConnection | None = None
        try:
            with held as cursor, self.running.track(label or self.LABEL, cursor):
                data = compute(cursor)
        except Exception as exc:
            if (cursor is not None and self.running.was_interrupted(cursor)) or isinstance(
                exc, duckdb.InterruptException
            ):
                self.post_message(Fetched(self.cancelled, ()))
            else:
                self.post_message(Fetched(self.fail, (exc,)))
            return
        if self.running.was_interrupted(cursor):  # interrupted between statements: nothing to show
            self.post_message(Fetched(self.cancelled, ()))
            return
        self.post_message(Fetched(show, (data,)))

    def on_fetched(self, message: Fetched) -> None:
        message.callback(*message.value)

    def fail(self, error: BaseException) -> None:
        """Show a worker's error as a notification, never a crash (its text is never markup)."""
        self.app.notify(
            inert(str(error).strip().splitlines()[0] if str(error).strip() else error)[:300],
            severity="error",
            timeout=8,
        )

    def cancelled(self) -> None:
        """The query was interrupted (Escape): nothing to show."""
