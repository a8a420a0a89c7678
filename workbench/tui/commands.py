"""Bindings are data: one list serves the footer, the help screen and the command palette."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider


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


PANES = ("overview", "anomalies", "timeline", "ips", "exposure", "queries", "report")

COMMANDS: list[Command] = [
    *(Command(f"go.{pane}", str(n), "go", pane.capitalize() if pane != "ips" else "IPs", f"app.go('{pane}')", n <= 7)
      for n, pane in enumerate(PANES, start=1)),
    Command("triage.confirm", "c", "triage", "Mark confirmed", "app.triage('confirmed')", False),
    Command("triage.benign", "b", "triage", "Mark benign", "app.triage('benign')", False),
    Command("triage.false_positive", "x", "triage", "Mark false positive", "app.triage('false_positive')", False),
    Command("triage.note", "n", "triage", "Add a note", "app.note", False),
    Command("anomalies.filter", "slash", "filter", "Filter anomalies", "app.filter"),
    Command("export.report", "ctrl+e", "export", "Incident report", "app.export"),
    Command("view.refresh", "ctrl+r", "view", "Refresh", "app.refresh"),
    Command("view.theme", "ctrl+t", "view", "Toggle light/dark theme", "app.toggle_theme", False),
    Command("work.cancel", "escape", "work", "Cancel running work", "app.cancel_work", False),
    Command("help.show", "question_mark,f1", "help", "Show keys", "app.help"),
    Command("app.back", "q", "app", "Back", "app.go_back"),
    Command("app.quit", "ctrl+q", "app", "Quit", "app.quit"),
]  # fmt: skip


def bindings() -> list[BindingType]:
    """Textual bindings built from COMMANDS."""
    return [Binding(c.key, c.action, c.description, show=c.show, id=c.id) for c in COMMANDS]


class WorkbenchCommands(Provider):
    """The command palette: every command by its `category: Action` title."""

    async def discover(self) -> Hits:
        for command in COMMANDS:
            yield DiscoveryHit(
                command.title, partial(self.app.run_action, command.action), help=f"key: {command.key}"
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in COMMANDS:
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), partial(self.app.run_action, command.action),
                          help=f"key: {command.key}")  # fmt: skip
