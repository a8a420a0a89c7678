"""The org's side of the story: OAuth tokens, connected apps, the setup audit trail and login
history, from CSV exports (Data Loader, `sf data query --result-format csv`, the Setup audit trail
download) or from the API (`fetch --org-context`, which hands records to `load_records`).

Tokens and connected apps are snapshots: each load is kept under its snapshot time, so "before"
and "after" can be compared. Audit trail and login history rows dedupe on their Id (or a hash of
the row). A file lands whole or not at all; a file that cannot be read is refused in one line.
Token values (AccessToken, RequestToken, DeleteToken) are never read into the store.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from workbench.store.inputs import LogInput, content_hash, open_text_bytes
from workbench.store.queries import first_row, load_query

OAUTH_TOKEN = "OauthToken"
CONNECTED_APPLICATION = "ConnectedApplication"
SETUP_AUDIT_TRAIL = "SetupAuditTrail"
LOGIN_HISTORY = "LoginHistory"
OBJECTS = (OAUTH_TOKEN, CONNECTED_APPLICATION, SETUP_AUDIT_TRAIL, LOGIN_HISTORY)
SNAPSHOT_OBJECTS = (OAUTH_TOKEN, CONNECTED_APPLICATION)
# Org-context exports are small next to event logs (months of logins are some 10^6 rows); a file
# far past this is not one of them.
MAX_ROWS = 5_000_000
MAX_HEADER_BYTES = 1 << 16


class OrgContextRefused(Exception):
    """An org-context export that cannot be loaded; the message says why in one line."""


@dataclass
class OrgContextResult:
    """What happened to one org-context file (or one fetched object)."""

    label: str
    status: str  # loaded | skipped | refused
    object: str = ""
    reason: str = ""
    rows_read: int = 0
    rows_added: int = 0


def header_key(name: str) -> str:
    """A header as compared: case, spaces, underscores and a BOM do not matter, so `CreatedDate`,
    `CREATEDDATE`, `Created Date` and `created_date` are one name (`User.Username` keeps its dot)."""
    return re.sub(r"[\s_]+", "", name.lstrip("\ufeff")).lower()


# Per object and dialect: the table column and the headers (as header_key gives them) it is read
# from, first present wins. Token values have no entry: they are never read.
_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    OAUTH_TOKEN: {
        "token_id": ("id",),
        "app_name": ("appname",),
        "app_menu_item_id": ("appmenuitemid",),
        "user_id": ("userid", "user.id"),
        "user_name": ("user.username", "username", "user.name"),
        "user_profile": ("user.profile.name", "profile.name", "profilename", "profile"),
        "created_date": ("createddate",),
        "last_used_date": ("lastuseddate",),
        "use_count": ("usecount",),
    },
    CONNECTED_APPLICATION: {
        "app_id": ("id",),
        "name": ("name",),
        "admin_approved_only": (
            "optionsallowadminapprovedusersonly",
            "adminapprovedusersonly",
            "permittedusers",
        ),
        "refresh_token_policy": ("refreshtokenpolicy", "refreshtokenvalidityperiod"),
        "ip_relaxation": ("iprelaxation", "optionsiprelaxation"),
        "session_timeout": ("sessiontimeout", "mobilesessiontimeout"),
        "created_date": ("createddate",),
        "last_modified_date": ("lastmodifieddate",),
    },
    SETUP_AUDIT_TRAIL: {
        "record_id": ("id",),
        "created_date": ("createddate",),
        "created_by": ("createdby.username", "createdby.name", "createdbyid"),
        "action": ("action",),
        "section": ("section",),
        "display": ("display",),
        "delegate_user": ("delegateuser",),
        "namespace_prefix": ("responsiblenamespaceprefix",),
    },
    LOGIN_HISTORY: {
        "record_id": ("id",),
        "login_time": ("logintime",),
        "user_id": ("userid",),
        "user_name": ("user.username", "username"),
        "application": ("application",),
        "source_ip": ("sourceip",),
        "country_iso": ("countryiso", "logingeo.countryiso", "countrycode", "logingeo.country", "country"),
        "login_type": ("logintype",),
        "api_type": ("apitype",),
        "api_version": ("apiversion",),
        "status": ("status",),
        "browser": ("browser",),
        "platform": ("platform",),
        "login_url": ("loginurl",),
    },
}
# The Setup > View Setup Audit Trail download: its own titles, and its "Action" is the sentence the
# API calls Display.
_SETUP_DOWNLOAD_COLUMNS: dict[str, tuple[str, ...]] = {
    "created_date": ("date",),
    "created_by": ("user",),
    "display": ("action",),
    "section": ("section",),
    "delegate_user": ("delegateuser",),
    "namespace_prefix": ("sourcenamespaceprefix",),
}
_TIMESTAMPS = {"created_date", "last_used_date", "last_modified_date", "login_time"}
_REQUIRED_TIMESTAMP = {SETUP_AUDIT_TRAIL: "created_date", LOGIN_HISTORY: "login_time"}
_TABLES = {
    OAUTH_TOKEN: "oauth_tokens",
    CONNECTED_APPLICATION: "connected_apps",
    SETUP_AUDIT_TRAIL: "setup_audit_trail",
    LOGIN_HISTORY: "login_history",
}
_TABLE_COLUMNS: dict[str, list[str]] = {
    OAUTH_TOKEN: [
        "snapshot_id",
        "org_id",
        "token_id",
        "app_name",
        "app_menu_item_id",
        "user_id",
        "user_name",
        "user_profile",
        "created_date",
        "last_used_date",
        "use_count",
    ],
    CONNECTED_APPLICATION: [
        "snapshot_id",
        "org_id",
        "app_id",
        "name",
        "admin_approved_only",
        "refresh_token_policy",
        "refresh_valid_until_revoked",
        "ip_relaxation",
        "session_timeout",
        "created_date",
        "last_modified_date",
    ],
    SETUP_AUDIT_TRAIL: [
        "record_key",
        "org_id",
        "record_id",
        "created_date",
        "created_by",
        "action",
        "section",
        "display",
        "delegate_user",
        "namespace_prefix",
        "source",
    ],
    LOGIN_HISTORY: [
        "record_key",
        "org_id",
        "record_id",
        "login_time",
        "user_id",
        "user_name",
        "application",
        "source_ip",
        "country_iso",
        "login_type",
        "api_type",
        "api_version",
        "status",
        "browser",
        "platform",
        "login_url",
        "source",
    ],
}


def recognise(header: Iterable[str]) -> tuple[str, str] | None:
    """(object, dialect) of an export with this header, or None when it is not one of the four.
    Dialect is 'api' (API field names, as Data Loader and the sf CLI write them) or 'setup' (the
    Setup audit trail download). An event log (EVENT_TYPE) is never one of them."""
    keys = {header_key(h) for h in header}
    if "eventtype" in keys:
        return None
    if "appname" in keys and keys & {"usecount", "lastuseddate"}:
        return OAUTH_TOKEN, "api"
    if "name" in keys and keys & {
        "optionsallowadminapprovedusersonly",
        "refreshtokenvalidityperiod",
        "refreshtokenpolicy",
        "iprelaxation",
        "permittedusers",
        "mobilesessiontimeout",
    }:
        return CONNECTED_APPLICATION, "api"
    if {"action", "section", "createddate"} <= keys:
        return SETUP_AUDIT_TRAIL, "api"
    if {"date", "user", "action", "section"} <= keys:
        return SETUP_AUDIT_TRAIL, "setup"
    if {"logintime", "sourceip"} <= keys:
        return LOGIN_HISTORY, "api"
    return None


def sniff(source: LogInput) -> tuple[str, str] | None:
    """(object, dialect) when SOURCE is an org-context export, judged by its header; None for
    anything else (an event log, or a file event ingest will refuse with its own reason)."""
    try:
        with open_text_bytes(source) as handle:
            head = handle.read(MAX_HEADER_BYTES)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile):
        return None
    line = head.decode("utf-8", errors="replace").replace("\r", "\n").split("\n", 1)[0]
    if not line.strip() or "\x00" in line:
        return None
    try:
        header = next(csv.reader(io.StringIO(line)))
    except (csv.Error, StopIteration):
        return None
    return recognise(header)


# Time zone abbreviations the Setup download writes (the user's locale zone); an unknown one
# refuses the file rather than being read as UTC.
_ZONES = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 60,
    "IST": 330,
    "CET": 60,
    "CEST": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "JST": 540,
    "KST": 540,
    "SGT": 480,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "AKST": -540,
    "AKDT": -480,
    "HST": -600,
}
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*"
    r"(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)
_LOCAL = re.compile(
    r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?"
    r"\s*([A-Za-z]{1,5}|[+-]\d{2}:?\d{2})?$"
)


def _offset_minutes(zone: str | None) -> int:
    if not zone:
        return 0  # no zone written: UTC (Data Loader and the API write GMT)
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
        if minutes > 14 * 60:
            raise ValueError(f"offset {zone} is not a UTC offset")
        return minutes if zone[0] == "+" else -minutes
    upper = zone.upper()
    if upper not in _ZONES:
        raise ValueError(f"unknown time zone {zone!r}")
    return _ZONES[upper]


def parse_when(value: str, day_first: bool = False) -> datetime:
    """A timestamp as the exports write it, as naive UTC: ISO 8601 (`2025-11-18T09:14:03.000Z`,
    `...+0000`), or the Setup download's locale form (`11/18/2025, 9:14:03 AM PST`)."""
    text = value.strip()
    iso = _ISO.match(text)
    if iso:
        year, month, day, hour, minute, second, fraction, zone = iso.groups()
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
        return moment - timedelta(minutes=_offset_minutes(zone))
    local = _LOCAL.match(text)
    if not local:
        raise ValueError(f"{text!r} is not a date and time")
    first, second_part, year, hour, minute, second, meridiem, zone = local.groups()
    month, day = (int(second_part), int(first)) if day_first else (int(first), int(second_part))
    hours = int(hour)
    if meridiem:
        if not 1 <= hours <= 12:
            raise ValueError(f"{text!r} is not a date and time")
        hours = hours % 12 + (12 if meridiem.lower() == "pm" else 0)
    moment = datetime(int(year), month, day, hours, int(minute), int(second or 0))
    return moment - timedelta(minutes=_offset_minutes(zone))


