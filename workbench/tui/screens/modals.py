"""Small modal screens: the key help, a one-line prompt (path, note)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label

from workbench.tui.commands import COMMANDS, Command, key_label, widget_commands


class HelpScreen(ModalScreen[None]):
    """Every key, from the same command list as the footer and the palette."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, commands: Sequence[Command] = COMMANDS) -> None:
        super().__init__()
        self.commands = [*commands, *(c for c in widget_commands() if c.id not in {k.id for k in commands})]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Label(
                "Keys (ctrl+p opens the command palette). Enter goes one level down, q or esc back up; "
                "esc also leaves a text box and cancels a running query."
            )
            table: DataTable[Text] = DataTable(id="help-keys", cursor_type="row")
            table.add_columns("key", "command", "id (rebind in tui.json)")
            for command in self.commands:
                table.add_row(Text(key_label(command.key)), Text(command.title), Text(command.id))
            yield table

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line (an export path, a triage note); escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Label(Text(self.question))
            yield Input(value=self.value, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
