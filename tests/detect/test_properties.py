"""Property tests: the whole detector suite runs cleanly on generated stores of many shapes.

Each example writes EventLogFile CSVs in the exact Salesforce dialect (every value quoted,
TIMESTAMP as 20251118011122.123, TIMESTAMP_DERIVED as 2025-11-18T01:11:22.123Z), ingests them
through the real CLI, and scans every judged day. A detector that fails on some shape of data
(no logins, no app ids, one day, empty columns...) is exactly what these tests exist to find.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, write_log
from tests.org_exports import LOGIN_HEADER as LOGIN_HISTORY_HEADER
from workbench.cli import app
from workbench.config import Settings
from workbench.detect.scan import JudgedDays, ScanResult, judged_days, run_scan
from workbench.findings import CATEGORIES, FINDING_SCHEMA, SEVERITIES, severity_for
from workbench.sample.generator import (
    API_TOTAL_USAGE_COLUMNS,
    BULK_API2_COLUMNS,
    HOSTING_IOC_IP,
    LOGIN_COLUMNS,
    REST_API_COLUMNS,
    TOR_EXIT_IPS,
    to18,
)
from workbench.store.db import open_store

ROOT = Path(__file__).resolve().parents[2]
ENRICHMENT = ROOT / "sample_logs" / "enrichment"
runner = CliRunner()

ORGS = ("00Dr0F3kxdTdhsx", "00D5e000000Glbx")
# Ordinary addresses, a VPN range, the published hosting IOC and Tor exits (the sample's
# enrichment files know the last three, so enriched examples take the anonymizer paths).
IPS = ("52.14.7.9", "34.201.10.4", "104.18.0.77", "146.70.12.3", HOSTING_IOC_IP, *TOR_EXIT_IPS, "2001:db8::7")
OBJECTS = ("Account", "Contact", "Opportunity", "Lead", "Case", "User", "Invoice__c")
CLIENTS = ("", "Gainsight/2.1", "python-requests/2.31", "Workbench", "Dataloader Bulk/62.0")
API_SOURCES = ("ApiTotalUsage", "RestApi", "none")
# "history": the org has no Login event logs, its logins come as a LoginHistory export.
LOGINS = ("none", "some", "only", "history")
BULK = ("none", "jobs", "jobs_and_deletions")
CLIENT_IP_MODES = ("normal", "empty", "salesforce")


@dataclass(frozen=True)
class Entity:
    """One source of traffic: a connected app with its integration user, or a user without one."""

    has_app: bool
    hours: tuple[int, ...]
    ips: tuple[int, ...]  # indexes into IPS
    weight: int
    active: tuple[int, int] = (0, 99)  # first and last day index it calls on (new, dormant, gone)


@dataclass(frozen=True)
class Shape:
    """Everything one generated store varies."""

    orgs: int
    first_day: date
    days: int
    entities: tuple[Entity, ...]
    rows_per_day: int
    api_source: str
    logins: str
    bulk: str
    app_id_empty: bool
    entity_name_empty: bool
    client_ip_mode: str
    status_empty: bool
    shuffle_columns: bool
    long_user_ids: bool
    last_day_factor: int
    last_day_intruder: bool  # the first entity calls from a Tor exit at night on the last day
    error_share: float
    enrich: bool
    seed: int
    shared_user: bool = False  # every app acts through one integration user


entities = st.builds(
    Entity,
    has_app=st.booleans(),
    hours=st.lists(st.integers(0, 23), min_size=1, max_size=6, unique=True).map(lambda h: tuple(sorted(h))),
    ips=st.lists(st.integers(0, len(IPS) - 1), min_size=1, max_size=3, unique=True).map(tuple),
    weight=st.integers(1, 10),
    active=st.one_of(
        st.just((0, 99)), st.lists(st.integers(0, 40), min_size=2, max_size=2).map(lambda a: (min(a), max(a)))
    ),
)
shapes = st.builds(
    Shape,
    orgs=st.integers(1, 2),
    first_day=st.dates(date(2024, 1, 1), date(2025, 9, 1)),
    # Half the stores are long enough to have judged days (a day needs 7 days of history).
    days=st.one_of(st.just(1), st.integers(1, 40), st.integers(8, 40), st.integers(20, 40)),
    entities=st.one_of(st.tuples(entities), st.lists(entities, min_size=1, max_size=6).map(tuple)),
    rows_per_day=st.one_of(st.just(0), st.integers(0, 200), st.integers(20, 200)),
    api_source=st.sampled_from(API_SOURCES),
    logins=st.sampled_from(LOGINS),
    bulk=st.sampled_from(BULK),
    app_id_empty=st.booleans(),
    entity_name_empty=st.booleans(),
    client_ip_mode=st.sampled_from(CLIENT_IP_MODES),
    status_empty=st.booleans(),
    shuffle_columns=st.booleans(),
    long_user_ids=st.booleans(),
    last_day_factor=st.sampled_from((1, 1, 3, 10)),
    last_day_intruder=st.booleans(),
    error_share=st.sampled_from((0.0, 0.02, 0.3)),
    enrich=st.booleans(),
    seed=st.integers(0, 2**16),
    shared_user=st.booleans(),
)


def ts_fields(ts: datetime) -> tuple[str, str]:
    """TIMESTAMP and TIMESTAMP_DERIVED exactly as Salesforce writes them."""
    ms = f"{ts.microsecond // 1000:03d}"
    return ts.strftime("%Y%m%d%H%M%S.") + ms, ts.strftime("%Y-%m-%dT%H:%M:%S.") + ms + "Z"


def ident(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(
        rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789") for _ in range(12)
    )


def request_id(rng: random.Random) -> str:
    return "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(22)
    )


@dataclass
class Files:
    """Rows per (org, event type), written one file per org, event type and day."""

    header: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[tuple[str, str, date], list[dict[str, str]]] = field(default_factory=dict)

    def add(self, org: str, event_type: str, day: date, row: dict[str, str]) -> None:
        self.rows.setdefault((org, event_type, day), []).append(row)

    def write(self, folder: Path, shape: Shape, rng: random.Random) -> int:
        """Event logs into FOLDER; LoginHistory exports into FOLDER/../history/ORG (each org's
        export is ingested with --org: the export does not say its org)."""
        columns = {
            "ApiTotalUsage": API_TOTAL_USAGE_COLUMNS,
            "RestApi": REST_API_COLUMNS,
            "BulkApi2": BULK_API2_COLUMNS,
            "Login": LOGIN_COLUMNS,
            "LoginHistory": LOGIN_HISTORY_HEADER,
        }
        written = 0
        # Long histories go in one file per org and event type (fewer files, faster ingest).
        by_file: dict[tuple[str, str, str], list[dict[str, str]]] = {}
        for (org, event_type, day), rows in sorted(self.rows.items()):
            key = (org, event_type, day.isoformat() if shape.days <= 10 else "all")
            by_file.setdefault(key, []).extend(rows)
        for (org, event_type, label), rows in by_file.items():
            header = list(columns[event_type])
            if shape.shuffle_columns:
                rng.shuffle(header)
            values = [[row.get(c, "") for c in header] for row in rows]
            into = folder.parent / "history" / org if event_type == "LoginHistory" else folder
            write_log(into / f"{org}-{event_type}-{label}.csv", header, values)
            written += 1
        return written


def build_logs(shape: Shape, folder: Path) -> int:
    """Write the shape's CSVs into FOLDER; returns how many files."""
    rng = random.Random(shape.seed)
    files = Files()
    for org in ORGS[: shape.orgs]:
        actors = []
        integration_user = ident(rng, "005")
        for n, entity in enumerate(shape.entities):
            user = integration_user if shape.shared_user and entity.has_app else ident(rng, "005")
            actors.append(
                {
                    "entity": entity,
                    "user": user,
                    "user_name": f"user{n}@example.com",
                    "app": ident(rng, "0H4") if entity.has_app else "",
                    "app_name": f"App {n}" if entity.has_app else "",
                    "client": rng.choice(CLIENTS),
                }
            )
        jobs: list[tuple[str, datetime, dict[str, object]]] = []
        for d in range(shape.days):
            day = shape.first_day + timedelta(days=d)
            count = shape.rows_per_day * (shape.last_day_factor if d == shape.days - 1 else 1)
            active = [a for a in actors if a["entity"].active[0] <= d <= a["entity"].active[1]]  # type: ignore[attr-defined]
            weights = [a["entity"].weight for a in active]  # type: ignore[attr-defined]
            if shape.logins != "only" and shape.api_source != "none" and active:
                for actor in rng.choices(active, weights, k=count):
                    api_call(files, shape, rng, org, day, actor)
                if shape.last_day_intruder and d == shape.days - 1:
                    for _ in range(max(5, shape.rows_per_day // 2)):
                        api_call(files, shape, rng, org, day, actors[0], intruder=True)
            if shape.logins != "none":
                for actor in active:
                    for _ in range(rng.randint(0, 3)):
                        login(files, shape, rng, org, day, actor)
            if shape.bulk != "none" and shape.logins != "only":
                for actor in rng.sample(active, k=min(len(active), rng.randint(0, 2))):
                    jobs.append(bulk_job(files, shape, rng, org, day, actor))
        if shape.bulk == "jobs_and_deletions":
            for job_id, created, actor in jobs:
                if rng.random() < 0.5:
                    deleted = created + timedelta(minutes=rng.randint(1, 90))
                    bulk_delete(files, shape, rng, org, deleted, actor, job_id)
    return files.write(folder, shape, rng)


def client_ip(shape: Shape, ip: str) -> str:
    return {"normal": ip, "empty": "", "salesforce": "Salesforce.com IP"}[shape.client_ip_mode]


def moment(rng: random.Random, day: date, hours: Sequence[int]) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(
        hours=rng.choice(hours),
        minutes=rng.randint(0, 59),
        seconds=rng.randint(0, 59),
        milliseconds=rng.randint(0, 999),
    )


def user_id(shape: Shape, rng: random.Random, user: str) -> str:
    return to18(user) if shape.long_user_ids and rng.random() < 0.5 else user


def api_call(
    files: Files,
    shape: Shape,
    rng: random.Random,
    org: str,
    day: date,
    actor: dict[str, object],
    intruder: bool = False,
) -> None:
    entity: Entity = actor["entity"]  # type: ignore[assignment]
    ts, derived = ts_fields(moment(rng, day, (2, 3) if intruder else entity.hours))
    ip = TOR_EXIT_IPS[1] if intruder else IPS[rng.choice(entity.ips)]
    obj = rng.choice(OBJECTS)
    method = rng.choices(("GET", "POST", "PATCH", "DELETE"), (8, 2, 1, 1))[0]
    resource = rng.choice(
        (f"/v62.0/sobjects/{obj}", "/v62.0/query", "/v62.0/composite", f"/v62.0/sobjects/{obj}/describe")
    )
    roll = rng.random()
    status = (
        rng.choice(("401", "403", "500"))
        if roll < shape.error_share
        else ("201" if method == "POST" else "200")
    )
    common = {
        "EVENT_TYPE": shape.api_source,
        "TIMESTAMP": ts,
        "TIMESTAMP_DERIVED": derived,
        "REQUEST_ID": request_id(rng),
        "ORGANIZATION_ID": org,
        "USER_ID": user_id(shape, rng, str(actor["user"])),
        "CLIENT_IP": client_ip(shape, ip),
        "CONNECTED_APP_ID": "" if shape.app_id_empty else str(actor["app"]),
        "CLIENT_NAME": str(actor["client"]),
        "ENTITY_NAME": "" if shape.entity_name_empty else obj,
        "STATUS_CODE": "" if shape.status_empty else status,
    }
    if shape.api_source == "ApiTotalUsage":
        row = common | {
            "API_FAMILY": "REST",
            "API_VERSION": "62.0",
            "API_RESOURCE": resource,
            "HTTP_METHOD": method,
            "COUNTS_AGAINST_API_LIMIT": "1",
            "USER_NAME": str(actor["user_name"]),
            "CONNECTED_APP_NAME": str(actor["app_name"]),
        }
    else:
        row = common | {
            "URI": "/services/data" + resource,
            "METHOD": method,
            "USER_AGENT": "12024001",
            "ROWS_PROCESSED": str(rng.randint(0, 2000)),
            "REQUEST_STATUS": "F" if status >= "400" else "S",
            "USER_ID_DERIVED": to18(str(actor["user"])),
            "RUN_TIME": str(rng.randint(5, 900)),
        }
    files.add(org, shape.api_source, day, row)


def login(
    files: Files, shape: Shape, rng: random.Random, org: str, day: date, actor: dict[str, object]
) -> None:
    entity: Entity = actor["entity"]  # type: ignore[assignment]
    ts, derived = ts_fields(moment(rng, day, entity.hours))
    ip = IPS[rng.choice(entity.ips)]
    failed = rng.random() < max(shape.error_share, 0.05)
    if shape.logins == "history":
        when = moment(rng, day, entity.hours)
        row = {
            "Id": ident(rng, "0Ya"),
            "LoginTime": f"{when:%Y-%m-%dT%H:%M:%S}.000Z",
            "UserId": to18(str(actor["user"])),
            "Application": str(actor["app_name"]) or "Browser",
            "SourceIp": ip,
            "CountryIso": rng.choice(("US", "DE", "")),
            "LoginType": "Remote Access 2.0" if entity.has_app else "Application",
            "Status": "Failed: Invalid Password" if failed else "Success",
        }
        files.add(org, "LoginHistory", day, row)
        return
    failed = rng.random() < max(shape.error_share, 0.05)
    files.add(
        org,
        "Login",
        day,
        {
            "EVENT_TYPE": "Login",
            "TIMESTAMP": ts,
            "TIMESTAMP_DERIVED": derived,
            "REQUEST_ID": request_id(rng),
            "ORGANIZATION_ID": org,
            "USER_ID": user_id(shape, rng, str(actor["user"])),
            "USER_ID_DERIVED": to18(str(actor["user"])),
            "USER_NAME": str(actor["user_name"]),
            "URI": "/services/oauth2/token" if entity.has_app else "/index.jsp",
            "LOGIN_TYPE": "i" if entity.has_app else "A",
            "LOGIN_SUB_TYPE": "",
            "API_VERSION": "9998.0",
            "CLIENT_IP": client_ip(shape, ip),
            "SOURCE_IP": ip,
            "LOGIN_STATUS": "LOGIN_ERROR_INVALID_PASSWORD" if failed else "LOGIN_NO_ERROR",
            "BROWSER_TYPE": rng.choice(("Chrome", "python-requests/2.31", "")),
        },
    )


def bulk_job(
    files: Files, shape: Shape, rng: random.Random, org: str, day: date, actor: dict[str, object]
) -> tuple[str, datetime, dict[str, object]]:
    entity: Entity = actor["entity"]  # type: ignore[assignment]
    created = moment(rng, day, entity.hours)
    ts, derived = ts_fields(created)
    job_id = ident(rng, "750")
    operation = rng.choice(("query", "queryAll", "upsert", "insert", "hardDelete"))
    obj = rng.choice(OBJECTS)
    kind = "query" if operation.startswith("query") else "ingest"
    files.add(
        org,
        "BulkApi2",
        day,
        {
            "EVENT_TYPE": "BulkApi2",
            "TIMESTAMP": ts,
            "TIMESTAMP_DERIVED": derived,
            "REQUEST_ID": request_id(rng),
            "ORGANIZATION_ID": org,
            "USER_ID": user_id(shape, rng, str(actor["user"])),
            "USER_ID_DERIVED": to18(str(actor["user"])),
            "URI": f"/services/data/v62.0/jobs/{kind}/{job_id}",
            "JOB_ID": job_id,
            "OPERATION_TYPE": operation,
            "ENTITY_TYPE": "" if shape.entity_name_empty else obj,
            "JOB_STATUS": rng.choice(("JobComplete", "Failed", "Aborted")),
            "RECORDS_PROCESSED": str(rng.choice((0, 1, 5000, 250_000))),
            "RECORDS_FAILED": "0",
            "CLIENT_IP": client_ip(shape, IPS[rng.choice(entity.ips)]),
        },
    )
    return job_id, created, actor


def bulk_delete(
    files: Files,
    shape: Shape,
    rng: random.Random,
    org: str,
    when: datetime,
    actor: dict[str, object],
    job_id: str,
) -> None:
    """The job deleted through the API: an ApiTotalUsage row in the Bulk family (as the real
    logs show it) when the store has ApiTotalUsage, else a RestApi DELETE on the job's URI."""
    entity: Entity = actor["entity"]  # type: ignore[assignment]
    ts, derived = ts_fields(when)
    event_type = "RestApi" if shape.api_source == "RestApi" else "ApiTotalUsage"
    row = {
        "EVENT_TYPE": event_type,
        "TIMESTAMP": ts,
        "TIMESTAMP_DERIVED": derived,
        "REQUEST_ID": request_id(rng),
        "ORGANIZATION_ID": org,
        "USER_ID": user_id(shape, rng, str(actor["user"])),
        "CLIENT_IP": client_ip(shape, IPS[rng.choice(entity.ips)]),
        "CONNECTED_APP_ID": "" if shape.app_id_empty else str(actor["app"]),
        "STATUS_CODE": "" if shape.status_empty else "204",
    }
    if event_type == "ApiTotalUsage":
        row |= {
            "API_FAMILY": "Bulk",
            "API_VERSION": "62.0",
            "API_RESOURCE": f"/v62.0/jobs/query/{job_id}",
            "HTTP_METHOD": "DELETE",
            "USER_NAME": str(actor["user_name"]),
        }
    else:
        row |= {"URI": f"/services/data/v62.0/jobs/query/{job_id}", "METHOD": "DELETE"}
    files.add(org, event_type, when.date(), row)


def ingest(folder: Path, db: Path, enrich: bool) -> None:
    """Ingest (and optionally enrich) through the real CLI."""
    result = runner.invoke(app, ["ingest", str(folder), "--db", str(db)])
    assert result.exit_code == 0, f"ingest failed ({result.exit_code}): {result.output}"
    if enrich:
        args = ["enrich", "--db", str(db)]
        for option, name in (("--city", "city.mmdb"), ("--asn", "asn.mmdb"), ("--anon", "anonymous-ip.mmdb")):
            args += [option, str(ENRICHMENT / name)]
        args += [
            "--tor-exits",
            str(ENRICHMENT / "tor-exits.txt"),
            "--networks",
            str(ENRICHMENT / "networks.txt"),
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"enrich failed ({result.exit_code}): {result.output}"


def failures_text(result: ScanResult) -> str:
    return "\n".join(f"  {f.detector}: {f.reason}" for f in result.failures)


def check_findings(result: ScanResult, days: JudgedDays) -> None:
    """The findings contract: columns and types, scores, severities, windows in the judged days."""
    assert result.failures == [], f"detector(s) failed:\n{failures_text(result)}"
    frame = result.findings
    assert isinstance(frame, pl.DataFrame)
    assert list(frame.columns) == list(FINDING_SCHEMA), frame.columns
    for column, dtype in FINDING_SCHEMA.items():
        assert frame.schema[column] == dtype, (column, frame.schema[column])
    if frame.is_empty():
        return
    assert days.first is not None and days.last is not None
    assert frame["score"].null_count() == 0
    assert frame["score"].min() >= 0 and frame["score"].max() <= 100, frame["score"].describe()  # type: ignore[operator]
    for row in frame.iter_rows(named=True):
        where = f"{row['detector']} on {row['entity_id']} at {row['window_start']}"
        assert row["severity"] in SEVERITIES and row["severity"] == severity_for(row["score"]), where
        assert row["category"] in CATEGORIES, where
        assert row["id"] and row["explanation"], where
        assert days.first <= row["window_start"].date() <= days.last, f"{where}: outside {days.describe()}"
        assert row["window_end"] >= row["window_start"], where
    assert frame["id"].n_unique() == frame.height, "finding ids are not unique"


def scan_twice(con: duckdb.DuckDBPyConnection) -> None:
    days = judged_days(con, all_days=True)
    first = run_scan(con, Settings(), days)
    check_findings(first, days)
    event(f"judged days: {'none' if days.empty else 'some'}")
    event(f"findings: {min(first.findings.height, 10)}{'+' if first.findings.height >= 10 else ''}")
    for detector in first.findings["detector"].unique().to_list():
        event(f"fired: {detector}")
    second = run_scan(con, Settings(), judged_days(con, all_days=True))
    assert second.failures == [], f"detector(s) failed on re-run:\n{failures_text(second)}"
    assert sorted(first.findings["id"].to_list()) == sorted(second.findings["id"].to_list()), "ids not stable"


def scan_out_of_range(con: duckdb.DuckDBPyConnection, shape: Shape) -> None:
    """--since/--until before, after and around the data: never a crash, never a failing detector."""
    data_start, data_end = shape.first_day, shape.first_day + timedelta(days=shape.days - 1)
    ranges = [
        (data_start - timedelta(days=400), data_start - timedelta(days=300)),
        (data_end + timedelta(days=30), data_end + timedelta(days=60)),
        (data_end + timedelta(days=5), None),
        (None, data_start - timedelta(days=5)),
        (data_start - timedelta(days=50), data_end + timedelta(days=50)),
        (data_end, data_start),  # reversed
    ]
    for since, until in ranges:
        days = judged_days(con, since=since, until=until)
        days.describe()
        if not days.empty:
            assert days.first is not None and days.last is not None
            assert days.first >= data_start + timedelta(days=7), days.describe()
    since, until = ranges[4]
    days = judged_days(con, since=since, until=until)
    result = run_scan(con, Settings(), days, save=False)
    check_findings(result, days)


def run_shape(shape: Shape) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder, db = Path(tmp) / "logs", Path(tmp) / "store.duckdb"
        folder.mkdir()
        if build_logs(shape, folder):
            if any(folder.iterdir()):
                ingest(folder, db, shape.enrich)
            for export in sorted((Path(tmp) / "history").glob("*")):
                result = runner.invoke(app, ["ingest", str(export), "--db", str(db), "--org", export.name])
                assert result.exit_code == 0, f"LoginHistory ingest failed: {result.output}"
        con = open_store(db)
        try:
            # Every generated row is a valid Salesforce row: none may be rejected.
            rejects = con.execute("SELECT reason, count(*) FROM rejects GROUP BY reason").fetchall()
            assert rejects == [], f"valid rows rejected: {rejects}"
            scan_twice(con)
            scan_out_of_range(con, shape)
        finally:
            con.close()


EXAMPLES = int(os.environ.get("WORKBENCH_PROPERTY_EXAMPLES", "40"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # No shrinking: an example costs up to a second or two, and shrinking one store ran into
    # Hypothesis's five-minute limit. The failing shape is printed whole and replays as is.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(shape=shapes)
def test_detector_suite_runs_cleanly_on_generated_stores(shape: Shape) -> None:
    run_shape(shape)


def test_empty_store_has_no_day_to_judge() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        con = open_store(Path(tmp) / "store.duckdb")
        try:
            for since, until in ((None, None), (date(2020, 1, 1), date(2030, 1, 1))):
                days = judged_days(con, since=since, until=until, all_days=True)
                assert days.empty
                result = run_scan(con, Settings(), days)
                assert result.failures == [] and result.findings.is_empty()
        finally:
            con.close()


# Regressions reduced from examples the property test found.

ASHBURN, COUNCIL_BLUFFS = "52.14.7.9", "34.201.10.4"  # 1,600 km apart in the sample's city.mmdb
GEO_USER = "005000000000777"


def geo_store(tmp: Path, judged_day_calls: list[tuple[str, str]]) -> duckdb.DuckDBPyConnection:
    """A user without an app calling from Ashburn at noon for a week (2025-01-01 to 01-07), then
    JUDGED_DAY_CALLS (TIMESTAMP, ip); enriched with the sample's databases."""
    calls = [(f"202501{d:02d}120000.000", ASHBURN) for d in range(1, 8)] + judged_day_calls
    rows = [
        api_row(ts=ts, ip=ip, app="", user=GEO_USER, request_id=f"req{n:019d}")
        for n, (ts, ip) in enumerate(calls)
    ]
    write_log(tmp / "logs" / "api.csv", API_TOTAL_USAGE_HEADER, rows)
    ingest(tmp / "logs", tmp / "store.duckdb", enrich=True)
    return open_store(tmp / "store.duckdb")


def geo_findings(con: duckdb.DuckDBPyConnection) -> tuple[JudgedDays, pl.DataFrame]:
    days = judged_days(con, all_days=True)
    result = run_scan(con, Settings(), days)
    assert result.failures == [], failures_text(result)
    return days, result.findings.filter(pl.col("detector") == "impossible_geography")


def test_impossible_geography_window_starts_in_the_judged_days() -> None:
    # The previous call was late on the last day of history, the far one just after midnight on
    # the first judged day: the finding's window_start was the previous call (2025-01-07 23:50).
    with tempfile.TemporaryDirectory() as tmp:
        con = geo_store(Path(tmp), [("20250107235000.000", ASHBURN), ("20250108001000.000", COUNCIL_BLUFFS)])
        try:
            days, found = geo_findings(con)
            assert found.height == 1
            assert days.first == date(2025, 1, 8)
            assert found["window_start"][0].date() >= days.first, found.select("window_start", "window_end")
        finally:
            con.close()


def test_impossible_geography_window_is_not_reversed() -> None:
    # Two addresses interleaved within one hour: the Ashburn hour runs 00:10-00:50, Council Bluffs
    # is at 00:20, so the 'previous' segment ends after the next starts and window_end came out
    # before window_start.
    with tempfile.TemporaryDirectory() as tmp:
        calls = [("20250108001000.000", ASHBURN), ("20250108002000.000", COUNCIL_BLUFFS)]
        con = geo_store(Path(tmp), [*calls, ("20250108005000.000", ASHBURN)])
        try:
            _, found = geo_findings(con)
            assert found.height == 1
            assert (found["window_end"] >= found["window_start"]).all(), found.select(
                "window_start", "window_end"
            )
        finally:
            con.close()


def login_row(ts: str, ip: str, ok: bool, n: int) -> list[str]:
    """A Login row of GEO_USER at TIMESTAMP TS from IP."""
    derived = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}.{ts[15:18]}Z"
    values = {
        "EVENT_TYPE": "Login",
        "TIMESTAMP": ts,
        "TIMESTAMP_DERIVED": derived,
        "REQUEST_ID": f"login{n:017d}",
        "ORGANIZATION_ID": ORGS[0],
        "USER_ID": GEO_USER,
        "USER_NAME": "person@example.com",
        "URI": "/index.jsp",
        "LOGIN_TYPE": "A",
        "CLIENT_IP": ip,
        "SOURCE_IP": ip,
        "LOGIN_STATUS": "LOGIN_NO_ERROR" if ok else "LOGIN_ERROR_INVALID_PASSWORD",
    }
    return [values.get(c, "") for c in LOGIN_COLUMNS]


def test_probe_then_success_gives_one_finding_per_id() -> None:
    # Failures from the address that then logs in, and more for the same user from a second
    # address: the per-address and the per-user pass each emitted a finding on the same user
    # with the same window start, so two findings shared one id (the store kept either).
    logins = [(f"202501{d:02d}120000.000", ASHBURN, True) for d in range(1, 8)]
    logins += [(f"2025010822{m:02d}00.000", ASHBURN, False) for m in (0, 5, 10)]
    logins += [(f"2025010822{m:02d}00.000", "104.18.0.77", False) for m in (2, 7)]
    logins += [("20250108222000.000", ASHBURN, True)]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [login_row(ts, ip, ok, n) for n, (ts, ip, ok) in enumerate(logins)]
        write_log(Path(tmp) / "logs" / "login.csv", LOGIN_COLUMNS, rows)
        ingest(Path(tmp) / "logs", Path(tmp) / "store.duckdb", enrich=False)
        con = open_store(Path(tmp) / "store.duckdb")
        try:
            result = run_scan(con, Settings(), judged_days(con, all_days=True))
            assert result.failures == [], failures_text(result)
            found = result.findings.filter(pl.col("detector") == "probe_then_success")
            assert found.height >= 1
            assert found["id"].n_unique() == found.height, found.select("id", "window_start", "explanation")
        finally:
            con.close()


def test_hourly_burst_id_is_stable_when_two_hours_tie() -> None:
    # Two hours of the judged day with the same (burst) number of calls: the peak hour was the
    # first of them in a group_by's arbitrary order, so re-running the scan moved the finding
    # (and its id) between 00:00 and 07:00.
    app_id = "0H4000000000042"
    calls = [(f"202501{d:02d}09{m:02d}00.000", d) for d in range(1, 12) for m in range(20)]
    calls += [(f"20250112{h:02d}{m % 60:02d}{m // 60:02d}.000", 12) for h in (0, 7) for m in range(300)]
    rows = [api_row(ts=ts, app=app_id, request_id=f"burst{n:017d}") for n, (ts, _) in enumerate(calls)]
    with tempfile.TemporaryDirectory() as tmp:
        write_log(Path(tmp) / "logs" / "api.csv", API_TOTAL_USAGE_HEADER, rows)
        ingest(Path(tmp) / "logs", Path(tmp) / "store.duckdb", enrich=False)
        con = open_store(Path(tmp) / "store.duckdb")
        try:
            starts = set()
            for _ in range(8):
                result = run_scan(
                    con, Settings(), judged_days(con, all_days=True), detectors=["hourly_burst"]
                )
                assert result.failures == [], failures_text(result)
                starts.add(tuple(result.findings["window_start"].to_list()))
            assert len(starts) == 1, f"hourly_burst moved between runs: {starts}"
            assert len(next(iter(starts))) == 1
        finally:
            con.close()
