"""Bindings are data: one list serves the footer, the help screen and the command palette, and its
ids are what a user rebinds in `tui.json` (see `workbench.tui.settings`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.widget import Widget

from workbench.tui.panes import PANES
from workbench.tui.screens.raw_events import RawEventsScreen
from workbench.tui.widgets.table import TableActions


@dataclass(frozen=True)
class Command:
    """A named action with its key, shown as `category: Description` in the palette."""

    id: str
    key: str
    category: str
    description: str
    action: str
    show: bool = True
    target: str | None = None
    """Where the action runs: None for the app, a pane's NAME, or "table" (the focused table)."""

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
    Command("focus.goto", "colon", "focus", "Go to a time (:goto 2025-11-15 14:00)", "app.goto"),
    Command("export.report", "ctrl+e", "export", "What this pane shows", "app.export"),
    Command("view.refresh", "ctrl+r", "view", "Refresh", "app.refresh"),
    Command("view.theme", "ctrl+t", "view", "Toggle light/dark theme", "app.toggle_theme", show=False),
    Command(
        "work.cancel",
        "escape",
        "work",
        "Cancel running work, leave a text box, or go back",
        "app.cancel_work",
        show=False,
    ),
    Command("help.show", "question_mark,f1", "help", "Show keys", "app.help"),
    Command("app.back", "q", "app", "Back", "app.go_back"),
    Command("app.quit", "ctrl+q", "app", "Quit", "app.quit"),
]


def bindings() -> list[BindingType]:
    """Textual bindings built from COMMANDS."""
    return [Binding(c.key, c.action, c.description, show=c.show, id=c.id) for c in COMMANDS]


def widget_commands() -> list[Command]:
    """Each pane's own keys, the tables' keys and the raw events screen's: for the help and the palette."""
    owners: list[tuple[str, str, type[Widget]]] = [(p.TITLE, p.NAME, p) for p in PANES]
    owners += [("table", "table", TableActions), ("raw events", "raw", RawEventsScreen)]
    found: list[Command] = []
    for category, target, owner in owners:
        for b in owner.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding) and b.id and b.id != "export.report":
                found.append(Command(b.id, b.key, category, b.description, b.action, b.show, target))
    return found


def with_keys(commands: Sequence[Command], keymap: Mapping[str, str]) -> list[Command]:
    """COMMANDS as the user bound them (KEYMAP: binding id -> keys), for the help and the palette."""
    return [replace(c, key=keymap[c.id]) if c.id in keymap else c for c in commands]


def key_label(keys: str) -> str:
    """Keys as a person types them: `?` rather than `question_mark`."""
    return keys.replace("question_mark", "?")


class WorkbenchCommands(Provider):
    """The command palette: every command by its `category: Action` title (a pane's own keys while
    that pane is shown), and `:goto TIME` to move the focus time."""

    @property
    def commands(self) -> Sequence[Command]:
        # The app's commands carry the user's keys; any other app (a test harness) gets the defaults.
        return getattr(self.app, "commands", COMMANDS)

    def runnable(self) -> list[tuple[Command, Widget | None]]:
        """The commands that can run now, each with the node it runs on (None: the app)."""
        shown = [c for c in self.commands if c.target is None]
        screen = self.screen  # the screen under the palette
        focused = screen.focused
        for command in self.commands:
            if (command.target == "table" and isinstance(focused, TableActions)) or (
                command.target == "raw" and isinstance(screen, RawEventsScreen)
            ):
                shown.append(command)
            elif command.target and screen.query(f"#{command.target}-pane"):
                pane = screen.query_one(f"#{command.target}-pane")
                if pane.parent is not None and pane.parent.display and pane.region.area:
                    shown.append(command)
        return [(c, self._node(c)) for c in shown]

    def _node(self, command: Command) -> Widget | None:
        if command.target == "table":
            return self.screen.focused
        if command.target == "raw":
            return self.screen  # type: ignore[return-value]
        return self.screen.query_one(f"#{command.target}-pane") if command.target else None

    def _run(self, command: Command, node: Widget | None) -> partial[Any]:
        return partial(self.app.run_action, command.action, node)

    async def discover(self) -> Hits:
        for command, node in self.runnable():
            yield DiscoveryHit(command.title, self._run(command, node), help=f"key: {key_label(command.key)}")

    async def search(self, query: str) -> Hits:
        words = query.strip().lstrip(":").split(maxsplit=1)
        if len(words) == 2 and words[0].lower() == "goto":
            moment = words[1].strip()
            goto = partial(self.app.run_action, f"app.goto({moment!r})")
            yield Hit(1.0, f"go: focus time {moment}", goto, help="moves the focus time (UTC)")
        matcher = self.matcher(query)
        for command, node in self.runnable():
            score = matcher.match(command.title)
            if score > 0:
                run = self._run(command, node)
                yield Hit(score, matcher.highlight(command.title), run, help=f"key: {key_label(command.key)}")
