"""TUI settings that persist between runs (theme, default database), in a small JSON file."""

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


def save(values: dict[str, Any]) -> None:
    """Merge VALUES into the saved settings (best effort: a read-only home is not an error)."""
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({**load(), **values}, indent=2))
    except OSError:
        pass
