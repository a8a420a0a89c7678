"""The one way the tool writes a file: whole or not at all, never through a planted name."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

# Paths the system provides (/dev/stdout, /dev/fd/1, /proc/self/fd/1): written in place, never
# replaced by a rename, even when they lead to a regular file (stdout redirected to a file).
_SYSTEM_FOLDERS = ("/dev/", "/proc/")


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write DATA to PATH through a fresh temporary file in PATH's folder, then rename it over PATH.

    mkstemp picks an unpredictable name and creates it exclusively (O_EXCL), so a symlink planted
    at a predictable name such as `report.md.partial` is never followed; the rename replaces PATH
    itself (a symlink at PATH is replaced, its target untouched). On any error (read-only folder,
    full disk) the temporary file is removed and PATH is as it was; the OSError propagates.
    New files are private to the user (0600): reports and archives hold incident data.

    A PATH that exists and is not a regular file (a character device such as /dev/null or
    /dev/full, a FIFO, or a symlink to one), or that lies under /dev or /proc, is written in
    place: there is nothing to make atomic, and renaming over it would replace the device node
    or the /dev/stdout link with a regular file. Write errors (ENOSPC) propagate as OSError.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if _write_in_place(path):
        _write_through(path, payload)
        return path
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def _write_in_place(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode  # follows symlinks: /dev/stdout -> /proc/self/fd/1 -> ...
    except OSError:
        return False  # absent (or unreachable): the usual path creates it or names the error
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return True
    return stat.S_ISREG(mode) and os.path.abspath(path).startswith(_SYSTEM_FOLDERS)


def _write_through(path: Path, payload: bytes) -> None:
    """Write PAYLOAD to an existing PATH without creating or replacing anything (O_APPEND: a
    redirected stdout keeps what was written before)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def describe_os_error(exc: OSError, path: Path) -> str:
    """A one-line reason for a failed write, naming the file (no traceback, no temporary name)."""
    reason = exc.strerror or type(exc).__name__
    return f"cannot write {path}: {reason}"
