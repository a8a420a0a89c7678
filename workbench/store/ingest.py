"""Ingest EventLogFile CSVs into the store: parse by header, normalise, dedupe, aggregate.

Each file lands in one transaction, whole or not at all. Python sniffs the header and hashes
the file (looking at its line endings in the same pass); the parsing is native code on one of two
paths that store the same rows. A clean file (every value as Salesforce writes it, nothing to
reject) is read and normalised by Polars (fast_read), written to its partitions by Polars and
aggregated from memory. Any other file is read by DuckDB's CSV reader, which tracks the lines it
cannot split, through a normalising SELECT composed for the columns the file has. One bad file or
row affects only itself: a failing shared read or commit is retried file by file, and a row that
cannot be stored goes to `rejects` with its line number.
"""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import itertools
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Literal

import duckdb
import numpy as np
import polars as pl

from workbench.store import fast_read, frame_aggregates, partitions
from workbench.store.inputs import (
    InputScan,
    LogInput,
    MissingInput,
    is_gzip,
    materialise,
    normalised_copy,
    open_text_bytes,
    scan_input,
)
from workbench.store.queries import first_row, insert_rows, statements


class RefusedFile(Exception):
    """The file is not an event log we can read; the message says why in one line."""


# Typed columns of `events` and the CSV headers they come from, first present wins. Every
# other column of the file goes into `attributes` under its own header name.
COMMON_SOURCES: dict[str, tuple[str, ...]] = {
    "request_id": ("REQUEST_ID",),
    "user_id": ("USER_ID", "USER_ID_DERIVED"),
    "user_name": ("USER_NAME",),
    "connected_app_id": ("CONNECTED_APP_ID",),
    "connected_app_name": ("CONNECTED_APP_NAME",),
    "client_name": ("CLIENT_NAME",),
    "client_ip": ("CLIENT_IP",),
    "source_ip": ("SOURCE_IP",),
    "api_family": ("API_FAMILY",),
    # For SOAP the method (query, describeSObjects) says more than URI="Api".
    "api_resource": ("API_RESOURCE", "METHOD_NAME", "REQUEST_PATH", "URI"),
    "http_method": ("HTTP_METHOD", "METHOD"),
    "entity_name": ("ENTITY_NAME", "ENTITY_TYPE"),
    "status_code": ("STATUS_CODE",),
    "rows_processed": ("ROWS_PROCESSED", "RECORDS_PROCESSED", "ROW_COUNT"),
    "user_agent": ("BROWSER_TYPE", "USER_AGENT"),
}
# The API family an event type implies when the file has no API_FAMILY column.
FAMILY_BY_EVENT_TYPE = {
    "RestApi": "REST",
    "ApexRestApi": "ApexREST",
    "API": "SOAP",
    "BulkApi": "Bulk",
    "BulkApi2": "Bulk",
    "BulkApiRequest": "Bulk",
}
TIMESTAMP_COLUMNS = ("TIMESTAMP", "TIMESTAMP_DERIVED")
NUMBER_COLUMNS = {"status_code": "INTEGER", "rows_processed": "BIGINT"}
# Salesforce event types have at most a few hundred columns. A header far wider than that is not
# an event log, and reading it would cost DuckDB minutes and gigabytes (100k columns: 46 s, 3 GB).
MAX_COLUMNS = 2000
# The header is read whole (a cut header gives wrong refusal reasons), up to this many bytes.
MAX_HEADER_BYTES = 1 << 20
# A row count beyond this is not a count (the largest Bulk API jobs process some 10^8 rows); such
# a row is rejected rather than allowed to overflow the hourly sums.
MAX_ROWS_PROCESSED = 10**12
# Event Monitoring started in 2014; anything before this is a broken clock or a broken file.
EARLIEST_EVENT = datetime(1999, 1, 1)
# Logs are written after the fact: events later than now plus this are rejected.
FUTURE_SLACK = timedelta(days=2)
# TIMESTAMP_DERIVED, whole: an ISO date and time, then Z, UTC or a UTC offset (-08:00, +0530, -08).
# Anything else is unparseable: DuckDB's cast to TIMESTAMP would silently drop a zone it does not
# apply (-08, +05:30:15, America/New_York) and store the local time as UTC.
_DERIVED = (
    r"^(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)"
    r"\s*(?:Z|UTC|([+-])(\d{2})(?::?(\d{2}))?)?$"
)
# Real UTC offsets run from -12:00 to +14:00; anything beyond 14 hours is a broken or hostile value.
MAX_OFFSET_MINUTES = 14 * 60
# IPv4-mapped IPv6 in its dotted (::ffff:1.2.3.4) and hex (::ffff:102:304) spellings: five zero
# groups, written out or (some of them) folded into '::', then ffff. plain_address() is the same
# rule for addresses a user gives; a test holds the two to agreement.
_ZERO = "0{1,4}"
_MAPPED_PREFIX = (
    rf"(?i)^(?:(?:{_ZERO}:){{5}}|::(?:{_ZERO}:){{0,4}}|{_ZERO}::(?:{_ZERO}:){{0,3}}"
    rf"|{_ZERO}:{_ZERO}::(?:{_ZERO}:){{0,2}}|(?:{_ZERO}:){{2}}{_ZERO}::(?:{_ZERO}:)?"
    rf"|(?:{_ZERO}:){{3}}{_ZERO}::)"
    "ffff:"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_MAPPED_DOTTED = _MAPPED_PREFIX + rf"({_OCTET}(?:\.{_OCTET}){{3}})$"
_MAPPED_HEX = _MAPPED_PREFIX + r"([0-9a-f]{1,4}):([0-9a-f]{1,4})$"


def plain_address(value: str) -> str:
    """An address in the form ingest stores it: IPv4-mapped IPv6 (::ffff:1.2.3.4, ::ffff:102:304)
    becomes plain IPv4; anything else (other addresses, 'Salesforce.com IP') is returned as given.
    For addresses a user gives (IOCs, --ip, `workbench ip`), so they match what the store holds."""
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return value
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is None:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
    return text


def plain_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A network (or single address) a user gives, in the form that matches stored addresses:
    an IPv4-mapped network ::ffff:a.b.c.d/N with N >= 96 becomes a.b.c.d/(N-96). Host bits are
    dropped; a value that is not a network raises ValueError."""
    network = ipaddress.ip_network(value.strip(), strict=False)
    first = int(network.network_address)
    if network.version == 6 and network.prefixlen >= 96 and first >> 32 == 0xFFFF:
        return ipaddress.IPv4Network((first & 0xFFFFFFFF, network.prefixlen - 96))
    return network


@dataclass
class FileResult:
    """What happened to one input file."""

    label: str
    status: str  # ingested | skipped | refused
    reason: str = ""
    event_type: str | None = None
    org_id: str | None = None
    rows_read: int = 0
    rows_added: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    bytes_replaced: int = 0


@dataclass
class IngestReport:
    """The outcome of one `ingest` run."""

    files: list[FileResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Number of files with this status."""
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_added(self) -> int:
        """Events added by this run."""
        return sum(f.rows_added for f in self.files)

    @property
    def rows_duplicate(self) -> int:
        """Rows already in the store (or repeated in the file) and so skipped."""
        return sum(f.rows_duplicate for f in self.files)

    @property
    def rows_rejected(self) -> int:
        """Rows that could not be parsed and went to `rejects`."""
        return sum(f.rows_rejected for f in self.files)

    @property
    def bytes_replaced(self) -> int:
        """Non-UTF-8 bytes replaced by U+FFFD."""
        return sum(f.bytes_replaced for f in self.files)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_head(handle: IO[bytes]) -> tuple[bytes, int | None]:
    """The bytes read from the start of a file and where its first line ends (None: no line end
    within MAX_HEADER_BYTES). Reads only as far as the first line end."""
    head = b""
    while len(head) <= MAX_HEADER_BYTES:
        chunk = handle.read(64 * 1024)
        if not chunk:
            break
        searched = len(head)
        head += chunk
        ends = [i for i in (head.find(b"\n", searched), head.find(b"\r", searched)) if i >= 0]
        if ends:
            return head, min(ends) if min(ends) <= MAX_HEADER_BYTES else None
    return head, None if len(head) > MAX_HEADER_BYTES else len(head)


def read_header(source: LogInput) -> list[str]:
    """The CSV header of an event log file, or RefusedFile saying why it is not one."""
    try:
        with open_text_bytes(source) as handle:
            head, line_end = _read_head(handle)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise RefusedFile(f"unreadable or corrupt compressed data ({exc})") from None
    if not head.strip():
        raise RefusedFile("empty file")
    if b"\x00" in head:
        raise RefusedFile("binary content, not a CSV event log")
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if text.lstrip().startswith("<"):
        raise RefusedFile("looks like an HTML or XML page (a saved error page?), not a CSV event log")
    if line_end is None:
        raise RefusedFile(f"the first line is longer than {MAX_HEADER_BYTES:,} bytes: not a CSV header")
    first_line = head[:line_end].decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        header = next(csv.reader(io.StringIO(first_line)))
    except (csv.Error, StopIteration) as exc:
        raise RefusedFile(f"the first line is not a CSV header ({exc})") from None
    if len(header) > MAX_COLUMNS:
        raise RefusedFile(
            f"the header has {len(header):,} columns, more than {MAX_COLUMNS:,}: not a Salesforce event log"
        )
    header = [h.strip() for h in header]
    if "EVENT_TYPE" not in header:
        raise RefusedFile("no EVENT_TYPE column in the header: not a Salesforce EventLogFile CSV")
    if not any(c in header for c in TIMESTAMP_COLUMNS):
        raise RefusedFile("no TIMESTAMP or TIMESTAMP_DERIVED column in the header")
    # DuckDB column names are case-insensitive: Foo and FOO would be the same column.
    repeated = Counter(h.lower() for h in header)
    duplicates = sorted({h for h in header if repeated[h.lower()] > 1})
    if duplicates:
        raise RefusedFile(f"the header repeats column(s) {', '.join(duplicates[:10])}")
    if any(not h for h in header):
        raise RefusedFile("the header has an empty column name")
    return header


def _free_name(base: str, header: list[str]) -> str:
    """A column name for our own bookkeeping that no header column can collide with (DuckDB
    names are case-insensitive, and a file may name a column FILENAME or ORDINAL)."""
    taken = {h.lower() for h in header}
    name, n = base, 0
    while name.lower() in taken:
        n += 1
        name = f"{base}_{n}"
    return name


@dataclass(frozen=True)
class TimeBounds:
    """Events outside [earliest, latest] are rejects: a broken clock, not an event."""

    earliest: datetime
    latest: datetime


def _derived_parts_sql(column: str) -> str:
    """TIMESTAMP_DERIVED split by _DERIVED into a struct (base, sign, hh, mm); all '' if it does not match."""
    names = "['base', 'sign', 'hh', 'mm']"
    return f"regexp_extract(trim({column}), {_quote_literal(_DERIVED)}, {names})"


def _derived_offset_sql(parts: str) -> str:
    """The UTC offset in minutes east of UTC (0 without one); NULL if it is out of range."""
    hours = f"coalesce(TRY_CAST(nullif({parts}.hh, '') AS INTEGER), 0)"
    minutes = f"coalesce(TRY_CAST(nullif({parts}.mm, '') AS INTEGER), 0)"
    sign = f"(CASE {parts}.sign WHEN '-' THEN -1 ELSE 1 END)"
    return (
        f"CASE WHEN {minutes} < 60 AND {hours} * 60 + {minutes} <= {MAX_OFFSET_MINUTES}"
        f" THEN {sign} * ({hours} * 60 + {minutes}) END"
    )


def _address_sql(value: str) -> str:
    """An address column with IPv4-mapped IPv6 turned into plain IPv4, so enrichment and IOC
    matching see one form; anything else (including 'Salesforce.com IP') is kept as given."""
    dotted, hexed = _quote_literal(_MAPPED_DOTTED), _quote_literal(_MAPPED_HEX)
    high = f"TRY_CAST('0x' || regexp_extract({value}, {hexed}, 1) AS INTEGER)"
    low = f"TRY_CAST('0x' || regexp_extract({value}, {hexed}, 2) AS INTEGER)"
    return (
        f"CASE WHEN NOT contains({value}, ':') THEN {value}"
        f" WHEN regexp_matches({value}, {dotted}) THEN regexp_extract({value}, {dotted}, 1)"
        f" WHEN regexp_matches({value}, {hexed})"
        f" THEN concat_ws('.', {high} // 256, {high} % 256, {low} // 256, {low} % 256)"
        f" ELSE {value} END"
    )


def _normalise_sql(
    header: list[str], default_org: str | None, source: str, passthrough: str, bounds: TimeBounds
) -> str:
    """SELECT over SOURCE (a staged file or a read_csv call) producing events' columns, the
    PASSTHROUGH column(s) of SOURCE, and a reject reason for rows that cannot be stored."""
    present = set(header)
    used: set[str] = {"EVENT_TYPE", "ORGANIZATION_ID", *TIMESTAMP_COLUMNS}
    exprs: dict[str, str] = {}
    for column, sources in COMMON_SOURCES.items():
        source_column = next((c for c in sources if c in present), None)
        if source_column is None:
            exprs[column] = "NULL"
            continue
        used.add(source_column)
        # Quoted values keep no padding and "" already reads as NULL; nullif guards odd files.
        value = f"nullif({_quote_ident(source_column)}, '')"
        if column in NUMBER_COLUMNS:
            value = f"TRY_CAST({value} AS {NUMBER_COLUMNS[column]})"
        elif column in ("client_ip", "source_ip"):
            value = _address_sql(value)
        exprs[column] = value
    if exprs["api_family"] == "NULL":
        cases = " ".join(
            f"WHEN {_quote_literal(t)} THEN {_quote_literal(f)}" for t, f in FAMILY_BY_EVENT_TYPE.items()
        )
        exprs["api_family"] = f'CASE "EVENT_TYPE" {cases} ELSE NULL END'

    # TIMESTAMP_DERIVED (with its UTC offset applied) when it parses, else TIMESTAMP; the reject
    # reason quotes the value the time came from (or the one that failed).
    has_derived, has_plain = "TIMESTAMP_DERIVED" in present, "TIMESTAMP" in present
    derived_raw = "nullif(trim(\"TIMESTAMP_DERIVED\"), '')" if has_derived else "NULL"
    plain_raw = "nullif(trim(\"TIMESTAMP\"), '')" if has_plain else "NULL"
    derived_parts = _derived_parts_sql('"TIMESTAMP_DERIVED"') if has_derived else "NULL"
    plain_ts = (
        "try_strptime(trim(\"TIMESTAMP\"), ['%Y%m%d%H%M%S.%g', '%Y%m%d%H%M%S'])"
        if has_plain
        else "NULL::TIMESTAMP"
    )
    offset = _derived_offset_sql("derived_parts")
    derived_ts = (
        f"TRY_CAST(nullif(derived_parts.base, '') AS TIMESTAMP) - to_minutes({offset})"
        if has_derived
        else "NULL::TIMESTAMP"
    )
    bad_offset = (
        f"derived_parts.base <> '' AND derived_parts.hh <> '' AND {offset} IS NULL"
        if has_derived
        else "false"
    )

    error_terms = [f"coalesce({exprs['status_code']} >= 400, false)"]
    if "LOGIN_STATUS" in present:
        error_terms.append("coalesce(\"LOGIN_STATUS\" NOT IN ('LOGIN_NO_ERROR', ''), false)")
    if "REQUEST_STATUS" in present:
        error_terms.append("coalesce(\"REQUEST_STATUS\" IN ('F', 'U', 'A', 'N'), false)")
    if "SUCCESS" in present:
        error_terms.append("coalesce(lower(\"SUCCESS\") IN ('0', 'false'), false)")
    if "JOB_STATUS" in present:
        error_terms.append("coalesce(\"JOB_STATUS\" = 'Failed', false)")

    attribute_columns = [h for h in header if h not in used]
    attributes = (
        "json_object(" + ", ".join(f"{_quote_literal(h)}, {_quote_ident(h)}" for h in attribute_columns) + ")"
        if attribute_columns
        else "NULL"
    )
    row_text = ", ".join(f"coalesce({_quote_ident(h)}, '')" for h in header)
    request_id = exprs["request_id"]
    org = "nullif(\"ORGANIZATION_ID\", '')" if "ORGANIZATION_ID" in present else "NULL"
    if default_org:
        org = f"coalesce({org}, {_quote_literal(default_org)})"
    common = ",\n       ".join(f"{value} AS {name}" for name, value in exprs.items())
    # The raw count is checked as a DOUBLE: a value past BIGINT would otherwise cast to NULL silently.
    rows_source = next((c for c in COMMON_SOURCES["rows_processed"] if c in present), None)
    raw_rows = f"nullif({_quote_ident(rows_source)}, '')" if rows_source else "NULL"
    earliest, latest = (_quote_literal(str(b)) for b in (bounds.earliest, bounds.latest))
    bad_offset_reason = (
        "'TIMESTAMP_DERIVED ' || derived_raw || ' has a UTC offset out of range"
        f" (more than {MAX_OFFSET_MINUTES // 60:02d}:00 from UTC)'"
    )
    return f"""
SELECT * EXCLUDE (raw_rows_processed, derived_raw, plain_raw, bad_offset),
       CASE WHEN event_type IS NULL THEN 'missing EVENT_TYPE'
            WHEN org_id IS NULL THEN 'missing ORGANIZATION_ID (pass --org to fill it in)'
            WHEN ts IS NULL AND bad_offset THEN {bad_offset_reason}
            WHEN ts IS NULL THEN 'unparseable TIMESTAMP ' || coalesce(raw_timestamp, '(empty)')
            WHEN ts < TIMESTAMP {earliest}
                THEN 'TIMESTAMP ' || raw_timestamp || ' is before ' || {earliest}[:10]
            WHEN ts > TIMESTAMP {latest}
                THEN 'TIMESTAMP ' || raw_timestamp || ' is in the future (after ' || {latest}[:16] || ' UTC)'
            WHEN abs(TRY_CAST(raw_rows_processed AS DOUBLE)) > {MAX_ROWS_PROCESSED}
                THEN 'ROWS_PROCESSED ' || raw_rows_processed || ' is out of range (more than {MAX_ROWS_PROCESSED:.0e})'
       END AS reject_reason
FROM (
SELECT * EXCLUDE (derived_ts, plain_ts),
       coalesce(derived_ts, plain_ts) AS ts,
       CASE WHEN derived_ts IS NOT NULL THEN derived_raw
            ELSE coalesce(plain_raw, derived_raw) END AS raw_timestamp
FROM (
SELECT * EXCLUDE (derived_parts),
       {derived_ts} AS derived_ts,
       coalesce({bad_offset}, false) AS bad_offset
FROM (
SELECT {passthrough},
       nullif("EVENT_TYPE", '') AS event_type,
       {org} AS org_id,
       {derived_raw} AS derived_raw,
       {plain_raw} AS plain_raw,
       {derived_parts} AS derived_parts,
       {plain_ts} AS plain_ts,
       {raw_rows} AS raw_rows_processed,
       {common},
       {" OR ".join(error_terms)} AS is_error,
       CASE WHEN {request_id} IS NULL THEN md5(concat_ws(chr(31), {row_text})) END AS content_key,
       {attributes} AS attributes
  FROM {source}
)))"""


def _read_csv_sql(paths: list[Path], header: list[str], gzipped: bool, file_column: str) -> str:
    """DuckDB read_csv over PATHS (all with this header) in the Salesforce dialect; FILE_COLUMN
    names the column that says which path a row came from."""
    columns = "{" + ", ".join(f"{_quote_literal(h)}: 'VARCHAR'" for h in header) + "}"
    files = "[" + ", ".join(_quote_literal(str(p)) for p in paths) + "]"
    return f"""read_csv({files}, columns = {columns}, header = true, auto_detect = false,
                delim = ',', quote = '"', escape = '"', filename = {_quote_literal(file_column)},
                compression = '{"gzip" if gzipped else "none"}', store_rejects = true,
                rejects_table = 'csv_rejects', rejects_scan = 'csv_scans', max_line_size = 10000000)"""


# Files that share a header are read by one read_csv call (DuckDB parallelises across them)
# and committed together, up to about this many bytes of CSV. One commit per small file
# would cost more than parsing it. Each file still lands whole or not at all.
CHUNK_BYTES = 128 * 1024 * 1024
# Chunks Polars reads are smaller: one is read while the one before it commits, and both are in
# memory then. A larger file takes DuckDB's path, whose memory does not grow with the file.
FAST_CHUNK_BYTES = 64 * 1024 * 1024
GZIP_RATIO = 8  # rough expansion of a gzipped event log, for sizing chunks


@dataclass
class _Accepted:
    """An input that passed the header check, waiting to be read."""

    source: LogInput
    header: list[str]
    digest: str
    gzipped: bool
    path: Path
    result: FileResult
    file_id: int = 0
    reader_reject_lines: list[int] = field(default_factory=list)
    # Plain (not gzipped), LF line ends only, at most FAST_CHUNK_BYTES, its size and double
    # quotes counted by the scan: Polars may read it (fast_read checks the rest).
    plain_lf: bool = False
    size: int = 0
    quotes: int = 0

    def reset(self) -> None:
        """Forget a failed attempt's counts before the file is read again on its own."""
        self.result.status, self.result.reason = "ingested", ""
        self.result.rows_read = self.result.rows_rejected = 0
        self.reader_reject_lines = []


# Per file: rows read, rows rejected, org, event type, first and last event.
_FileCounts = tuple[int, int, str | None, str | None, datetime | None, datetime | None]


@dataclass(frozen=True)
class _ReadChunk(fast_read.CleanRead):
    """A chunk Polars read (ahead of its commit), and whether a row may repeat another
    (`_may_repeat`)."""

    may_repeat: bool


class Ingester:
    """Ingests inputs into an open store connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, default_org: str | None = None) -> None:
        self.con = con
        self.default_org = default_org
        partitions.attach_view(con, read_only=False)  # a copied store's view, re-pointed first
        self.folder = partitions.events_folder(con)
        self._tmp = tempfile.TemporaryDirectory(prefix="workbench-ingest-")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-writer")
        self._copies = 0
        # One "now" per run, so the reading pass and the pass that locates rejects agree.
        self.bounds = TimeBounds(EARLIEST_EVENT, _now() + FUTURE_SLACK)
        self.rules = fast_read.Rules(
            COMMON_SOURCES,
            FAMILY_BY_EVENT_TYPE,
            NUMBER_COLUMNS,
            MAX_ROWS_PROCESSED,
            _MAPPED_DOTTED,
            _MAPPED_HEX,
            self.bounds.earliest,
            self.bounds.latest,
        )

    def close(self) -> None:
        """Drop the temporary tables and files."""
        self._writer.shutdown()
        self.con.execute("DROP VIEW IF EXISTS batch_part")
        for name in ("batch", "batch_rejects", "stage", "csv_rejects", "csv_scans"):
            self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self._tmp.cleanup()

    def _copy_path(self, stem: str) -> Path:
        self._copies += 1
        return Path(self._tmp.name) / f"{stem}-{self._copies}.csv"

    def check(
        self,
        source: LogInput,
        sniffed: list[str] | RefusedFile,
        scan: InputScan | None,
        pending_digests: dict[str, str],
        stored: Mapping[str, str],
    ) -> _Accepted | FileResult:
        """Dedupe one sniffed and hashed input against the files STORED (content hash: path)
        and those accepted before it in this run: an accepted input, or its final result."""
        result = FileResult(source.label, "refused")
        if isinstance(sniffed, RefusedFile) or scan is None:
            result.reason = str(sniffed) if isinstance(sniffed, RefusedFile) else "cannot be read"
            self._record_refusal(source, result.reason)
            return result
        header, digest = sniffed, scan.digest
        where = stored.get(digest) or pending_digests.get(digest)
        if where:
            result.status, result.reason = "skipped", f"same content already ingested from {where}"
            return result
        pending_digests[digest] = source.label
        if scan.mixed_line_endings:
            # DuckDB's reader takes the first line's ending for the whole file; a file mixing
            # CRLF, LF and CR is read from a copy where every line ends in LF.
            path, gzipped = normalised_copy(source, self._copy_path("lines")), False
        else:
            path, gzipped = materialise(source, Path(self._tmp.name)), is_gzip(source)
        result.status = "ingested"  # until reading or committing it fails
        # The scan's counts are of the stored bytes, which are the bytes read unless gzipped.
        counted = not gzipped and scan.size is not None and scan.quotes is not None
        return _Accepted(
            source,
            header,
            digest,
            gzipped,
            path,
            result,
            plain_lf=counted and not scan.carriage_returns and path.stat().st_size <= FAST_CHUNK_BYTES,
            size=scan.size or 0,
            quotes=scan.quotes or 0,
        )

    def stored_digests(self, digests: Iterable[str]) -> dict[str, str]:
        """Of these content hashes, those of files already ingested, with a path each came from."""
        wanted = pl.DataFrame({"content_hash": list(set(digests))}, schema={"content_hash": pl.String})
        self.con.register("wanted_digests", wanted.to_arrow())
        try:
            rows = self.con.execute(
                """SELECT content_hash, any_value(path) FROM files JOIN wanted_digests USING (content_hash)
                    WHERE status = 'ingested' GROUP BY content_hash"""
            ).fetchall()
        finally:
            self.con.unregister("wanted_digests")
        return dict(rows)

    def _record_refusal(self, source: LogInput, reason: str) -> None:
        self.con.execute(
            "INSERT INTO files (file_id, content_hash, path, member, status, reason, ingested_at) "
            "VALUES (nextval('file_id_seq'), '', ?, ?, 'refused', ?, ?)",
            [str(source.path), source.member, reason, _now()],
        )

    def ingest_chunk(
        self, chunk: list[_Accepted], read: _ReadChunk | Literal["unread"] | None = "unread"
    ) -> None:
        """Read files sharing one header in one scan, then commit them together. If anything
        fails, each file is tried again on its own, so a bad one is refused and named and the
        others still land. READ: what `read_fast` returned for the chunk, when it ran ahead."""
        try:
            if isinstance(read, str):  # not read ahead
                read = self.read_fast(chunk)
            if read is None:
                self._ingest(chunk)
            else:
                self._ingest_fast(chunk, read)
        except Exception as exc:  # whatever one file does, the others still land
            if len(chunk) > 1:
                for item in chunk:
                    if item.result.status != "refused":  # refused for its own reason already
                        item.reset()
                        self.ingest_chunk([item])
                return
            self._refuse(chunk[0], exc)

    def _ingest(self, chunk: list[_Accepted]) -> None:
        con = self.con
        for item, file_id in zip(chunk, self._file_ids(len(chunk)), strict=True):
            item.file_id = file_id
        self._read(chunk, create=True)
        con.execute("CREATE OR REPLACE TEMP TABLE batch_rejects AS SELECT * FROM rejects LIMIT 0")
        self._collect_reader_rejects(chunk)
        with_bad_rows = {
            row[0]
            for row in con.execute(
                "SELECT DISTINCT file_id FROM batch WHERE reject_reason IS NOT NULL"
            ).fetchall()
        }
        for item in chunk:
            if item.result.status != "refused" and item.file_id in with_bad_rows:
                self._locate_rejects(item)
        self._refuse_files_without_events(chunk)
        self._commit([i for i in chunk if i.result.status != "refused"])

    def _read(self, chunk: list[_Accepted], create: bool) -> None:
        """Normalise the chunk's files (or a cleaned copy of one) into temp table batch."""
        con = self.con
        con.execute("DROP TABLE IF EXISTS csv_rejects")
        con.execute("DROP TABLE IF EXISTS csv_scans")
        first = chunk[0]
        file_column = _free_name("workbench_source_file", first.header)
        source = _read_csv_sql([i.path for i in chunk], first.header, first.gzipped, file_column)
        ids = " ".join(f"WHEN {_quote_literal(str(i.path))} THEN {i.file_id}" for i in chunk)
        normalised = _normalise_sql(
            first.header, self.default_org, source, _quote_ident(file_column), self.bounds
        )
        select = (
            f"SELECT CASE {_quote_ident(file_column)} {ids} END AS file_id,"
            f" * EXCLUDE ({_quote_ident(file_column)}) FROM ({normalised})"
        )
        if create:
            con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {select}")
        else:
            con.execute(f"INSERT INTO batch {select}")

    def _collect_reader_rejects(self, chunk: list[_Accepted]) -> None:
        """Lines DuckDB's reader could not split go to rejects; a file with invalid UTF-8 is
        re-read from a copy with the bad bytes replaced (and counted)."""
        con = self.con
        by_path = {str(i.path): i for i in chunk}
        rows = con.execute(
            """SELECT s.file_path, r.line, any_value(CAST(r.error_type AS VARCHAR)), any_value(r.csv_line)
                 FROM csv_rejects r JOIN csv_scans s USING (scan_id, file_id)
                GROUP BY ALL ORDER BY 1, 2"""
        ).fetchall()
        rejects: dict[int, list[tuple[int, str, str]]] = {}
        for path, line, kind, raw in rows:
            rejects.setdefault(by_path[path].file_id, []).append((int(line), str(kind), str(raw)))
        for item in chunk:
            found = rejects.get(item.file_id, [])
            if any(kind == "INVALID ENCODING" for _, kind, _ in found):
                con.execute("DELETE FROM batch WHERE file_id = ?", [item.file_id])
                item.path, item.result.bytes_replaced = self._utf8_copy(item.source)
                item.gzipped = False
                self._read([item], create=False)
                found = [
                    (int(line), str(kind), str(raw))
                    for line, kind, raw in con.execute(
                        """SELECT line, any_value(CAST(error_type AS VARCHAR)), any_value(csv_line)
                             FROM csv_rejects GROUP BY ALL ORDER BY 1"""
                    ).fetchall()
                ]
            self._store_reader_rejects(item, found)

    def _store_reader_rejects(self, item: _Accepted, found: list[tuple[int, str, str]]) -> None:
        item.result.rows_rejected += len(found)
        item.result.rows_read += len(found)
        if found:
            self.con.executemany(
                "INSERT INTO batch_rejects VALUES (?, ?, ?, ?)",
                [(item.file_id, line, _reader_reason(kind), raw) for line, kind, raw in found],
            )
            item.reader_reject_lines = [line for line, _, _ in found]

    def _locate_rejects(self, item: _Accepted) -> None:
        """Rows that parsed but cannot be stored (no timestamp, no org): find their line numbers
        by re-reading this one file in order. Rare, so it may be slow."""
        con = self.con
        file_column = _free_name("workbench_source_file", item.header)
        ordinal = _free_name("workbench_ordinal", item.header)
        row_ordinal = _free_name("workbench_row_ordinal", item.header)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE stage AS
                SELECT * EXCLUDE ({_quote_ident(file_column)})
                  FROM {_read_csv_sql([item.path], item.header, item.gzipped, file_column)}"""
        )
        skipped = sorted(item.reader_reject_lines)
        # Data row k (0-based) is on line k + 2 plus the lines the reader skipped before it.
        good_before = ", ".join(f"({line - index - 2})" for index, line in enumerate(skipped)) or "(NULL)"
        raw_line = " || ',' || ".join(
            f"'\"' || replace(coalesce(s.{_quote_ident(h)}, ''), '\"', '\"\"') || '\"'" for h in item.header
        )
        normalised = _normalise_sql(
            item.header,
            self.default_org,
            "staged",
            f"{_quote_ident(ordinal)} AS {_quote_ident(row_ordinal)}",
            self.bounds,
        )
        con.execute(
            f"""INSERT INTO batch_rejects
                WITH staged AS (
                    SELECT rowid - (SELECT min(rowid) FROM stage) AS {_quote_ident(ordinal)}, * FROM stage)
                SELECT {item.file_id},
                       s.{_quote_ident(ordinal)} + 2
                         + (SELECT count(*) FROM (VALUES {good_before}) r(g) WHERE r.g <= s.{_quote_ident(ordinal)}),
                       n.reject_reason, {raw_line}
                  FROM staged s
                  JOIN ({normalised}) n
                    ON n.{_quote_ident(row_ordinal)} = s.{_quote_ident(ordinal)}
                 WHERE n.reject_reason IS NOT NULL"""
        )
        con.execute("DROP TABLE stage")

    def _refuse_files_without_events(self, chunk: list[_Accepted]) -> None:
        """A file with data lines of which none could be stored is refused, not recorded as
        ingested: its hash is then not remembered, so a later ingest (a fixed reader, --org)
        tries it again."""
        counts = {
            int(file_id): (int(rows), int(good))
            for file_id, rows, good in self.con.execute(
                """SELECT file_id, count(*), count(*) FILTER (WHERE reject_reason IS NULL)
                     FROM batch GROUP BY file_id"""
            ).fetchall()
        }
        for item in chunk:
            if item.result.status == "refused":
                continue
            rows, good = counts.get(item.file_id, (0, 0))
            lines = rows + len(item.reader_reject_lines)
            if lines == 0 or good > 0:
                continue
            first = first_row(
                self.con.execute(
                    "SELECT line_no, reason FROM batch_rejects WHERE file_id = ? ORDER BY line_no LIMIT 1",
                    [item.file_id],
                )
            )
            where = f" (line {first[0]}: {first[1]})" if first else ""
            self._refuse(item, f"no event could be read from its {lines:,} data line(s){where}")

    def _utf8_copy(self, source: LogInput) -> tuple[Path, int]:
        """Copy the input as UTF-8 with invalid bytes replaced (and line endings normalised);
        return the copy and the number of bytes replaced."""
        replaced = 0

        def count_and_replace(exc: UnicodeError) -> tuple[str, int]:
            nonlocal replaced
            assert isinstance(exc, UnicodeDecodeError)
            replaced += exc.end - exc.start
            return "\ufffd", exc.end

        target = normalised_copy(source, self._copy_path("utf8"), count_and_replace)
        return target, replaced

    def _refuse(self, item: _Accepted, problem: BaseException | str) -> None:
        if isinstance(problem, str):
            reason = problem
        else:
            message = (str(problem).splitlines() or [type(problem).__name__])[0]
            lowered = message.lower()
            if item.gzipped and any(
                w in lowered for w in ("gzip", "zlib", "decompress", "inflate", "compress")
            ):
                reason = f"truncated or corrupt gzip data ({message})"
            elif isinstance(problem, duckdb.Error):
                reason = f"cannot be read as CSV: {message}"
            else:
                reason = f"not stored: {type(problem).__name__}: {message}"
        if self._has_table("batch"):
            self.con.execute("DELETE FROM batch WHERE file_id = ?", [item.file_id])
        item.result.status, item.result.reason = "refused", reason
        item.result.rows_added = item.result.rows_duplicate = 0
        self._record_refusal(item.source, reason)

    def _has_table(self, name: str) -> bool:
        found = first_row(
            self.con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]
            )
        )
        return bool(found and found[0])

    def _commit(self, chunk: list[_Accepted]) -> None:
        """One transaction: new events, their hourly aggregates, rejects and file records. Raises
        (after rolling back) if any of it fails."""
        if not chunk:
            return
        con = self.con
        ids = ", ".join(str(i.file_id) for i in chunk)
        # Only the chunk's surviving files: a refused one's rows must not land.
        con.execute(f"CREATE OR REPLACE TEMP VIEW batch_part AS SELECT * FROM batch WHERE file_id IN ({ids})")
        con.execute("BEGIN")
        try:
            added = self._insert_new_events()
            counts = dict(
                (row[0], row[1:])
                for row in con.execute(
                    """SELECT file_id, count(*), count(*) FILTER (WHERE reject_reason IS NOT NULL),
                              mode(org_id) FILTER (WHERE reject_reason IS NULL),
                              mode(event_type) FILTER (WHERE reject_reason IS NULL),
                              min(ts) FILTER (WHERE reject_reason IS NULL),
                              max(ts) FILTER (WHERE reject_reason IS NULL)
                         FROM batch_part GROUP BY file_id"""
                ).fetchall()
            )
            self._record_files(chunk, counts, added)
            con.execute(f"INSERT INTO rejects SELECT * FROM batch_rejects WHERE file_id IN ({ids})")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            # The batch's files, renamed or not, are named by no catalog row now: remove them
            # (by its marker, so even a batch that failed halfway through its renames goes).
            partitions.recover(con, self.folder)
            raise
        partitions.settle(self.folder)

    def _record_files(
        self,
        chunk: list[_Accepted],
        counts: Mapping[int, _FileCounts],
        added: dict[int, int],
    ) -> None:
        """The chunk's `files` rows, from COUNTS per file id (rows, rejected, org, event type,
        first and last event) and the rows ADDED per file id."""
        records = []
        for item in chunk:
            result = item.result
            rows, bad, org, event_type, first, last = counts.get(item.file_id, (0, 0, None, None, None, None))
            result.rows_read += int(rows)
            result.rows_rejected += int(bad)
            result.rows_added = added.get(item.file_id, 0)
            result.rows_duplicate = result.rows_read - result.rows_rejected - result.rows_added
            result.org_id, result.event_type = org, event_type
            records.append(
                [
                    item.file_id,
                    item.digest,
                    str(item.source.path),
                    item.source.member,
                    org,
                    event_type,
                    first,
                    first,
                    last,
                    result.rows_read,
                    result.rows_added,
                    result.rows_duplicate,
                    result.rows_rejected,
                    result.bytes_replaced,
                    _now(),
                ]
            )
        row = "(?, ?, ?, ?, ?, ?, CAST(? AS DATE), ?, ?, ?, ?, ?, ?, ?, 'ingested', NULL, ?)"
        insert_rows(self.con, "files", row, records)

    def read_fast(self, chunk: list[_Accepted]) -> _ReadChunk | None:
        """The chunk's files read and normalised by Polars (fast_read), or None if one of them is
        not clean: then the whole chunk takes DuckDB's path, so which file's copy of a repeated
        row is kept never depends on the path. Touches no database, so `ingest_inputs` runs it
        for the next chunk while this one commits."""
        if not all(item.plain_lf for item in chunk):
            return None
        plain = [fast_read.Plain(item.path, item.size, item.quotes) for item in chunk]
        try:
            read = fast_read.read_clean(plain, chunk[0].header, self.default_org, self.rules)
        except Exception:  # an unreadable file: DuckDB's path names the problem
            return None
        if read is None:
            return None
        return _ReadChunk(read.rows, read.files, _may_repeat(read))

    def _file_ids(self, n: int) -> list[int]:
        """N new file ids, in ascending order (one query, not one per file)."""
        rows = self.con.execute(
            "SELECT nextval('file_id_seq') AS id FROM range(?) ORDER BY id", [n]
        ).fetchall()
        return [int(file_id) for (file_id,) in rows]

    def _ingest_fast(self, chunk: list[_Accepted], read: _ReadChunk) -> None:
        """Commit a chunk `read_fast` read. Raises, like `_ingest`, if the commit fails."""
        ids = np.array(self._file_ids(len(chunk)), dtype=np.int32)
        for item, file_id in zip(chunk, ids.tolist(), strict=True):
            item.file_id = file_id
        batch = read.rows.insert_column(0, pl.Series("file_id", np.repeat(ids, [f[0] for f in read.files])))
        counts = {
            item.file_id: (rows, 0, org, event_type, first, last)
            for item, (rows, org, event_type, first, last) in zip(chunk, read.files, strict=True)
        }
        # Each file's org, type and span, as read: what the chunk may repeat and which hours it
        # touches, without another pass over its rows (a pass over millions of rows costs about
        # as much as reading them from memory).
        spans = self._touched(
            (org, event_type, first, last) for _, org, event_type, first, last in read.files
        )
        self._commit_fast(chunk, batch, counts, spans, read.may_repeat)

    def _commit_fast(
        self,
        chunk: list[_Accepted],
        batch: pl.DataFrame,
        counts: Mapping[int, _FileCounts],
        spans: dict[tuple[str, str], tuple[datetime, datetime]],
        may_repeat: bool,
    ) -> None:
        """`_commit` for a clean chunk read by Polars: the same transaction, with the dedupe done
        on the frame, Polars writing the partition files and the aggregates computed from the
        frame where nothing was stored before. SPANS: per org and event type, the first and last
        event of the batch."""
        con = self.con
        con.execute("BEGIN")
        try:
            fresh = self._fresh_rows(batch, may_repeat, spans)
            if fresh.height == batch.height:
                added = {file_id: figures[0] for file_id, figures in counts.items()}
                touched = spans
            else:  # some rows were stored already: only the rest count, and touch hours
                added = {int(i): int(n) for i, n in fresh.group_by("file_id").len().iter_rows()}
                touched = self._touched(
                    fresh.group_by("org_id", "event_type")
                    .agg(pl.min("ts").alias("first"), pl.max("ts").alias("last"))
                    .iter_rows()
                )
            del batch
            written = self._write_and_refresh(fresh, touched)
            partitions.record(con, written)
            self._record_files(chunk, counts, added)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            partitions.recover(con, self.folder)
            raise
        partitions.settle(self.folder)

    def _write_and_refresh(
        self, rows: pl.DataFrame, touched: dict[tuple[str, str], tuple[datetime, datetime]]
    ) -> list[partitions.EventFile]:
        """Write ROWS' partition files and refresh the aggregates of the hours TOUCHED. Where the
        names need no encoding, Polars writes the files in another thread while this one
        aggregates ROWS: the writer is busy in Polars' encoder while this thread waits on DuckDB
        and Python. Whatever fails, every file is written or abandoned before this returns, so a
        `recover` after it finds each one."""
        if not partitions.plain_names(rows):
            written = partitions.write_encoded(self.con, rows, self.folder)
            self._refresh(touched, rows)
            return written
        writing = self._writer.submit(partitions.write_plain, rows, self.folder)
        try:
            self._refresh(touched, rows, files_written=writing.result)
        finally:
            wait([writing])
        return writing.result()

    def _fresh_rows(
        self,
        batch: pl.DataFrame,
        may_repeat: bool,
        spans: Mapping[tuple[str, str], tuple[datetime, datetime]],
    ) -> pl.DataFrame:
        """The rows of BATCH not stored yet, each once (the first file's copy of a repeated row,
        when it MAY_REPEAT one). SPANS: per org and event type, the batch's first and last event."""
        if may_repeat:
            batch = batch.unique(subset=list(_DEDUPE_KEY), keep="first", maintain_order=True)
        ranges = self._stored_ranges([(org, event_type, *span) for (org, event_type), span in spans.items()])
        if not ranges:
            return batch
        stored = self.con.sql(f"SELECT {', '.join(_DEDUPE_KEY)} FROM events e WHERE {ranges}").pl()
        if stored.is_empty():
            return batch
        return batch.join(
            stored.cast(batch.select(_DEDUPE_KEY).schema),  # type: ignore[arg-type]
            on=list(_DEDUPE_KEY),
            how="anti",
            nulls_equal=True,
            maintain_order="left",
        )

    def _insert_new_events(self) -> dict[int, int]:
        """Insert the batch's rows not already stored; refresh the hours they touch."""
        con = self.con
        spans = con.execute(
            "SELECT org_id, event_type, min(ts), max(ts) FROM batch_part WHERE reject_reason IS NULL GROUP BY ALL"
        ).fetchall()
        ranges = self._stored_ranges(spans)
        stored = ""
        if ranges:
            stored = f"""AND NOT EXISTS (SELECT 1 FROM events e WHERE ({ranges})
                           AND e.org_id = b.org_id AND e.event_type = b.event_type
                           AND e.ts = b.ts AND e.request_id IS NOT DISTINCT FROM b.request_id
                           AND e.content_key IS NOT DISTINCT FROM b.content_key)"""
        # Rows repeated inside the batch (a file and its re-delivery, or overlapping hourly and
        # daily files) keep one occurrence, from the file read first. Checking for repeats first
        # is cheaper than always ranking every row.
        (repeats,) = first_row(
            con.execute(
                """SELECT count(*) - count(DISTINCT (org_id, event_type, ts, request_id, content_key))
                 FROM batch_part WHERE reject_reason IS NULL"""
            )
        )
        first_only = (
            "QUALIFY row_number() OVER (PARTITION BY org_id, event_type, ts, request_id, content_key ORDER BY file_id) = 1"
            if repeats
            else ""
        )
        # The new rows go straight to Parquet partitions (in place, named in the catalog by this
        # transaction); what was added, and the aggregates below, are read back from them.
        fresh = f"SELECT {partitions.EVENT_COLUMNS} FROM batch_part b WHERE reject_reason IS NULL {stored} {first_only}"
        written = partitions.write_batch(con, fresh, self.folder)
        partitions.record(con, written)
        added = partitions.summary(con, self.folder, written)
        self._refresh(self._touched((org, t, first, last) for _, org, t, _, first, last in added), None)
        counts: dict[int, int] = {}
        for file_id, _, _, n, _, _ in added:
            counts[int(file_id)] = counts.get(int(file_id), 0) + int(n)
        return counts

    def _stored_ranges(self, spans: Sequence[tuple[str, str, datetime, datetime]]) -> str:
        """A condition on `events e` selecting the stored rows a batch with these (org, event
        type, first, last) SPANS could repeat; '' when there are none."""
        # Only where stored files already cover the same org, type and span can a row be a
        # duplicate of a stored one; elsewhere the anti-join over events is skipped.
        overlapping = [
            (org, event_type, first, last)
            for org, event_type, first, last in spans
            if first_row(
                self.con.execute(
                    """SELECT 1 FROM files WHERE status = 'ingested' AND org_id = ? AND event_type = ?
                    AND first_ts <= ? AND last_ts >= ? LIMIT 1""",
                    [org, event_type, last, first],
                )
            )
        ]
        # The day bounds let the view read only the partitions this batch touches.
        return " OR ".join(
            f"(e.event_type = {_quote_literal(t)} AND e.day BETWEEN '{f.date()}' AND '{la.date()}' "
            f"AND e.org_id = {_quote_literal(o)} AND e.ts BETWEEN '{f}' AND '{la}')"
            for o, t, f, la in overlapping
        )

    @staticmethod
    def _touched(
        added: Iterable[tuple[str, str, datetime, datetime]],
    ) -> dict[tuple[str, str], tuple[datetime, datetime]]:
        """Per (org, event type), the first and last event of the rows ADDED."""
        touched: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for org, event_type, first, last in added:
            old = touched.get((org, event_type))
            touched[(org, event_type)] = (min(first, old[0]), max(last, old[1])) if old else (first, last)
        return touched

    def _refresh(
        self,
        touched: dict[tuple[str, str], tuple[datetime, datetime]],
        added: pl.DataFrame | None,
        files_written: Callable[[], object] = lambda: None,
    ) -> None:
        """Rebuild the aggregates of the hours TOUCHED. Where no partition file of the store held
        those days before this batch, the rows ADDED (still in memory, if given) are all there is:
        they are aggregated as they are rather than read back from the files just written. The
        other hours are read back from `events` once FILES_WRITTEN has returned (it waits for
        this batch's files, which may still be being written)."""
        con = self.con
        refresh = statements("refresh_hourly_activity")
        in_memory: list[tuple[str, str]] = []
        read_back: list[dict[str, object]] = []
        for (org, event_type), (first, last) in touched.items():
            window = {
                "org_id": org,
                "event_type": event_type,
                "start": _hour_floor(first),
                "end": _hour_floor(last) + _ONE_HOUR,
            }
            stored = added is None or first_row(
                con.execute(
                    """SELECT 1 FROM event_files WHERE org_id = ? AND event_type = ?
                        AND day BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) LIMIT 1""",
                    [org, event_type, window["start"], window["end"]],
                )
            )
            if stored:
                read_back.append(window)
            else:
                in_memory.append((org, event_type))
            # The DELETEs clear the window. Each DELETE and INSERT pair has a table of its own,
            # so the DELETEs may all go first.
            for statement in refresh:
                if statement.upper().startswith("DELETE"):
                    con.execute(statement, window)
        if in_memory and added is not None:
            if len(in_memory) < len(touched):
                pairs = pl.DataFrame(in_memory, schema=["org_id", "event_type"], orient="row")
                added = added.join(pairs, on=["org_id", "event_type"], how="semi")
            for table, rows in frame_aggregates.aggregates(con, added).items():
                # Arrow's string views are Polars' own strings: handed over without a copy.
                con.register("aggregate_rows", rows.to_arrow(compat_level=pl.CompatLevel.newest()))
                try:
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM aggregate_rows")
                finally:
                    con.unregister("aggregate_rows")
        files_written()
        for window in read_back:  # rebuilt from `events`, this batch's files included
            for statement in refresh:
                if not statement.upper().startswith("DELETE"):
                    con.execute(statement, window)


