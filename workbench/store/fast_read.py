"""Ingest's fast path: a clean event log read by Polars and normalised in Polars expressions into
exactly the rows DuckDB's reader and normalising SELECT (`ingest._normalise_sql`) store for it.

Clean is checked, never assumed, because Polars' reader differs from DuckDB's on bad input: it
pads a short row with nulls, keeps a blank line as a row of nulls, keeps the spaces around a
quoted value that DuckDB drops, and its timestamp and number parsers are more lenient in places.
So a file takes this path only if Polars reads it without an error, the values written back in
the Salesforce dialect (every value quoted, quotes doubled) add up to the file's exact size (a
missing or unquoted-empty field, a short row or a blank line cannot), and every row would be
stored as is: no reject, timestamps in the two forms Salesforce writes, numbers that are plain
integers, a request id on every row (the content key of a row without one is DuckDB's md5).
Anything else returns None and the file takes DuckDB's path, which tracks rejects with their line
numbers.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from workbench.store import partitions

# DuckDB's reader rejects lines longer than ingest's max_line_size; rows anywhere near it take
# DuckDB's path so the two never disagree on where the limit falls.
MAX_FAST_ROW_BYTES = 1_000_000
# The column the scan adds to name each row's file (a header holding this name is not read here).
_FILE = "__workbench_file__"
# TIMESTAMP_DERIVED as Salesforce writes it (UTC, milliseconds, Z) and TIMESTAMP with or without
# milliseconds. Values of these shapes parse the same in Polars and DuckDB (an impossible date
# fails in both); any other shape (an offset, a space, a short field) takes DuckDB's path.
_DERIVED_UTC = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z$"
_PLAIN = r"^[0-9]{8}(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9](?:\.[0-9]{3})?$"
# DuckDB's JSON writes the escapes of some control characters with upper-case hex (\u001F),
# Polars with lower-case; a file with any such escape in an attribute takes DuckDB's path.
_ESCAPE = "\\u00"


@dataclass(frozen=True)
class Rules:
    """What the normalising SELECT does, as ingest declares it (passed in, so the two paths read
    one definition)."""

    common_sources: dict[str, tuple[str, ...]]
    family_by_event_type: dict[str, str]
    number_columns: dict[str, str]
    max_rows_processed: int
    mapped_dotted: str
    mapped_hex: str
    earliest: datetime
    latest: datetime


@dataclass(frozen=True)
class Plain:
    """A plain file the pass that hashed it found without a CR: its path, and the SIZE and QUOTES
    that pass counted."""

    path: Path
    size: int
    quotes: int


@dataclass(frozen=True)
class CleanRead:
    """Clean files read and normalised: their rows in file order, in one contiguous frame (the
    column order of the partition files minus file_id), and per file its row count, org, event
    type, first and last event."""

    rows: pl.DataFrame
    files: list[tuple[int, str, str, datetime, datetime]]


def read_clean(
    files: Sequence[Plain], header: list[str], default_org: str | None, rules: Rules
) -> CleanRead | None:
    """The events of FILES (plain CSV files whose header is HEADER), normalised; None if one of
    them is not clean. Polars reads them in one scan (which refuses a file whose header differs
    from the first's), and everything after it (the byte check, the normalising, the checks) runs
    once over all of them: a small file costs a fraction of what a dozen queries of its own did
    (an hourly Login log holds a few rows), and a large one parses faster among others."""
    layouts = [_layout(file) for file in files]
    if any(layout is None for layout in layouts) or _FILE in header:
        return None
    try:
        raw = pl.scan_csv(
            [file.path for file in files],
            has_header=True,
            infer_schema=False,
            separator=",",
            quote_char='"',
            encoding="utf8",
            truncate_ragged_lines=False,
            raise_if_empty=True,
            # DuckDB reads "" as NULL; every rule below relies on the same. Read so, rather than
            # replaced after, it costs nothing (a copy of every column, otherwise).
            null_values=[""],
            include_file_paths=_FILE,
        ).collect()
    except Exception:  # any complaint of Polars' reader: DuckDB's path says what is wrong
        return None
    # The rows of each file, from the runs of the path column: a file without rows leaves no
    # run (nor would one read twice in a row), and then the counts do not add up.
    heights = raw.select(pl.col(_FILE).rle().struct.field("len"))["len"].to_list()
    raw = raw.drop(_FILE)
    if raw.columns != header or len(heights) != len(files):
        return None
    if not _byte_exact(raw, heights, cast(list[_Layout], layouts)):
        return None
    frame = raw.select(_normalise(header, default_org, rules, _has_mapped_addresses(raw, rules)))
    del raw
    checks = [
        # Rejects (DuckDB's path gives them their line numbers), or values it may read otherwise.
        pl.col("ts").is_null().any(),
        (pl.col("ts") < rules.earliest).any(),
        (pl.col("ts") > rules.latest).any(),
        pl.col("_unreadable_number").any(),
        (pl.col("rows_processed").abs() > rules.max_rows_processed).any(),
        pl.col("event_type").is_null().any(),
        pl.col("org_id").is_null().any(),
        # A row without a request id dedupes on DuckDB's md5 of the row: its path computes that.
        pl.col("request_id").is_null().any(),
        pl.col("attributes").str.contains(_ESCAPE, literal=True).any(),
    ]
    if any(frame.select(check.alias(f"check_{n}") for n, check in enumerate(checks)).row(0)):
        return None
    per_file = (
        frame.select("org_id", "event_type", "ts", file_index(heights))
        .group_by("file", maintain_order=True)
        .agg(
            pl.len(),
            pl.col("org_id").first(),
            pl.col("event_type").first(),
            pl.col("ts").min().alias("first"),
            pl.col("ts").max().alias("last"),
            # `files` names one org and type per file, DuckDB's mode(); with one of each, no tie.
            ((pl.col("org_id").n_unique() > 1) | (pl.col("event_type").n_unique() > 1)).alias("mixed"),
        )
    )
    if per_file["mixed"].any():
        return None
    return CleanRead(
        frame.drop("_unreadable_number").rechunk(),
        list(per_file.select("len", "org_id", "event_type", "first", "last").iter_rows()),
    )


def file_index(heights: Sequence[int]) -> pl.Series:
    """`file`: for each row of files of these HEIGHTS read one after the other, its file's index."""
    return pl.Series("file", np.repeat(np.arange(len(heights), dtype=np.int32), heights))


@dataclass(frozen=True)
class _Layout:
    """What the byte check needs of a file: its size, its header line's length and quotes, its
    quotes in all, and whether its last line ends."""

    size: int
    header_bytes: int
    header_quotes: int
    quotes: int
    ends_with_newline: bool


def _layout(file: Plain) -> _Layout | None:
    """FILE's _Layout, from its size and quotes and a look at its first line and last byte; None
    if its size changed since they were counted."""
    with file.path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if len(data) != file.size:
            return None
        header_end = data.find(b"\n") + 1
        return _Layout(
            size=file.size,
            header_bytes=header_end,
            header_quotes=data[:header_end].count(b'"'),
            quotes=file.quotes,
            ends_with_newline=data[-1:] == b"\n",
        )


def _byte_exact(raw: pl.DataFrame, heights: Sequence[int], layouts: Sequence[_Layout]) -> bool:
    """Whether the values Polars read (the rows of files of these HEIGHTS and LAYOUTS, one after
    the other), written back in the Salesforce dialect (every value quoted, quotes doubled, LF
    line ends), make up exactly each file: then no row was padded, trimmed or re-split.

    Polars refuses a quote inside an unquoted field, so a value holding quotes was quoted with
    its quotes doubled: the quotes inside values are what the file has beyond two per value, and
    the sizes agree only if every field was quoted. Against the file, each unquoted field counts
    one byte more, each missing one (a short row, a blank line read as a row of nulls) two, and
    nothing counts fewer (Polars refuses anything outside quotes), so they cannot cancel out: an
    empty field read as null passes only as `""`."""
    # Column by column (a row-wise sum of every row costs twice as much), per file.
    lengths = raw.select(pl.all().str.len_bytes())
    per_file = (
        lengths.with_columns(file_index(heights).set_sorted())
        .group_by("file", maintain_order=True)
        .agg(pl.all().sum())
        .drop("file")
        .sum_horizontal()
    )
    for height, layout, total in zip(heights, layouts, per_file, strict=True):
        values = height * raw.width
        inner_quotes, odd = divmod(layout.quotes - layout.header_quotes - 2 * values, 2)
        end = 0 if layout.ends_with_newline else 1
        if (
            odd
            or inner_quotes < 0
            or layout.header_bytes + total + inner_quotes + 3 * values - end != layout.size
        ):
            return False
    # A row's length is at most the sum of its columns' longest values; only when that bound is
    # reached is the longest row measured.
    if sum(v or 0 for v in lengths.select(pl.all().max()).row(0)) < MAX_FAST_ROW_BYTES:
        return True
    return lengths.select(pl.sum_horizontal(pl.all()).max()).item() < MAX_FAST_ROW_BYTES


def _has_mapped_addresses(raw: pl.DataFrame, rules: Rules) -> dict[str, bool]:
    """Per address column, whether any value has a ':' (only those may be IPv4-mapped IPv6, and
    the three regular expressions of the mapping are not worth running on a column without)."""
    columns = {
        name: next((c for c in rules.common_sources[name] if c in raw.columns), None)
        for name in ("client_ip", "source_ip")
    }
    present = {name: c for name, c in columns.items() if c is not None}
    if not present:
        return {}
    found = raw.select(pl.col(c).str.contains(":", literal=True).any().alias(n) for n, c in present.items())
    return {name: bool(found[name][0]) for name in present}


def _plain_address(value: pl.Expr, rules: Rules) -> pl.Expr:
    """ingest._address_sql in Polars: IPv4-mapped IPv6 as plain IPv4, anything else as given."""
    dotted = value.str.extract(rules.mapped_dotted, 1)
    high = value.str.extract(rules.mapped_hex, 1).str.to_integer(base=16, strict=False)
    low = value.str.extract(rules.mapped_hex, 2).str.to_integer(base=16, strict=False)
    hexed = pl.concat_str([high // 256, high % 256, low // 256, low % 256], separator=".")
    return (
        pl.when(~value.str.contains(":", literal=True))
        .then(value)
        .when(dotted.is_not_null())
        .then(dotted)
        .when(hexed.is_not_null())
        .then(hexed)
        .otherwise(value)
    )


def _timestamp(
    value: pl.Expr, date_format: str, date_length: int, offsets: tuple[int, int, int, int]
) -> pl.Expr:
    """A timestamp of a shape _DERIVED_UTC or _PLAIN has checked: its date parsed (once per
    distinct day, through Polars' cache; an impossible date is null), plus the time of day from
    the digits at OFFSETS (hour, minute, second, millisecond; no milliseconds counts as 0).
    Parsing every distinct value instead costs some 250 ns a row. Rows of another shape get
    some value or null here; the caller keeps only the checked ones."""
    hour, minute, second, milli = (
        value.str.slice(o, 3 if o == offsets[3] else 2).cast(pl.Int64, strict=False) for o in offsets
    )
    micros = hour * 3_600_000_000 + minute * 60_000_000 + second * 1_000_000 + milli.fill_null(0) * 1000
    day = value.str.head(date_length).str.to_date(date_format, strict=False, cache=True)
    return day.cast(pl.Datetime("us")) + pl.duration(microseconds=micros)


def _normalise(
    header: list[str], default_org: str | None, rules: Rules, mapped: dict[str, bool]
) -> list[pl.Expr]:
    """The partition files' columns (without file_id), as the normalising SELECT computes them,
    and `_unreadable_number`: a row with a number Polars cannot read."""
    present = set(header)
    used = {"EVENT_TYPE", "ORGANIZATION_ID", "TIMESTAMP", "TIMESTAMP_DERIVED"}
    columns: dict[str, pl.Expr] = {}
    unreadable: list[pl.Expr] = []
    for name, sources in rules.common_sources.items():
        source = next((c for c in sources if c in present), None)
        if source is None:
            columns[name] = pl.lit(None, dtype=pl.String)
            continue
        used.add(source)
        value = pl.col(source)
        if name in rules.number_columns:
            number = value.cast(
                pl.Int32 if rules.number_columns[name] == "INTEGER" else pl.Int64, strict=False
            )
            # A value Polars cannot read as an integer (1.5, 1e3, past the type) DuckDB may read,
            # round or reject: its path decides.
            unreadable.append(value.is_not_null() & number.is_null())
            value = number
        elif mapped.get(name):
            value = _plain_address(value, rules)
        columns[name] = value
    if not any(c in present for c in rules.common_sources["api_family"]):
        columns["api_family"] = pl.col("EVENT_TYPE").replace_strict(
            rules.family_by_event_type, default=None, return_dtype=pl.String
        )
    columns["status_code"] = columns["status_code"].cast(pl.Int32)
    columns["rows_processed"] = columns["rows_processed"].cast(pl.Int64)

    # TIMESTAMP_DERIVED where the file has it, else TIMESTAMP. A row where it is empty, or of
    # another shape (an offset), has a null here, and the file takes DuckDB's path (which falls
    # back to TIMESTAMP, or applies the offset).
    if "TIMESTAMP_DERIVED" in present:
        derived = pl.col("TIMESTAMP_DERIVED")
        ts = pl.when(derived.str.contains(_DERIVED_UTC)).then(
            _timestamp(derived, "%Y-%m-%d", 10, (11, 14, 17, 20))
        )
    else:
        plain = pl.col("TIMESTAMP")
        ts = pl.when(plain.str.contains(_PLAIN)).then(_timestamp(plain, "%Y%m%d", 8, (8, 10, 12, 15)))

    org = pl.col("ORGANIZATION_ID") if "ORGANIZATION_ID" in present else pl.lit(None, pl.String)
    if default_org:
        org = pl.coalesce(org, pl.lit(default_org))

    errors = [(columns["status_code"] >= 400).fill_null(False)]
    if "LOGIN_STATUS" in present:
        errors.append((pl.col("LOGIN_STATUS") != "LOGIN_NO_ERROR").fill_null(False))
    if "REQUEST_STATUS" in present:
        errors.append(pl.col("REQUEST_STATUS").is_in(["F", "U", "A", "N"]).fill_null(False))
    if "SUCCESS" in present:
        errors.append(pl.col("SUCCESS").str.to_lowercase().is_in(["0", "false"]).fill_null(False))
    if "JOB_STATUS" in present:
        errors.append((pl.col("JOB_STATUS") == "Failed").fill_null(False))

    attribute_columns = [h for h in header if h not in used]
    columns |= {
        "org_id": org,
        "event_type": pl.col("EVENT_TYPE"),
        "ts": ts,
        "is_error": pl.any_horizontal(errors),
        "content_key": pl.lit(None, dtype=pl.String),
        "attributes": pl.struct(attribute_columns).struct.json_encode()
        if attribute_columns
        else pl.lit(None, dtype=pl.String),
    }
    return [
        *(columns[name].alias(name) for name in partitions.COLUMNS if name != "file_id"),
        pl.any_horizontal([pl.lit(False), *unreadable]).alias("_unreadable_number"),
    ]
