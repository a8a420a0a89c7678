"""Parsing of every supported event type and the corners of the Salesforce CSV dialect."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import API_TOTAL_USAGE_HEADER, LOGIN_HEADER, LOGIN_ROW, api_row, write_log
from workbench.sources.local import ingest_paths

# 2015 RestApi, API and BulkApi rows from abisek/logstash-input-sfdc_elf (reference section 6).
REST_HEADER = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "RUN_TIME",
    "CPU_TIME",
    "CLIENT_IP",
    "URI",
    "REQUEST_STATUS",
    "DB_TOTAL_TIME",
    "METHOD",
    "MEDIA_TYPE",
    "STATUS_CODE",
    "USER_AGENT",
    "ROWS_PROCESSED",
    "NUMBER_FIELDS",
    "DB_BLOCKS",
    "DB_CPU_TIME",
    "REQUEST_SIZE",
    "RESPONSE_SIZE",
]
REST_ROW = [
    "RestApi",
    "20150726222512.419",
    "3zHUSZAtePgGfMH5Tipnr-",
    "00D30000000V77Y",
    "0053000000Ank29",
    "1102",
    "42",
    "204.14.239.17",
    "/services/data/v33.0/sobjects/EventLogFile/0AT300000000YUNGA2/LogFile",
    "S",
    "91842119",
    "GET",
    "text/csv",
    "200",
    "9999",
    "1",
    "2",
    "58",
    "0",
    "0",
    "2095370",
]
API_HEADER = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "RUN_TIME",
    "CPU_TIME",
    "CLIENT_IP",
    "URI",
    "REQUEST_STATUS",
    "DB_TOTAL_TIME",
    "API_TYPE",
    "API_VERSION",
    "CLIENT_NAME",
    "METHOD_NAME",
    "ENTITY_NAME",
    "ROWS_PROCESSED",
    "REQUEST_SIZE",
    "RESPONSE_SIZE",
    "DB_BLOCKS",
    "DB_CPU_TIME",
    "EXCEPTION_MESSAGE",
]
API_ROW = [
    "API",
    "20150726222431.343",
    "3zHUQE2JvmPASrH5TiplX-",
    "00D30000000V77Y",
    "0053000000Ank29",
    "57",
    "5",
    "204.14.239.55",
    "Api",
    "",
    "51016274",
    "P",
    "33.0",
    "Workbench/29.0.9i",
    "query",
    "EventLogFile",
    "",
    "756",
    "549",
    "9",
    "0",
    "",
]
BULK_HEADER = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "RUN_TIME",
    "CPU_TIME",
    "CLIENT_IP",
    "URI",
    "JOB_ID",
    "BATCH_ID",
    "ROWS_PROCESSED",
    "NUMBER_FAILURES",
    "SUCCESS",
    "MESSAGE",
    "ENTITY_TYPE",
    "OPERATION_TYPE",
]
BULK_ROW = [
    "BulkApi",
    "20150726091731.583",
    "3zGoT1artS3UubH5Tipnr-",
    "00D30000000V77Y",
    "0053000000ALCw8",
    "552",
    "72",
    "",
    "BULKAPI-LOG",
    "750300000010DJu",
    "75130000002YLJy",
    "45",
    "0",
    "1",
    '"success"',
    "Account",
    "query",
]


def events(con: duckdb.DuckDBPyConnection, where: str = "true") -> list[dict[str, object]]:
    cursor = con.execute(f"SELECT * FROM events WHERE {where} ORDER BY ts")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_api_total_usage_row_is_normalised(con, tmp_path: Path) -> None:
    write_log(tmp_path / "a.csv", API_TOTAL_USAGE_HEADER, [api_row()])
    report = ingest_paths(con, [tmp_path / "a.csv"])
    assert report.rows_added == 1
    (row,) = events(con)
    assert row["event_type"] == "ApiTotalUsage"
    assert row["org_id"] == "00D68000004DKqo"
    assert row["ts"] == datetime(2023, 7, 18, 22, 59, 59, 250000)
    assert row["connected_app_id"] == "0H468000000kPN4"
    assert row["client_ip"] == "141.95.144.78"
    assert row["api_resource"] == "/v58.0/query"
    assert row["http_method"] == "GET"
    assert row["entity_name"] == "EventLogFile"
    assert row["status_code"] == 200
    assert row["is_error"] is False
    assert json.loads(row["attributes"]) == {"API_VERSION": "58.0", "COUNTS_AGAINST_API_LIMIT": "1"}


def test_login_keeps_salesforce_ip_and_uses_source_ip_for_the_address(con, tmp_path: Path) -> None:
    write_log(tmp_path / "login.csv", LOGIN_HEADER, [LOGIN_ROW])
    ingest_paths(con, [tmp_path / "login.csv"])
    (row,) = events(con)
    assert row["client_ip"] == "Salesforce.com IP"
    assert row["source_ip"] == "103.108.207.58"
    assert row["user_agent"] == "Go-http-client/1.1"
    assert row["user_name"] == "salesforceinstance@devtest.in"
    assert row["ts"] == datetime(2023, 12, 18, 5, 48, 31, 655000)
    attributes = json.loads(row["attributes"])
    assert attributes["LOGIN_STATUS"] == "LOGIN_NO_ERROR"
    assert attributes["USER_ID_DERIVED"] == "0055j00000AT6I1AAL"
    (ip,) = con.execute("SELECT DISTINCT ip FROM hourly_activity").fetchone()
    assert ip == "103.108.207.58"


def test_rest_api_api_and_bulk_rows_from_2015_files(con, tmp_path: Path) -> None:
    write_log(tmp_path / "rest.csv", REST_HEADER, [REST_ROW])
    write_log(tmp_path / "api.csv", API_HEADER, [API_ROW])
    write_log(tmp_path / "bulk.csv", BULK_HEADER, [BULK_ROW])
    report = ingest_paths(con, [tmp_path])
    assert report.count("ingested") == 3 and report.rows_added == 3
    rest = events(con, "event_type = 'RestApi'")[0]
    assert rest["http_method"] == "GET" and rest["api_family"] == "REST"
    assert rest["user_agent"] == "9999"  # RestApi USER_AGENT is a numeric code
    assert rest["rows_processed"] == 1 and rest["status_code"] == 200
    api = events(con, "event_type = 'API'")[0]
    assert api["api_resource"] == "query" and api["client_name"] == "Workbench/29.0.9i"
    assert api["api_family"] == "SOAP" and api["entity_name"] == "EventLogFile"
    bulk = events(con, "event_type = 'BulkApi'")[0]
    assert bulk["entity_name"] == "Account" and bulk["rows_processed"] == 45
    assert json.loads(bulk["attributes"])["MESSAGE"] == '"success"'  # doubled quotes undone


@pytest.mark.parametrize(
    ("event_type", "header", "row", "expected"),
    [
        (
            "ApexRestApi",
            [
                "EVENT_TYPE",
                "TIMESTAMP",
                "REQUEST_ID",
                "ORGANIZATION_ID",
                "USER_ID",
                "URI",
                "METHOD",
                "STATUS_CODE",
                "CONNECTED_APP_ID",
                "CLIENT_IP",
            ],
            [
                "ApexRestApi",
                "20240101120000.000",
                "r1",
                "00D000000000123",
                "005000000000001",
                "/services/apexrest/x",
                "POST",
                "500",
                "0H4000000000001",
                "1.2.3.4",
            ],
            {"api_family": "ApexREST", "http_method": "POST", "is_error": True, "status_code": 500},
        ),
        (
            "BulkApi2",
            [
                "EVENT_TYPE",
                "TIMESTAMP",
                "REQUEST_ID",
                "ORGANIZATION_ID",
                "USER_ID",
                "JOB_ID",
                "OPERATION_TYPE",
                "ENTITY_TYPE",
                "JOB_STATUS",
                "RECORDS_PROCESSED",
                "CLIENT_IP",
            ],
            [
                "BulkApi2",
                "20240101120000.000",
                "r2",
                "00D000000000123",
                "005000000000001",
                "750000000000001",
                "query",
                "Case",
                "JobComplete",
                "184215",
                "1.2.3.4",
            ],
            {"entity_name": "Case", "rows_processed": 184215, "api_family": "Bulk"},
        ),
        (
            "BulkApiRequest",
            [
                "EVENT_TYPE",
                "TIMESTAMP",
                "REQUEST_ID",
                "ORGANIZATION_ID",
                "USER_ID",
                "REQUEST_PATH",
                "CONNECTED_APP_ID",
                "CLIENT_NAME",
                "STATUS_CODE",
                "SUCCESS",
            ],
            [
                "BulkApiRequest",
                "20240101120000",
                "r3",
                "00D000000000123",
                "005000000000001",
                "/services/async/58.0/job",
                "0H4000000000001",
                "dataloader",
                "200",
                "false",
            ],
            {"api_resource": "/services/async/58.0/job", "is_error": True},
        ),
        (
            "Logout",
            [
                "EVENT_TYPE",
                "TIMESTAMP",
                "REQUEST_ID",
                "ORGANIZATION_ID",
                "USER_ID",
                "SESSION_TYPE",
                "CLIENT_IP",
            ],
            ["Logout", "20240101120000.000", "r4", "00D000000000123", "", "O", "1.2.3.4"],
            {"user_id": None, "client_ip": "1.2.3.4"},
        ),
        (
            "LoginAs",
            [
                "EVENT_TYPE",
                "TIMESTAMP",
                "REQUEST_ID",
                "ORGANIZATION_ID",
                "USER_ID",
                "DELEGATED_USER_NAME",
                "CLIENT_IP",
            ],
            [
                "LoginAs",
                "20240101120000.000",
                "r5",
                "00D000000000123",
                "005000000000001",
                "admin@x.com",
                "1.2.3.4",
            ],
            {"user_id": "005000000000001"},
        ),
        (
            "ReportExport",
            [
                "EVENT_TYPE",
                "TIMESTAMP",
                "REQUEST_ID",
                "ORGANIZATION_ID",
                "USER_ID",
                "CLIENT_INFO",
                "REPORT_DESCRIPTION",
                "URI",
            ],
            [
                "ReportExport",
                "20240101120000.000",
                "r6",
                "00D000000000123",
                "005000000000001",
                "Excel",
                "All cases",
                "/00O000000000001",
            ],
            {"api_resource": "/00O000000000001"},
        ),
        (
            "Report",
            [
                "EVENT_TYPE",
                "TIMESTAMP",
                "REQUEST_ID",
                "ORGANIZATION_ID",
                "USER_ID",
                "ROW_COUNT",
                "ENTITY_NAME",
                "ORIGIN",
            ],
            [
                "Report",
                "20240101120000.000",
                "r7",
                "00D000000000123",
                "005000000000001",
                "50000",
                "Case",
                "ReportRunFromRestApi",
            ],
            {"rows_processed": 50000, "entity_name": "Case"},
        ),
        (
            "URI",
            [
                "EVENT_TYPE",
                "TIMESTAMP",
                "REQUEST_ID",
                "ORGANIZATION_ID",
                "USER_ID",
                "URI",
                "REFERRER_URI",
                "REQUEST_STATUS",
            ],
            [
                "URI",
                "20240101120000.000",
                "r8",
                "00D000000000123",
                "005000000000001",
                "/home/home.jsp",
                "",
                "F",
            ],
            {"api_resource": "/home/home.jsp", "is_error": True},
        ),
        (
            "MetadataApiOperation",
            ["EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "OPERATION", "CLIENT_ID"],
            [
                "MetadataApiOperation",
                "20240101120000.000",
                "r9",
                "00D000000000123",
                "005000000000001",
                "retrieve",
                "sfdx",
            ],
            {"event_type": "MetadataApiOperation"},
        ),
    ],
)
def test_each_event_type_is_kept_with_its_columns(
    con, tmp_path: Path, event_type, header, row, expected
) -> None:
    write_log(tmp_path / f"{event_type}.csv", header, [row])
    report = ingest_paths(con, [tmp_path])
    assert report.rows_added == 1, report.files
    (stored,) = events(con)
    assert stored["event_type"] == event_type
    for key, value in expected.items():
        assert stored[key] == value, key
    # No column the file had is lost: each is a typed column or an attribute.
    attributes = json.loads(stored["attributes"] or "{}")
    for name, value in zip(header, row, strict=True):
        if name in attributes:
            assert attributes[name] == (value or None)


def test_column_order_does_not_matter(con, tmp_path: Path) -> None:
    order = list(reversed(API_TOTAL_USAGE_HEADER))
    row = dict(zip(API_TOTAL_USAGE_HEADER, api_row(), strict=True))
    write_log(tmp_path / "reversed.csv", order, [[row[c] for c in order]])
    ingest_paths(con, [tmp_path])
    (stored,) = events(con)
    assert stored["connected_app_id"] == "0H468000000kPN4" and stored["status_code"] == 200


def test_timestamp_without_millis_and_derived_preferred(con, tmp_path: Path) -> None:
    header = [c for c in API_TOTAL_USAGE_HEADER if c != "TIMESTAMP_DERIVED"]
    write_log(tmp_path / "old.csv", header, [api_row(ts="20220803011210", request_id="a")[:-1]])
    # TIMESTAMP_DERIVED wins when both are present (here they disagree on purpose).
    write_log(
        tmp_path / "new.csv",
        API_TOTAL_USAGE_HEADER,
        [api_row(ts="20220803011210.000", request_id="b", derived="2022-08-03T01:12:11.500Z")],
    )
    ingest_paths(con, [tmp_path])
    by_id = {r["request_id"]: r["ts"] for r in events(con)}
    assert by_id["a"] == datetime(2022, 8, 3, 1, 12, 10)
    assert by_id["b"] == datetime(2022, 8, 3, 1, 12, 11, 500000)


def test_quotes_commas_and_newlines_inside_values(con, tmp_path: Path) -> None:
    client = 'vendor "sync", v2\nsecond line'
    write_log(tmp_path / "q.csv", API_TOTAL_USAGE_HEADER, [api_row(client=client), api_row(request_id="x2")])
    report = ingest_paths(con, [tmp_path])
    assert report.rows_added == 2 and report.rows_rejected == 0
    clients = {r["client_name"] for r in events(con)}
    assert client in clients


def test_user_ids_compare_on_first_15_characters(con, tmp_path: Path) -> None:
    header = [*API_TOTAL_USAGE_HEADER[:4], "USER_ID_DERIVED", *API_TOTAL_USAGE_HEADER[5:]]
    write_log(tmp_path / "a.csv", API_TOTAL_USAGE_HEADER, [api_row(request_id="a", user="0055j00000AT6I1")])
    write_log(tmp_path / "b.csv", header, [api_row(request_id="b", user="0055j00000AT6I1AAL")])
    ingest_paths(con, [tmp_path])
    kept = {r["request_id"]: r["user_id"] for r in events(con)}
    assert kept == {"a": "0055j00000AT6I1", "b": "0055j00000AT6I1AAL"}  # kept as given
    (users,) = con.execute("SELECT count(DISTINCT user_id) FROM hourly_activity").fetchone()
    assert users == 1


def test_missing_org_is_filled_by_the_org_option_only_when_missing(con, tmp_path: Path) -> None:
    write_log(
        tmp_path / "a.csv",
        API_TOTAL_USAGE_HEADER,
        [api_row(request_id="a", org=""), api_row(request_id="b", org="00D000000000AAA")],
    )
    ingest_paths(con, [tmp_path], default_org="00D000000000ZZZ")
    orgs = {r["request_id"]: r["org_id"] for r in events(con)}
    assert orgs == {"a": "00D000000000ZZZ", "b": "00D000000000AAA"}
