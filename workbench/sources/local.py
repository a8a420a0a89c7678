"""Local log files: expand folders, open .csv, .csv.gz and .zip members as byte streams."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
LOG_SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")


@dataclass(frozen=True)
class LogInput:
    """One candidate log file: a plain or gzipped file, or a member of a zip archive."""

    path: Path
    member: str | None = None

    @property
    def label(self) -> str:
        """How the user named it: the path, or archive.zip!member."""
        return f"{self.path}!{self.member}" if self.member else str(self.path)


@dataclass(frozen=True)
class MissingInput:
    """A path the user named that does not exist or cannot be read."""

    label: str
    reason: str


def _has_log_suffix(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(LOG_SUFFIXES)


def discover(paths: list[Path]) -> Iterator[LogInput | MissingInput]:
    """Files named directly are always tried (names carry no meaning); folders are walked for
    .csv, .csv.gz and .zip files; zip archives are opened into their members."""
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file() and _has_log_suffix(p)):
                yield from _expand(child)
        elif path.is_file():
            yield from _expand(path)
        else:
            yield MissingInput(str(path), "no such file or folder")


def _expand(path: Path) -> Iterator[LogInput | MissingInput]:
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        yield MissingInput(str(path), f"cannot read: {exc.strerror or exc}")
        return
    if magic != ZIP_MAGIC:
        yield LogInput(path)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i.filename for i in archive.infolist() if not i.is_dir()]
    except zipfile.BadZipFile as exc:
        yield MissingInput(str(path), f"corrupt zip archive ({exc})")
        return
    for member in sorted(members):
        if member.lower().endswith((".csv", ".csv.gz", ".gz")):
            yield LogInput(path, member)


def is_gzip(source: LogInput) -> bool:
    """Whether the bytes of this input are gzip-compressed (by content, not by name)."""
    with open_raw(source) as handle:
        return handle.read(2) == GZIP_MAGIC


def open_raw(source: LogInput) -> IO[bytes]:
    """The input's bytes as stored (a zip member is decompressed from the archive)."""
    if source.member is None:
        return source.path.open("rb")
    archive = zipfile.ZipFile(source.path)
    return archive.open(source.member)


def open_text_bytes(source: LogInput) -> IO[bytes]:
    """The input's CSV bytes, gunzipped when needed."""
    raw = open_raw(source)
    if raw.read(2) == GZIP_MAGIC:
        raw.close()
        return gzip.open(open_raw(source), "rb")  # type: ignore[return-value]
    raw.close()
    return open_raw(source)


def content_hash(source: LogInput) -> str:
    """SHA-256 of the input's bytes as stored: the same file ingested twice is recognised."""
    digest = hashlib.sha256()
    with open_raw(source) as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def materialise(source: LogInput, folder: Path) -> Path:
    """A path DuckDB can read: the file itself, or a zip member copied out to FOLDER."""
    if source.member is None:
        return source.path
    target = folder / f"member-{abs(hash(source.label))}"
    with open_raw(source) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target
