"""The ingest contract: what an input is and how its bytes are read.

An input is a plain or gzipped file, or a member of a zip archive (`LogInput`), or a path that
could not be read (`MissingInput`, so ingest can report it). Sources (local folders, a
Salesforce download) only find or fetch files and hand these over; everything about reading
them (raw bytes, gunzipping, hashing, line endings, a normalised copy, a DuckDB-safe path) lives
here, beside the ingest that consumes them.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import mmap
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import IO

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


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
    return scan_input(source).digest


@dataclass(frozen=True)
class InputScan:
    """What one full read of an input tells: its content hash and how its lines end."""

    digest: str
    carriage_returns: int = 0
    line_feeds: int = 0  # exact from the first CR on; before it, at least 1 if there were any
    crlf_pairs: int = 0
    # Of an input that is not gzipped: its size and the double quotes in it, counted in the same
    # pass (the fast read's byte check needs them); None for gzip.
    size: int | None = None
    quotes: int | None = None

    @property
    def mixed_line_endings(self) -> bool:
        """Whether lines end in more than one way (CRLF, LF, CR): DuckDB's reader takes the
        first line's ending for the whole file, so such a file must be normalised first."""
        if not self.carriage_returns or not self.line_feeds:
            return False  # all LF, or all CR: the reader handles either
        return not (self.carriage_returns == self.crlf_pairs == self.line_feeds)


