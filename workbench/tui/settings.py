"""TUI settings that persist between runs, in a small JSON file (`settings_path()`).

    {
      "theme": "textual-light",
      "db": "/cases/acme/workbench.duckdb",
      "keys": {"triage.confirm": "C", "help.show": "f1", "timeline.day_back": "left_square_bracket,h"}
    }

- `theme` and `db` are written by the TUI itself (ctrl+t; the store it last opened).
- `keys` is written by you: binding id -> the key(s) that run it, in Textual's key names (`ctrl+e`,
  `f1`, `question_mark`, a letter; `C` is shift+c), several keys separated by commas. The new keys
  replace the default ones. The ids are listed by the help screen (`?`) and are the palette's
  commands (`go.timeline`, `triage.confirm`, `export.report`, ...), plus the Timeline's
  `timeline.*` and the tables' `table.*` keys. An id the TUI does not know is reported when it
  starts and otherwise ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from workbench.files import write_atomic


def settings_path() -> Path:
    """$WORKBENCH_TUI_SETTINGS, else $XDG_CONFIG_HOME/workbench/tui.json, else ~/.config/..."""
    explicit = os.environ.get("WORKBENCH_TUI_SETTINGS")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "workbench" / "tui.json"


def load() -> dict[str, Any]:
    """The saved settings ({} when none or unreadable)."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def keymap(values: dict[str, Any]) -> dict[str, str]:
    """The `keys` object of the settings VALUES: binding id -> keys (entries that are not two
    non-empty strings are dropped)."""
    keys = values.get("keys")
    if not isinstance(keys, dict):
        return {}
    return {
        binding_id: value.strip()
        for binding_id, value in keys.items()
        if isinstance(binding_id, str) and isinstance(value, str) and value.strip()
    }


def save(values: dict[str, Any]) -> None:
    """Merge VALUES into the saved settings (best effort: a read-only home is not an error)."""
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({**load(), **values}, indent=2))
    except OSError:
        pass
