"""The footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from collections.abc import Hashable

from textual.screen import Screen
from textual.widgets import Footer

SETTLE = 0.05
"""Seconds the keys must stay the same before the footer shows them."""


class KeysFooter(Footer):
    """Textual's Footer removes and mounts all its keys again each time focus moves (twice per
    pane switch: focus is dropped, then given to the new pane), restyling some 25 widgets and
    laying the screen out again, inside the screen update that shows the new pane (a tenth to a
    quarter of that update's time). This one rebuilds once the keys have settled for SETTLE
    seconds (once per switch, however fast the keys come, and in a step of its own), and not at
    all when they are the keys shown."""

    _pending = False
    _shown: Hashable = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._pending:
            self._pending = True
            self.set_timer(SETTLE, self._rebuild)

    async def _rebuild(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        # What compose() shows: the bindings with show=True, their state, and the palette's key.
        shown = tuple(
            (key, binding.action, binding.description, enabled, tooltip)
            for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == self.app.COMMAND_PALETTE_BINDING
        )
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