def _day_first(values: Iterable[str]) -> bool:
    """Whether a column of locale dates is day-first: some first part is above 12, or dots."""
    for value in values:
        local = _LOCAL.match(value.strip())
        if local and (int(local.group(1)) > 12 or "." in value[:6]):
            return True
    return False


def _boolean(value: str) -> bool | None:
    text = value.strip().lower()
    if text in ("true", "1", "yes", "adminapprovedpreauthorized", "admin approved users are pre-authorized"):
        return True
    if text in ("false", "0", "no", "allselfauthorized", "all users may self-authorize"):
        return False
    return None


def _whole(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    number = float(text)
    if number != number or abs(number) > 1e15:
        raise ValueError(f"{value!r} is not a count")
    return int(number)


_UNTIL_REVOKED = ("infinite", "valid until revoked", "refresh token is valid until revoked", "until revoked")


def valid_until_revoked(policy: str | None) -> bool | None:
    """Whether an app's refresh tokens live until revoked: the metadata policy `infinite` (or its
    Setup wording), or an empty or zero RefreshTokenValidityPeriod (no expiry set); None when the
    export has no such column."""
    if policy is None:
        return None
    text = policy.strip().lower()
    return text in _UNTIL_REVOKED or text in ("", "0", "0.0")


@dataclass
class _Parsed:
    object: str
    columns: dict[str, list[Any]]
    rows: int


def _mapping(header: list[str], obj: str, dialect: str) -> dict[str, int]:
    keys = [header_key(h) for h in header]
    sources = _SETUP_DOWNLOAD_COLUMNS if dialect == "setup" else _COLUMNS[obj]
    found = {}
    for column, candidates in sources.items():
        for candidate in candidates:
            if candidate in keys:
                found[column] = keys.index(candidate)
                break
    return found


def parse_rows(obj: str, dialect: str, header: list[str], rows: Iterable[list[str]], where: str) -> _Parsed:
    """Read ROWS (after the header) into typed columns; the first value that cannot be read
    refuses the whole file (OrgContextRefused names the line and the column)."""
    mapping = _mapping(header, obj, dialect)
    names = list(_COLUMNS[obj])
    values: dict[str, list[Any]] = {name: [] for name in names}
    raw_rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(raw_rows) > MAX_ROWS:
        raise OrgContextRefused(f"{len(raw_rows):,} rows, more than {MAX_ROWS:,}: not an export of {obj}")
    day_first = {
        name: _day_first(r[index] for r in raw_rows if index < len(r))
        for name, index in mapping.items()
        if name in _TIMESTAMPS
    }
    required = _REQUIRED_TIMESTAMP.get(obj)
    if required and required not in mapping:
        raise OrgContextRefused(f"{obj} export without a {required} column")
    for number, row in enumerate(raw_rows, start=2):
        if len(row) != len(header):
            raise OrgContextRefused(f"line {number}: {len(row)} values for {len(header)} columns")
        for name in names:
            index = mapping.get(name)
            cell = row[index] if index is not None else None
            try:
                values[name].append(_convert(name, cell, day_first.get(name, False)))
            except ValueError as exc:
                raise OrgContextRefused(f"line {number}: {header[index or 0].strip()}: {exc}") from None
        if required and values[required][-1] is None:
            raise OrgContextRefused(f"line {number}: {header[mapping[required]].strip()} is empty")
    return _Parsed(obj, values, len(raw_rows))


def _convert(name: str, cell: str | None, day_first: bool) -> Any:
    if cell is None:
        return None
    if name in _TIMESTAMPS:
        return parse_when(cell, day_first) if cell.strip() else None
    if name == "use_count":
        return _whole(cell)
    if name == "admin_approved_only":
        return _boolean(cell)
    return cell


def _read_export(source: LogInput, obj: str, dialect: str) -> _Parsed:
    try:
        with open_text_bytes(source) as handle:
            data = handle.read()
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise OrgContextRefused(f"unreadable or corrupt data ({exc})") from None
    if b"\x00" in data:
        raise OrgContextRefused("binary content, not a CSV export")
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # Data Loader on Windows may write ANSI
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip() for h in next(reader)]
        return parse_rows(obj, dialect, header, reader, source.label)
    except StopIteration:
        raise OrgContextRefused("empty file") from None
    except csv.Error as exc:
        raise OrgContextRefused(f"not a readable CSV ({exc})") from None