def _may_repeat(read: fast_read.CleanRead) -> bool:
    """Whether a row of these normalised files (one org and event type each) may repeat another:
    checked without hashing every row, since a file's rows come in time order and files of one
    org and type mostly cover different spans. Rows can only repeat within a file among rows of
    the same timestamp, and across files only where their spans overlap."""
    ts = pl.col("ts")
    same_file = pl.col("file") == pl.col("file").shift(1)
    keyed = read.rows.select(*_DEDUPE_KEY, fast_read.file_index([f[0] for f in read.files]))
    if keyed.select(((ts.diff() < timedelta(0)) & same_file).any()).item():
        return True  # not in time order: the full check
    same_time = (ts == ts.shift(1)) & same_file
    same_time = same_time | same_time.shift(-1)
    if keyed.filter(same_time).select(pl.struct(_DEDUPE_KEY).is_duplicated().any()).item():
        return True
    spans = sorted((org, event_type, first, last) for _, org, event_type, first, last in read.files)
    return any((a[0], a[1]) == (b[0], b[1]) and b[2] <= a[3] for a, b in itertools.pairwise(spans))


def _chunks(accepted: list[_Accepted]) -> list[list[_Accepted]]:
    """Group inputs that share a header and compression, in order, up to CHUNK_BYTES each (those
    Polars may read up to FAST_CHUNK_BYTES)."""
    groups: dict[tuple[tuple[str, ...], bool, bool], list[list[_Accepted]]] = {}
    sizes: dict[tuple[tuple[str, ...], bool, bool], int] = {}
    for item in accepted:
        key = (tuple(item.header), item.gzipped, item.plain_lf)
        size = item.path.stat().st_size * (GZIP_RATIO if item.gzipped else 1)
        limit = FAST_CHUNK_BYTES if item.plain_lf else CHUNK_BYTES
        if key not in groups or sizes[key] + size > limit:
            groups.setdefault(key, []).append([])
            sizes[key] = 0
        groups[key][-1].append(item)
        sizes[key] += size
    chunks = [chunk for chunk_list in groups.values() for chunk in chunk_list]
    # Polars reads the first chunk while nothing commits, and the last commits while nothing is
    # read, each with a core mostly idle: a quarter of each, on its own, keeps those spans short.
    if chunks and chunks[0][0].plain_lf and len(chunks[0]) > 1:
        chunks[:1] = _split(chunks[0], max(1, len(chunks[0]) // 4))
    if len(chunks) > 1 and chunks[-1][0].plain_lf and len(chunks[-1]) > 1:
        chunks[-1:] = _split(chunks[-1], len(chunks[-1]) - max(1, len(chunks[-1]) // 4))
    return chunks


def _split(chunk: list[_Accepted], at: int) -> list[list[_Accepted]]:
    return [chunk[:at], chunk[at:]]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_ONE_HOUR = timedelta(hours=1)
# What makes two rows the same event (a request id, or a content hash where there is none).
_DEDUPE_KEY = ("org_id", "event_type", "ts", "request_id", "content_key")


def _hour_floor(value: datetime) -> datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def _reader_reason(kind: str) -> str:
    return {
        "MISSING COLUMNS": "too few columns",
        "TOO MANY COLUMNS": "too many columns",
        "UNQUOTED VALUE": "malformed quoting",
        "LINE SIZE OVER MAXIMUM": "line too long",
        "INVALID ENCODING": "invalid UTF-8",
        "INVALID STATE": "malformed quoting",
    }.get(kind, kind.lower())


ProgressCallback = Callable[[int, int], None]


def _sniff(item: LogInput | MissingInput) -> tuple[list[str] | RefusedFile, InputScan | None]:
    """The header (or why the file is refused) and one full read of the input: its content hash
    and line endings (a truncated gzip or a corrupt zip member is found here)."""
    if isinstance(item, MissingInput):
        return RefusedFile(item.reason), None
    try:
        return read_header(item), scan_input(item)
    except RefusedFile as exc:
        return exc, None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        return RefusedFile(f"truncated or corrupt gzip data ({exc})"), None
    except zipfile.BadZipFile as exc:
        return RefusedFile(f"corrupt zip archive member ({exc})"), None
    except OSError as exc:
        return RefusedFile(f"cannot read: {exc.strerror or exc}"), None
    except Exception as exc:  # a hostile file is refused, never the end of the run
        return RefusedFile(f"cannot be read: {type(exc).__name__}: {exc}"), None


def ingest_inputs(
    con: duckdb.DuckDBPyConnection,
    inputs: Sequence[LogInput | MissingInput],
    default_org: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest INPUTS (found by a source: local folders, a Salesforce download); refusals,
    a missing input among them, are reported, never raised."""
    report = IngestReport()
    total = len(inputs) * 2  # checking, then reading
    done = 0

    def step(n: int = 1) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(done, total)

    ingester = Ingester(con, default_org)
    # Header sniffing and hashing read every byte once; two threads overlap that I/O and hashing
    # (hashlib releases the GIL).
    with ThreadPoolExecutor(max_workers=2) as pool:
        sniffed = list(pool.map(_sniff, inputs))
    try:
        accepted: list[_Accepted] = []
        digests: dict[str, str] = {}
        stored = ingester.stored_digests(scan.digest for _, scan in sniffed if scan is not None)
        for item, (header, scan) in zip(inputs, sniffed, strict=True):
            if isinstance(item, MissingInput):
                report.files.append(FileResult(item.label, "refused", item.reason))
                step(2)
                continue
            checked = ingester.check(item, header, scan, digests, stored)
            if isinstance(checked, FileResult):
                report.files.append(checked)
                step(2)
            else:
                accepted.append(checked)
                report.files.append(checked.result)
                step()
        chunks = _chunks(accepted)
        # Polars reads the next chunk while this one is written and committed: the commit waits
        # on DuckDB, file writes and single-threaded steps, which leaves a core free.
        with ThreadPoolExecutor(max_workers=1) as reader:
            ahead = reader.submit(ingester.read_fast, chunks[0]) if chunks else None
            for index, chunk in enumerate(chunks):
                assert ahead is not None
                try:
                    read: _ReadChunk | Literal["unread"] | None = ahead.result()
                except Exception:  # (out of memory, say) read it again where failures are handled
                    read = "unread"
                ahead = (
                    reader.submit(ingester.read_fast, chunks[index + 1]) if index + 1 < len(chunks) else None
                )
                ingester.ingest_chunk(chunk, read)
                step(len(chunk))
    finally:
        ingester.close()
    return report
