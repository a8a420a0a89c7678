"""The one way the tool writes a file: whole or not at all, never through a planted name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write DATA to PATH through a fresh temporary file in PATH's folder, then rename it over PATH.

    mkstemp picks an unpredictable name and creates it exclusively (O_EXCL), so a symlink planted
    at a predictable name such as `report.md.partial` is never followed; the rename replaces PATH
    itself (a symlink at PATH is replaced, its target untouched). On any error (read-only folder,
    full disk) the temporary file is removed and PATH is as it was; the OSError propagates.
    New files are private to the user (0600): reports and archives hold incident data.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def describe_os_error(exc: OSError, path: Path) -> str:
    """A one-line reason for a failed write, naming the file (no traceback, no temporary name)."""
    reason = exc.strerror or type(exc).__name__
    return f"cannot write {path}: {reason}"