def _record_key(obj: str, columns: dict[str, list[Any]], index: int) -> str:
    record_id = columns["record_id"][index]
    if record_id:
        return str(record_id)
    content = "\x1f".join(str(columns[name][index]) for name in _COLUMNS[obj])
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def store_org(con: duckdb.DuckDBPyConnection, default_org: str | None) -> str | None:
    """The org id org-context rows get: the one given, else the store's only org, else None."""
    if default_org:
        return default_org
    rows = con.execute(load_query("org_context_orgs")).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def _frame(parsed: _Parsed, extra: dict[str, Any]) -> pl.DataFrame:
    obj = parsed.object
    data: dict[str, list[Any]] = {}
    for column in _TABLE_COLUMNS[obj]:
        if column in parsed.columns:
            data[column] = parsed.columns[column]
        elif column == "record_key":
            data[column] = [_record_key(obj, parsed.columns, i) for i in range(parsed.rows)]
        elif column == "refresh_valid_until_revoked":
            data[column] = [valid_until_revoked(p) for p in parsed.columns["refresh_token_policy"]]
        else:
            data[column] = [extra.get(column)] * parsed.rows
    return pl.DataFrame(data, schema={c: _polars_type(c) for c in data})


def _polars_type(column: str) -> Any:
    if column in _TIMESTAMPS:
        return pl.Datetime("us")
    if column in ("use_count", "snapshot_id"):
        return pl.Int64
    if column in ("admin_approved_only", "refresh_valid_until_revoked"):
        return pl.Boolean
    return pl.Utf8