class _HashingReader:
    """A raw byte stream that hashes what is read through it (so one pass serves both the
    content hash over the stored bytes and a look at the decompressed text)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> None:
        """Hash whatever the decompressor did not need (trailing bytes still belong to the file)."""
        for chunk in iter(lambda: self.raw.read(1 << 20), b""):
            self.digest.update(chunk)


READ_CHUNK = 1 << 20


def scan_input(source: LogInput) -> InputScan:
    """Hash the stored bytes and count the line endings of the text in one streaming pass.

    A gzip input is decompressed here too, so a truncated or corrupt one fails now (EOFError,
    zlib.error, gzip.BadGzipFile) rather than in the middle of a shared read."""
    if source.member is None:
        mapped = _scan_mapped(source.path)
        if mapped is not None:
            return mapped
    with open_raw(source) as raw:
        hashing = _HashingReader(raw)
        magic = hashing.read(2)
        carriage_returns = line_feeds = crlf_pairs = 0
        previous_cr = False

        def count_text(chunk: bytes) -> None:
            nonlocal carriage_returns, line_feeds, crlf_pairs, previous_cr
            # Most logs have no CR at all: finding none costs far less than counting them.
            crs = chunk.count(b"\r") if b"\r" in chunk else 0
            if not (crs or carriage_returns or previous_cr):
                # Until the first CR every LF is a bare one, and one is as telling as many (any
                # bare LF next to a CR later makes the file mixed): a search that stops at the
                # first LF costs far less than counting them all.
                line_feeds += b"\n" in chunk
                return
            line_feeds += chunk.count(b"\n")
            carriage_returns += crs
            crlf_pairs += chunk.count(b"\r\n") + (1 if previous_cr and chunk[:1] == b"\n" else 0)
            previous_cr = chunk[-1:] == b"\r"

        size = quotes = None
        if magic == GZIP_MAGIC:
            hashing_rest = _Prefixed(magic, hashing)
            with gzip.GzipFile(fileobj=hashing_rest, mode="rb") as text:  # type: ignore[call-overload]
                for chunk in iter(lambda: text.read(READ_CHUNK), b""):
                    count_text(chunk)
        else:
            count_text(magic)
            size, quotes = len(magic), magic.count(b'"')
            for chunk in iter(lambda: hashing.read(READ_CHUNK), b""):
                count_text(chunk)
                size += len(chunk)
                quotes += chunk.count(b'"')
        hashing.drain()
    return InputScan(hashing.digest.hexdigest(), carriage_returns, line_feeds, crlf_pairs, size, quotes)


def _scan_mapped(path: Path) -> InputScan | None:
    """scan_input for a plain file without a CR, through a memory map, without copying the file
    through Python (the common case, and all of a re-ingest's work). None for anything else
    (gzip, a CR, an empty or special file), which the streaming pass handles."""
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:2] == GZIP_MAGIC:
                return None
            scanned = _hash_and_count(data)
            if scanned is None:
                return None
            line_feeds = 1 if data.find(b"\n") != -1 else 0  # as the streaming pass counts them
            return InputScan(scanned[0], 0, line_feeds, 0, len(data), scanned[1])
    except (OSError, ValueError):  # mmap refuses an empty or special file
        return None


def _hash_and_count(data: mmap.mmap) -> tuple[str, int] | None:
    """The SHA-256 of DATA and its double quotes, or None if it has a CR. Block by block: each
    block is searched, hashed and counted while it is in the CPU's cache, one pass over memory
    instead of three. numpy counts a byte about twice as fast as bytes.count, and its comparison
    array, one block long, is reused rather than faulted in fresh for every file."""
    digest = hashlib.sha256()
    quotes = 0
    view = np.frombuffer(data, dtype=np.uint8)
    try:
        for start in range(0, len(view), READ_CHUNK):
            if data.find(b"\r", start, start + READ_CHUNK) != -1:
                return None
            block = view[start : start + READ_CHUNK]
            digest.update(block.data)
            quotes += int(np.count_nonzero(block == ord('"')))
            del block
        return digest.hexdigest(), quotes
    finally:
        del view  # the map cannot close while an array still points into it


class _Prefixed:
    """A stream that first returns PREFIX (bytes already read for the magic), then the rest."""

    def __init__(self, prefix: bytes, rest: _HashingReader) -> None:
        self.prefix = prefix
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if not self.prefix:
            return self.rest.read(size)
        head, self.prefix = self.prefix, b""
        if size is None or size < 0:
            return head + self.rest.read()
        return head + self.rest.read(max(size - len(head), 0))


def normalised_copy(
    source: LogInput, target: Path, on_invalid_utf8: Callable[[UnicodeError], tuple[str, int]] | None = None
) -> Path:
    """Stream the input's text to TARGET with every line ending (CRLF, CR) turned into LF, and,
    when ON_INVALID_UTF8 is given, invalid UTF-8 decoded through that error handler. Chunked, so
    a multi-GB file never sits in memory."""
    decoder = None
    if on_invalid_utf8 is not None:
        name = f"workbench-invalid-utf8-{id(on_invalid_utf8)}"
        codecs.register_error(name, on_invalid_utf8)
        decoder = codecs.getincrementaldecoder("utf-8")(name)
    pending_cr = False
    with open_text_bytes(source) as src, target.open("wb") as dst:
        for chunk in iter(lambda: src.read(READ_CHUNK), b""):
            if pending_cr:
                chunk = b"\r" + chunk
            # A CR at the end of a chunk may be the first half of a CRLF: decide with the next one.
            pending_cr = chunk.endswith(b"\r")
            if pending_cr:
                chunk = chunk[:-1]
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            # CR and LF are ASCII, never part of a multi-byte sequence: normalising before decoding
            # is safe.
            dst.write(decoder.decode(chunk).encode("utf-8") if decoder else chunk)
        tail = b"\n" if pending_cr else b""
        dst.write(decoder.decode(tail, final=True).encode("utf-8") if decoder else tail)
    return target


_link_names = count(1)


def materialise(source: LogInput, folder: Path) -> Path:
    """A path DuckDB can read under a name of our making (never the user's, which may hold glob
    characters such as `*`, `?` or `[` that DuckDB would expand): a link to the file, or a zip
    member copied out to FOLDER."""
    target = folder / f"input-{next(_link_names)}"
    if source.member is None:
        try:
            os.symlink(source.path.resolve(), target)
            return target
        except OSError:
            pass  # no symlinks here (some Windows setups): copy instead
    with open_raw(source) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target
