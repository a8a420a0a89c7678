"""Strings from log files are hostile: make them safe to show in a terminal."""

from __future__ import annotations

import re

# C0/C1 control characters (ESC starts ANSI sequences) except tab; newlines become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_control(value: object) -> str:
    """The value as one printable line: ESC shown as a visible ␛ (so an ANSI sequence reads as
    text, never acts), other control characters removed, newlines flattened."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\x1b", "\u241b")
    return _CONTROL.sub("", text)