def _store(
    con: duckdb.DuckDBPyConnection,
    parsed: _Parsed,
    org_id: str | None,
    source: str,
    taken_at: datetime,
    digest: str | None,
) -> int:
    """Write PARSED in the open transaction; the rows added."""
    obj, table = parsed.object, _TABLES[parsed.object]
    extra: dict[str, Any] = {"org_id": org_id, "source": source}
    if obj in SNAPSHOT_OBJECTS:
        (snapshot_id,) = first_row(con.execute("SELECT nextval('org_snapshot_id_seq')"))
        con.execute(
            load_query("org_context_snapshot"),
            {
                "snapshot_id": snapshot_id,
                "org_id": org_id,
                "object": obj,
                "taken_at": taken_at,
                "source": source,
                "content_hash": digest,
                "rows": parsed.rows,
                "loaded_at": _now(),
            },
        )
        extra["snapshot_id"] = snapshot_id
    incoming = _frame(parsed, extra)
    (before,) = first_row(con.execute(f"SELECT count(*) FROM {table}"))
    # Snapshot rows are all new; audit trail and login history skip rows already stored (their key).
    insert = "INSERT INTO" if obj in SNAPSHOT_OBJECTS else "INSERT OR IGNORE INTO"
    con.register(_INCOMING, incoming)
    con.execute(f"{insert} {table} BY NAME SELECT * FROM {_INCOMING}")
    con.unregister(_INCOMING)
    (after,) = first_row(con.execute(f"SELECT count(*) FROM {table}"))
    return int(after) - int(before)


