"""A long plain-text document (the incident report, a back-check) that stays cheap to show.

A `Static` inside a scroll container wraps and measures its whole text on the UI thread at every
layout: a 1 MB report (1,400 findings) stalled the event loop for most of a second each time
its tab was shown. Here the text is wrapped to the widget's width in a thread worker, and the
`Log` line API renders only the lines on screen. Every line is made inert (never markup; an ESC
byte shows as ␛).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from textual import events, work
from textual.message import Message
from textual.widgets import Log

from workbench.render import inert

MIN_WIDTH = 20
SCROLLBAR = 2


def wrap_lines(text: str, width: int) -> list[str]:
    """TEXT's lines wrapped at WIDTH cells, continuation lines indented like their first (two
    more under a Markdown list item), long words broken; every line inert."""
    lines: list[str] = []
    for line in inert(text, keep_newlines=True).split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        stripped = line.lstrip(" ")
        indent = " " * (len(line) - len(stripped))
        hanging = indent + ("  " if stripped[:2] in ("- ", "* ") else "")
        lines.extend(
            textwrap.wrap(
                line,
                width,
                subsequent_indent=hanging,
                break_on_hyphens=False,
                drop_whitespace=True,
                replace_whitespace=False,
            )
            or [""]
        )
    return lines


@dataclass
class Wrapped(Message, bubble=False):
    """A worker wrapped the text (for the text of generation GENERATION, at WIDTH)."""

    generation: int
    width: int
    lines: list[str]


class LongText(Log, can_focus=True):
    """Read-only plain text, wrapped off the UI thread; only the visible lines are rendered."""

    def __init__(self, text: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(highlight=False, auto_scroll=False, id=id, classes=classes)
        self.text = text
        self._generation = 0
        """Counts the texts set: a wrap of an older one is dropped."""
        self._shown_generation = -1
        self._wrapped_width = 0
        """The width the text was (or is being) wrapped at."""

    @property
    def plain(self) -> str:
        """The text shown (before wrapping)."""
        return self.text

    def set_text(self, text: str) -> None:
        """Show TEXT (wrapped in a worker; the old text stays until the new one is ready)."""
        self.text = text
        self._generation += 1
        self._wrapped_width = 0
        self._rewrap()

    def on_mount(self) -> None:
        self._rewrap()

    def on_resize(self, event: events.Resize) -> None:
        self._rewrap()

    def _target_width(self) -> int:
        return max(MIN_WIDTH, self.size.width - SCROLLBAR)

    def _rewrap(self) -> None:
        if not self.size.width:  # hidden (another tab): wrapped when it is shown
            return
        width = self._target_width()
        if width != self._wrapped_width:
            self._wrapped_width = width
            self._wrap(self.text, width, self._generation)

    @work(thread=True, exclusive=True, group="long-text")
    def _wrap(self, text: str, width: int, generation: int) -> None:
        self.post_message(Wrapped(generation, width, wrap_lines(text, width)))

    def on_wrapped(self, message: Wrapped) -> None:
        if message.generation != self._generation or message.width != self._wrapped_width:
            return  # a newer text or width is on its way
        # A new text starts at its top; the same text rewrapped (a resize) keeps its place.
        top = self.scroll_y if message.generation == self._shown_generation else 0
        self._shown_generation = message.generation
        self.clear()
        self.write_lines(message.lines, scroll_end=False)
        self.scroll_to(y=min(top, max(0, len(message.lines) - 1)), animate=False, immediate=True)
