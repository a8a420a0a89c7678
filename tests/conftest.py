"""Shared fixtures: tiny EventLogFile CSVs written in the exact Salesforce dialect."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pytest
from mmdb_writer import MMDBWriter

from workbench.store.db import open_store


def copy_store(source: Path, target: Path) -> Path:
    """Copy a store as a user must: the DuckDB file and its event partitions folder beside it."""
    shutil.copy(source, target)
    folder = source.with_name(source.name + "-events")
    if folder.is_dir():
        shutil.copytree(folder, target.with_name(target.name + "-events"))
    return target


def quoted_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Every value double-quoted, inner quotes doubled, as Salesforce writes them."""

    def line(values: Sequence[str]) -> str:
        return ",".join('"' + v.replace('"', '""') + '"' for v in values)

    return "\n".join([line(header), *(line(r) for r in rows)]) + "\n"


def write_log(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """Write a CSV event log file and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(quoted_csv(header, rows), encoding="utf-8")
    return path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def con(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = open_store(db_path)
    yield connection
    connection.close()


API_TOTAL_USAGE_HEADER = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "API_FAMILY",
    "API_VERSION",
    "API_RESOURCE",
    "CLIENT_NAME",
    "HTTP_METHOD",
    "CLIENT_IP",
    "COUNTS_AGAINST_API_LIMIT",
    "CONNECTED_APP_ID",
    "ENTITY_NAME",
    "STATUS_CODE",
    "TIMESTAMP_DERIVED",
]


def api_row(
    ts: str = "20230718225959.250",
    request_id: str = "4rBNTaVtlWrsM8G-mMBYk-",
    org: str = "00D68000004DKqo",
    user: str = "00568000004ogT4",
    ip: str = "141.95.144.78",
    app: str = "0H468000000kPN4",
    entity: str = "EventLogFile",
    status: str = "200",
    derived: str | None = None,
    client: str = "",
    method: str = "GET",
    resource: str = "/v58.0/query",
) -> list[str]:
    """An ApiTotalUsage row (the SEKOIA-IO 2023 sample by default)."""
    if derived is None:
        derived = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}.{(ts[15:18] or '000')}Z"
    return [
        "ApiTotalUsage",
        ts,
        request_id,
        org,
        user,
        "REST",
        "58.0",
        resource,
        client,
        method,
        ip,
        "1",
        app,
        entity,
        status,
        derived,
    ]


SAMPLE_ORG = "00Dr0F3kxdTdhsx"  # Acme, the sample org with the planted incident


def gainsight_app_id(db: Path) -> str:
    """The planted incident's connected app in a store built from sample_logs/."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT connected_app_id FROM events WHERE connected_app_name = 'Gainsight CS' AND org_id = ?",
            [SAMPLE_ORG],
        ).fetchall()
    finally:
        con.close()
    return str(rows[0][0])


# A Login header and row as Salesforce writes them, shared by ingest and scan tests.
LOGIN_HEADER = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "RUN_TIME",
    "CPU_TIME",
    "URI",
    "SESSION_KEY",
    "LOGIN_KEY",
    "USER_TYPE",
    "REQUEST_STATUS",
    "DB_TOTAL_TIME",
    "LOGIN_TYPE",
    "BROWSER_TYPE",
    "API_TYPE",
    "API_VERSION",
    "USER_NAME",
    "TLS_PROTOCOL",
    "CIPHER_SUITE",
    "AUTHENTICATION_METHOD_REFERENCE",
    "LOGIN_SUB_TYPE",
    "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED",
    "CLIENT_IP",
    "URI_ID_DERIVED",
    "LOGIN_STATUS",
    "SOURCE_IP",
]
# Verbatim from elastic/beats input_test.go (reference section 6).
LOGIN_ROW = [
    "Login",
    "20231218054831.655",
    "4u6LyuMrDvb_G-l1cJIQk-",
    "00D5j00000DgAYG",
    "0055j00000AT6I1",
    "1219",
    "127",
    "/services/oauth2/token",
    "",
    "bY5Wfv8t/Ith7WVE",
    "Standard",
    "",
    "1051271151",
    "i",
    "Go-http-client/1.1",
    "",
    "9998.0",
    "salesforceinstance@devtest.in",
    "TLSv1.2",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "",
    "",
    "2023-12-18T05:48:31.655Z",
    "0055j00000AT6I1AAL",
    "Salesforce.com IP",
    "",
    "LOGIN_NO_ERROR",
    "103.108.207.58",
]


def mmdb_writer(database_type: str) -> MMDBWriter:
    """An empty MaxMind-format database of DATABASE_TYPE, IPv4 inside IPv6 as MaxMind ships."""
    return MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description="test",
        int_type="u32",
    )