_INCOMING = "org_context_incoming"


def _in_transaction(con: duckdb.DuckDBPyConnection, work: Callable[[], int]) -> int:
    con.execute("BEGIN TRANSACTION")
    try:
        added = work()
    except BaseException:
        con.execute("ROLLBACK")
        with contextlib.suppress(duckdb.Error):
            con.unregister(_INCOMING)
        raise
    con.execute("COMMIT")
    return added


def load_export(
    con: duckdb.DuckDBPyConnection,
    source: LogInput,
    recognised: tuple[str, str],
    default_org: str | None = None,
    as_of: datetime | None = None,
) -> OrgContextResult:
    """Load one recognised export, whole or not at all. A snapshot (tokens, connected apps) is
    taken at AS_OF, else at the file's modification time; the same content twice is skipped."""
    obj, dialect = recognised
    result = OrgContextResult(source.label, "refused", obj)
    try:
        digest = content_hash(source)
        seen = first_row(con.execute(load_query("org_context_file_seen"), {"content_hash": digest}))
        if seen:
            result.status, result.reason = "skipped", f"same content already loaded from {seen[0]}"
            return result
        parsed = _read_export(source, obj, dialect)
        taken_at = as_of or datetime.fromtimestamp(source.path.stat().st_mtime, UTC).replace(tzinfo=None)
        org_id = store_org(con, default_org)

        def work() -> int:
            added = _store(con, parsed, org_id, source.label, taken_at, digest)
            con.execute(
                load_query("org_context_file_record"),
                {
                    "content_hash": digest,
                    "path": source.label,
                    "object": obj,
                    "rows_read": parsed.rows,
                    "rows_added": added,
                    "loaded_at": _now(),
                },
            )
            return added

        result.rows_read = parsed.rows
        result.rows_added = _in_transaction(con, work)
        result.status = "loaded"
    except OrgContextRefused as exc:
        result.reason = f"{obj} export: {exc}"
    except (OSError, duckdb.Error, ValueError) as exc:
        result.reason = f"{obj} export: cannot be loaded: {type(exc).__name__}: {exc}"
    return result


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """An API record as export-style columns: nested relationships become `User.Username`,
    `attributes` is dropped, values become text as an export writes them ('' for null)."""
    flat: dict[str, str] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        else:
            flat[name] = "" if value is None else str(value)
    return flat


def load_records(
    con: duckdb.DuckDBPyConnection,
    obj: str,
    records: list[dict[str, Any]],
    source: str,
    taken_at: datetime,
    org_id: str | None,
) -> OrgContextResult:
    """Load records of OBJ from the API (a snapshot at TAKEN_AT for tokens and connected apps),
    whole or not at all."""
    flat = [flatten(r) for r in records]
    header = sorted({k for row in flat for k in row})
    rows = [[row.get(k, "") for k in header] for row in flat]
    result = OrgContextResult(f"{obj} from {source}", "refused", obj)
    try:
        parsed = parse_rows(obj, "api", header, rows, source)
        result.rows_read = parsed.rows
        result.rows_added = _in_transaction(con, lambda: _store(con, parsed, org_id, source, taken_at, None))
        result.status = "loaded"
    except OrgContextRefused as exc:
        result.reason = f"{obj} from {source}: {exc}"
    return result
