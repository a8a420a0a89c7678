"""Bindings are data: one list serves the footer, the help screen and the command palette, and its
ids are what a user rebinds in `tui.json` (see `workbench.tui.settings`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.tui.panes import PANES


@dataclass(frozen=True)
class Command:
    """A named action with its key, shown as `category: Description` in the palette."""

    id: str
    key: str
    category: str
    description: str
    action: str
    show: bool = True

    @property
    def title(self) -> str:
        """The palette title."""
        return f"{self.category}: {self.description}"


COMMANDS: list[Command] = [
    *(Command(f"go.{pane.NAME}", pane.KEY, "go", pane.TITLE, f"app.go('{pane.NAME}')") for pane in PANES),
    Command("triage.confirm", "c", "triage", "Mark confirmed", "app.triage('confirmed')", show=False),
    Command("triage.benign", "b", "triage", "Mark benign", "app.triage('benign')", show=False),
    Command(
        "triage.false_positive",
        "x",
        "triage",
        "Mark false positive",
        "app.triage('false_positive')",
        show=False,
    ),
    Command("triage.note", "n", "triage", "Add a note", "app.note", show=False),
    Command("anomalies.filter", "slash", "filter", "Filter anomalies", "app.filter"),
    Command("export.report", "ctrl+e", "export", "Incident report", "app.export"),
    Command("view.refresh", "ctrl+r", "view", "Refresh", "app.refresh"),
    Command("view.theme", "ctrl+t", "view", "Toggle light/dark theme", "app.toggle_theme", show=False),
    Command("work.cancel", "escape", "work", "Cancel running work", "app.cancel_work", show=False),
    Command("help.show", "question_mark,f1", "help", "Show keys", "app.help"),
    Command("app.back", "q", "app", "Back", "app.go_back"),
    Command("app.quit", "ctrl+q", "app", "Quit", "app.quit"),
]


def bindings() -> list[BindingType]:
    """Textual bindings built from COMMANDS."""
    return [Binding(c.key, c.action, c.description, show=c.show, id=c.id) for c in COMMANDS]


def with_keys(commands: Sequence[Command], keymap: Mapping[str, str]) -> list[Command]:
    """COMMANDS as the user bound them (KEYMAP: binding id -> keys), for the help and the palette."""
    return [replace(c, key=keymap[c.id]) if c.id in keymap else c for c in commands]


def key_label(keys: str) -> str:
    """Keys as a person types them: `?` rather than `question_mark`."""
    return keys.replace("question_mark", "?")


class WorkbenchCommands(Provider):
    """The command palette: every command by its `category: Action` title."""

    @property
    def commands(self) -> Sequence[Command]:
        # The app's commands carry the user's keys; any other app (a test harness) gets the defaults.
        return getattr(self.app, "commands", COMMANDS)

    async def discover(self) -> Hits:
        for command in self.commands:
            run = partial(self.app.run_action, command.action)
            yield DiscoveryHit(command.title, run, help=f"key: {key_label(command.key)}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands:
            score = matcher.match(command.title)
            if score > 0:
                run = partial(self.app.run_action, command.action)
                yield Hit(score, matcher.highlight(command.title), run, help=f"key: {key_label(command.key)}")
