"""Deterministic generator of realistic Salesforce EventLogFile CSVs with a planted incident.

The same arguments always give byte-identical files: every random draw comes from a numpy
generator seeded with (seed, org, day, actor), never from global state or the clock.
"""

from __future__ import annotations

import calendar
import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

DEFAULT_END_DATE = date(2025, 11, 21)
ID_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
REQUEST_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", np.uint8
)
SUPPORTED_EVENT_TYPES = ("ApiTotalUsage", "RestApi", "BulkApi2", "Login", "Logout")

# Column orders as seen in real files (reference: SEKOIA-IO and elastic samples). The second org
# writes an older layout (no *_DERIVED columns, different order) so parsers are forced to go by
# header name.
API_TOTAL_USAGE_COLUMNS = [
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
    "USER_NAME",
    "CONNECTED_APP_NAME",
]
API_TOTAL_USAGE_COLUMNS_OLD = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "ORGANIZATION_ID",
    "REQUEST_ID",
    "USER_NAME",
    "USER_ID",
    "CONNECTED_APP_ID",
    "CONNECTED_APP_NAME",
    "CLIENT_NAME",
    "CLIENT_IP",
    "API_FAMILY",
    "API_VERSION",
    "HTTP_METHOD",
    "API_RESOURCE",
    "ENTITY_NAME",
    "STATUS_CODE",
    "COUNTS_AGAINST_API_LIMIT",
]
REST_API_COLUMNS = [
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
    "ENTITY_NAME",
    "CONNECTED_APP_ID",
    "CLIENT_NAME",
    "EXCEPTION_MESSAGE",
    "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED",
    "CLIENT_IP",
    "URI_ID_DERIVED",
]
BULK_API2_COLUMNS = [
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
    "JOB_ID",
    "OPERATION_TYPE",
    "ENTITY_TYPE",
    "JOB_STATUS",
    "RECORDS_PROCESSED",
    "RECORDS_FAILED",
    "RESULT_SIZE_MB",
    "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED",
    "CLIENT_IP",
    "URI_ID_DERIVED",
]
LOGIN_COLUMNS = [
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
LOGOUT_COLUMNS = [
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "USER_TYPE",
    "SESSION_KEY",
    "LOGIN_KEY",
    "SESSION_TYPE",
    "SESSION_LEVEL",
    "PLATFORM_TYPE",
    "BROWSER_TYPE",
    "APP_TYPE",
    "CLIENT_VERSION",
    "API_TYPE",
    "API_VERSION",
    "USER_INITIATED_LOGOUT",
    "RESOLUTION_TYPE",
    "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED",
    "CLIENT_IP",
]

HOSTING_IOC_IP = "3.239.45.43"  # published Gainsight reconnaissance IP (Salesforce, Oct 2025)
TOR_EXIT_IPS = ("185.220.101.143", "185.220.101.164")  # published Drift-era Tor exits


def to18(id15: str) -> str:
    """Salesforce's case-safe 18-character form of a 15-character id."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in range(3):
        part = id15[chunk * 5 : chunk * 5 + 5]
        suffix += letters[sum(1 << j for j, c in enumerate(part) if "A" <= c <= "Z")]
    return id15 + suffix


@dataclass(frozen=True)
class Actor:
    """One source of API traffic: an integration (connected app + integration user) or a person."""

    key: str
    name: str
    user_name: str
    client_name: str
    ips: tuple[str, ...]
    daily_calls: float
    hours: tuple[int, ...]
    objects: dict[str, float]
    connected_app_name: str = ""
    weekdays_only: bool = False
    write_share: float = 0.1
    error_rate: float = 0.005
    growth_per_day: float = 0.0
    month_end_factor: float = 1.0
    active_days: tuple[int, int] | None = None  # (first, last) day index, None = always
    bulk_job_objects: tuple[str, ...] = ()
    human: bool = False


@dataclass
class OrgPlan:
    """Everything the generator needs for one org."""

    index: int
    org_id: str
    name: str
    domain: str
    actors: list[Actor] = field(default_factory=list)
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (user id, app id)
    victim: str | None = None


def _seeded(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, *parts])


def _random_id(rng: np.random.Generator, prefix: str, length: int = 15) -> str:
    chars = ID_ALPHABET[rng.integers(0, len(ID_ALPHABET), length - len(prefix))]
    return prefix + chars.tobytes().decode()


def _request_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = REQUEST_ALPHABET[rng.integers(0, len(REQUEST_ALPHABET), (n, 22))]
    return np.ascontiguousarray(codes).view("S22").ravel().astype("U22")


def _org_plans(seed: int, orgs: int) -> list[OrgPlan]:
    templates = [
        ("Acme Corp", "acme"),
        ("Globex Ltd", "globex"),
        ("Initech", "initech"),
        ("Umbrella Health", "umbrella"),
    ]
    plans = []
    for index in range(orgs):
        rng = _seeded(seed, 10_000 + index)
        name, domain = templates[index % len(templates)]
        if index >= len(templates):
            name, domain = f"{name} {index}", f"{domain}{index}"
        plan = OrgPlan(index, _random_id(rng, "00D"), name, domain)
        plan.actors = _actors_for(index, domain)
        for actor in plan.actors:
            user_id = _random_id(rng, "005")
            app_id = "" if actor.human else _random_id(rng, "0H4")
            plan.ids[actor.key] = (user_id, app_id)
        plan.victim = "gainsight" if index == 0 else None
        plans.append(plan)
    return plans


def _actors_for(index: int, domain: str) -> list[Actor]:
    business = tuple(range(13, 23))  # 08:00-17:00 US Eastern, in UTC
    octet = 10 + index
    actors = [
        Actor(
            "gainsight",
            "Gainsight CS",
            f"gainsight.integration@{domain}.com",
            "Gainsight/2.14",
            (f"52.{octet}.17.21", f"52.{octet}.17.22", f"52.{octet}.18.5"),
            1200,
            tuple(range(6, 20)),
            {
                "Account": 0.3,
                "Contact": 0.25,
                "Opportunity": 0.15,
                "JBCXM__CustomerInfo__c": 0.2,
                "Task": 0.1,
            },
            connected_app_name="Gainsight CS",
            write_share=0.15,
        ),
        Actor(
            "salesloft",
            "Salesloft",
            f"salesloft.sync@{domain}.com",
            "Salesloft/3.2",
            (f"34.{octet}.120.7", f"34.{octet}.120.8"),
            700,
            tuple(range(24)),
            {"Contact": 0.35, "Lead": 0.3, "Task": 0.2, "Event": 0.15},
            connected_app_name="Salesloft",
            write_share=0.3,
        ),
        Actor(
            "etl",
            "Informatica nightly ETL",
            f"etl.service@{domain}.com",
            "Informatica/10.5",
            (f"20.{octet}.44.100",),
            1500,
            (2, 3),
            {"Account": 0.3, "Opportunity": 0.3, "OpportunityLineItem": 0.25, "Product2": 0.15},
            connected_app_name="Informatica Cloud",
            weekdays_only=True,
            write_share=0.05,
            bulk_job_objects=("Opportunity", "Account"),
        ),
        Actor(
            "billing",
            "Zuora Billing",
            f"zuora.billing@{domain}.com",
            "Zuora/2025.9",
            (f"44.{octet}.9.30",),
            300,
            tuple(range(8, 18)),
            {"Invoice__c": 0.4, "Account": 0.3, "Order": 0.3},
            connected_app_name="Zuora Billing",
            write_share=0.4,
            month_end_factor=5.0,
        ),
        Actor(
            "hubspot",
            "HubSpot",
            f"hubspot.sync@{domain}.com",
            "HubSpot/1.0",
            (f"54.{octet}.3.1", f"54.{octet}.3.2"),
            400,
            tuple(range(24)),
            {"Contact": 0.5, "Lead": 0.3, "Account": 0.2},
            connected_app_name="HubSpot",
            write_share=0.25,
            growth_per_day=0.02,
        ),
        Actor(
            "marketo_legacy",
            "Marketo legacy",
            f"marketo@{domain}.com",
            "Marketo/5.0",
            (f"192.{octet}.0.77".replace("192.", "104."),),
            200,
            tuple(range(0, 6)),
            {"Lead": 0.7, "Campaign": 0.3},
            connected_app_name="Marketo Sync",
            active_days=(0, 9),
        ),
    ]
    for n, person in enumerate(("alice.admin", "bob.sales", "carol.sales", "dan.support")):
        actors.append(
            Actor(
                person,
                person,
                f"{person}@{domain}.com",
                "",
                (f"64.{octet}.200.{10 + n}",),
                120,
                business,
                {"Account": 0.35, "Contact": 0.3, "Opportunity": 0.25, "Case": 0.1},
                weekdays_only=True,
                write_share=0.2,
                error_rate=0.01,
                human=True,
            )
        )
    return actors


def _is_month_end(day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day >= last - 1 or day.day == 1


def _daily_count(actor: Actor, rng: np.random.Generator, day: date, day_index: int, scale: float) -> int:
    if actor.active_days and not actor.active_days[0] <= day_index <= actor.active_days[1]:
        return 0
    weekend = day.weekday() >= 5
    if actor.weekdays_only and weekend:
        return 0
    mean = actor.daily_calls * scale * (1 + actor.growth_per_day) ** day_index
    if weekend:
        mean *= 0.6
    if _is_month_end(day):
        mean *= actor.month_end_factor
    return int(rng.poisson(max(mean, 0.0)))


def _timestamps(rng: np.random.Generator, day: date, hours: tuple[int, ...], n: int) -> np.ndarray:
    start = np.datetime64(day.isoformat(), "ms")
    chosen = np.asarray(hours)[rng.integers(0, len(hours), n)]
    offsets = chosen * 3_600_000 + rng.integers(0, 3_600_000, n)
    return np.sort(start + offsets.astype("timedelta64[ms]"))


def _api_calls(plan: OrgPlan, actor: Actor, rng: np.random.Generator, day: date, n: int) -> pl.DataFrame:
    """ApiTotalUsage-level facts for one actor-day; other event types are derived from these."""
    user_id, app_id = plan.ids[actor.key]
    objects = list(actor.objects)
    weights = np.asarray(list(actor.objects.values()))
    entity = np.asarray(objects)[rng.choice(len(objects), n, p=weights / weights.sum())]
    is_write = rng.random(n) < actor.write_share
    method = np.where(is_write, np.where(rng.random(n) < 0.5, "PATCH", "POST"), "GET")
    record = np.char.add("a0", rng.integers(10**9, 10**10, n).astype("U10"))
    resource = np.where(
        is_write,
        np.char.add(
            np.char.add("/v62.0/sobjects/", entity), np.where(method == "PATCH", np.char.add("/", record), "")
        ),
        "/v62.0/query",
    )
    failed = rng.random(n) < actor.error_rate
    status = np.where(
        failed,
        np.where(rng.random(n) < 0.5, "400", "500"),
        np.where(is_write & (method == "POST"), "201", "200"),
    )
    return pl.DataFrame(
        {
            "ts": _timestamps(rng, day, actor.hours, n),
            "request_id": _request_ids(rng, n),
            "user_id": user_id,
            "user_name": actor.user_name,
            "app_id": app_id,
            "app_name": actor.connected_app_name,
            "client_name": actor.client_name,
            "ip": np.asarray(actor.ips)[rng.integers(0, len(actor.ips), n)],
            "family": "REST",
            "resource": resource,
            "method": method,
            "entity": entity,
            "status": status,
            "rows": np.where(is_write, 1, rng.integers(1, 200, n)),
        },
        schema_overrides={"ts": pl.Datetime("ms")},
    )


IncidentJob = tuple[str, str, int, datetime, datetime, datetime]  # id, object, rows, created, done, deleted


def _incident_calls(plan: OrgPlan, end: date, seed: int) -> tuple[pl.DataFrame, list[IncidentJob]]:
    """The planted Gainsight-style token abuse: night-time recon, then Bulk API 2.0 exports."""
    actor = next(a for a in plan.actors if a.key == plan.victim)
    user_id, app_id = plan.ids[actor.key]
    rng = _seeded(seed, plan.index, 99_999)
    rows: list[dict[str, object]] = []

    def call(
        ts: datetime,
        ip: str,
        resource: str,
        method: str,
        entity: str,
        status: str = "200",
        rows_processed: int = 1,
        family: str = "REST",
    ) -> None:
        rows.append(
            {
                "ts": ts,
                "ip": ip,
                "resource": resource,
                "method": method,
                "entity": entity,
                "status": status,
                "rows": rows_processed,
                "family": family,
            }
        )

    recon = [
        ("/v58.0/sobjects/", ""),
        ("/v58.0/limits/", ""),
        ("/v58.0/sobjects/Case/describe/", "Case"),
        ("/v58.0/sobjects/User/describe/", "User"),
        ("/v58.0/sobjects/ContentVersion/describe/", "ContentVersion"),
    ]
    count_targets = ["Account", "Opportunity", "User", "Case", "Contact"]
    # Wave 1, three nights before the end: reconnaissance only, from a Tor exit.
    night1 = datetime.combine(end - timedelta(days=3), datetime.min.time()) + timedelta(hours=1, minutes=12)
    t = night1
    for _ in range(6):
        for resource, entity in recon:
            t += timedelta(seconds=int(rng.integers(2, 9)))
            call(t, TOR_EXIT_IPS[0], resource, "GET", entity)
        for entity in count_targets:
            t += timedelta(seconds=int(rng.integers(1, 5)))
            call(t, TOR_EXIT_IPS[0], "/v58.0/query", "GET", entity)
    # Wave 2, two nights before the end: recon from the hosting IP, then bulk exports from Tor.
    t = datetime.combine(end - timedelta(days=2), datetime.min.time()) + timedelta(hours=2, minutes=5)
    for resource, entity in recon:
        t += timedelta(seconds=int(rng.integers(2, 6)))
        call(t, HOSTING_IOC_IP, resource, "GET", entity)
    for entity in count_targets:
        t += timedelta(seconds=int(rng.integers(1, 4)))
        call(t, HOSTING_IOC_IP, "/v58.0/query", "GET", entity)
    jobs: list[IncidentJob] = []
    for entity, records in (("User", 12_480), ("Case", 184_215), ("ContentVersion", 52_930)):
        job_id = _random_id(rng, "750")
        t += timedelta(seconds=int(rng.integers(20, 60)))
        created = t
        call(t, TOR_EXIT_IPS[1], "/v58.0/jobs/query", "POST", entity, family="Bulk")
        for _ in range(12):
            t += timedelta(seconds=int(rng.integers(3, 10)))
            call(t, TOR_EXIT_IPS[1], f"/v58.0/jobs/query/{job_id}", "GET", entity, family="Bulk")
        pages = max(1, records // 10_000)
        for _ in range(pages):
            t += timedelta(seconds=int(rng.integers(2, 6)))
            call(
                t,
                TOR_EXIT_IPS[1],
                f"/v58.0/jobs/query/{job_id}/results",
                "GET",
                entity,
                rows_processed=min(10_000, records),
                family="Bulk",
            )
        completed = t
        t += timedelta(seconds=int(rng.integers(15, 40)))
        call(t, TOR_EXIT_IPS[1], f"/v58.0/jobs/query/{job_id}", "DELETE", entity, status="204", family="Bulk")
        jobs.append((job_id, entity, records, created, completed, t))
    frame = pl.DataFrame(rows, schema_overrides={"ts": pl.Datetime("ms")}).with_columns(
        request_id=pl.Series(_request_ids(rng, len(rows))),
        user_id=pl.lit(user_id),
        user_name=pl.lit(actor.user_name),
        app_id=pl.lit(app_id),
        app_name=pl.lit(actor.connected_app_name),
        client_name=pl.lit(""),
    )
    return frame.with_columns(pl.col("rows").cast(pl.Int64)).select(_CALL_COLUMNS), jobs


_CALL_COLUMNS = [
    "ts",
    "request_id",
    "user_id",
    "user_name",
    "app_id",
    "app_name",
    "client_name",
    "ip",
    "family",
    "resource",
    "method",
    "entity",
    "status",
    "rows",
]


def _fmt_ts(col: str = "ts") -> pl.Expr:
    return pl.col(col).dt.strftime("%Y%m%d%H%M%S%.3f")


def _fmt_derived(col: str = "ts") -> pl.Expr:
    return pl.col(col).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def _api_total_usage(plan: OrgPlan, calls: pl.DataFrame) -> pl.DataFrame:
    frame = calls.select(
        EVENT_TYPE=pl.lit("ApiTotalUsage"),
        TIMESTAMP=_fmt_ts(),
        REQUEST_ID="request_id",
        ORGANIZATION_ID=pl.lit(plan.org_id),
        USER_ID="user_id",
        API_FAMILY="family",
        API_VERSION=pl.col("resource").str.extract(r"^/v(\d+\.\d)", 1).fill_null("62.0"),
        API_RESOURCE="resource",
        CLIENT_NAME="client_name",
        HTTP_METHOD="method",
        CLIENT_IP="ip",
        COUNTS_AGAINST_API_LIMIT=pl.lit("1"),
        CONNECTED_APP_ID="app_id",
        ENTITY_NAME="entity",
        STATUS_CODE="status",
        TIMESTAMP_DERIVED=_fmt_derived(),
        USER_NAME="user_name",
        CONNECTED_APP_NAME="app_name",
    )
    if plan.index % 2 == 1:
        # Older layout: other column order, no TIMESTAMP_DERIVED, whole seconds only.
        frame = frame.with_columns(pl.col("TIMESTAMP").str.slice(0, 14))
        return frame.select(API_TOTAL_USAGE_COLUMNS_OLD)
    return frame.select(API_TOTAL_USAGE_COLUMNS)


def _rest_api(plan: OrgPlan, calls: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    rest = calls.filter(pl.col("family") == "REST")
    n = rest.height
    return rest.select(
        EVENT_TYPE=pl.lit("RestApi"),
        TIMESTAMP=_fmt_ts(),
        REQUEST_ID="request_id",
        ORGANIZATION_ID=pl.lit(plan.org_id),
        USER_ID="user_id",
        RUN_TIME=pl.Series(rng.integers(5, 900, n).astype("U6")),
        CPU_TIME=pl.Series(rng.integers(1, 200, n).astype("U6")),
        URI=pl.concat_str(pl.lit("/services/data"), "resource"),
        SESSION_KEY=pl.lit(""),
        LOGIN_KEY=pl.lit(""),
        USER_TYPE=pl.lit("Standard"),
        REQUEST_STATUS=pl.when(pl.col("status").cast(pl.Int32) >= 400)
        .then(pl.lit("F"))
        .otherwise(pl.lit("S")),
        DB_TOTAL_TIME=pl.Series(rng.integers(10**6, 10**8, n).astype("U10")),
        METHOD="method",
        MEDIA_TYPE=pl.lit("application/json"),
        STATUS_CODE="status",
        USER_AGENT=pl.lit("12024001"),
        ROWS_PROCESSED=pl.col("rows").cast(pl.Utf8),
        NUMBER_FIELDS=pl.lit("12"),
        DB_BLOCKS=pl.lit("40"),
        DB_CPU_TIME=pl.lit("0"),
        REQUEST_SIZE=pl.lit("0"),
        RESPONSE_SIZE=pl.Series(rng.integers(200, 90_000, n).astype("U6")),
        ENTITY_NAME="entity",
        CONNECTED_APP_ID="app_id",
        CLIENT_NAME="client_name",
        EXCEPTION_MESSAGE=pl.lit(""),
        TIMESTAMP_DERIVED=_fmt_derived(),
        USER_ID_DERIVED=pl.col("user_id").map_elements(to18, return_dtype=pl.Utf8),
        CLIENT_IP="ip",
        URI_ID_DERIVED=pl.lit(""),
    )


def _logins(plan: OrgPlan, day: date, seed: int, day_index: int, incident_night: int | None) -> pl.DataFrame:
    """OAuth token logins for integrations (a few a day) and UI logins for people."""
    rng = _seeded(seed, plan.index, day_index, 7_000)
    rows: list[dict[str, object]] = []
    for actor in plan.actors:
        if actor.active_days and not actor.active_days[0] <= day_index <= actor.active_days[1]:
            continue
        if actor.weekdays_only and day.weekday() >= 5:
            continue
        user_id, _ = plan.ids[actor.key]
        logins = 2 if actor.human else max(1, len(actor.hours) // 4)
        for _ in range(logins):
            hour = int(rng.choice(actor.hours))
            ts = datetime.combine(day, datetime.min.time()) + timedelta(
                hours=hour, seconds=int(rng.integers(0, 3600)), milliseconds=int(rng.integers(0, 1000))
            )
            ip = str(rng.choice(actor.ips))
            if actor.human:
                rows.append(
                    _login_row(
                        ts,
                        user_id,
                        actor.user_name,
                        ip,
                        ip,
                        "Application",
                        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Chrome/128.0",
                        "",
                    )
                )
            else:
                rows.append(
                    _login_row(
                        ts,
                        user_id,
                        actor.user_name,
                        "Salesforce.com IP",
                        ip,
                        "Remote Access 2.0",
                        "python-requests/2.31.0",
                        "oauthrefreshtoken",
                    )
                )
        if actor.human and rng.random() < 0.05:
            ts = datetime.combine(day, datetime.min.time()) + timedelta(hours=int(rng.choice(actor.hours)))
            rows.append(
                _login_row(
                    ts,
                    user_id,
                    actor.user_name,
                    actor.ips[0],
                    actor.ips[0],
                    "Application",
                    "Mozilla/5.0 Chrome/128.0",
                    "",
                    status="LOGIN_ERROR_INVALID_PASSWORD",
                )
            )
    if incident_night is not None and plan.victim:
        actor = next(a for a in plan.actors if a.key == plan.victim)
        user_id, _ = plan.ids[actor.key]
        base = datetime.combine(day, datetime.min.time())
        if incident_night == -3:
            for minute, agent in (
                (11, "Salesforce-Multi-Org-Fetcher/1.0"),
                (25, "Salesforce-Multi-Org-Fetcher/1.0"),
            ):
                rows.append(
                    _login_row(
                        base + timedelta(hours=1, minutes=minute),
                        user_id,
                        actor.user_name,
                        "Salesforce.com IP",
                        TOR_EXIT_IPS[0],
                        "Remote Access 2.0",
                        agent,
                        "oauthrefreshtoken",
                    )
                )
        else:
            for minute, ip, agent in (
                (4, HOSTING_IOC_IP, "python-requests/2.32.4"),
                (7, TOR_EXIT_IPS[1], "Python/3.11 aiohttp/3.13.1"),
            ):
                rows.append(
                    _login_row(
                        base + timedelta(hours=2, minutes=minute),
                        user_id,
                        actor.user_name,
                        "Salesforce.com IP",
                        ip,
                        "Remote Access 2.0",
                        agent,
                        "oauthrefreshtoken",
                    )
                )
    rows.sort(key=lambda r: r["ts"])  # type: ignore[arg-type,return-value]
    request_ids = _request_ids(rng, len(rows))
    out = []
    for row, request_id in zip(rows, request_ids, strict=True):
        moment = row.pop("ts")
        if not isinstance(moment, datetime):
            raise TypeError(moment)
        ts = moment
        out.append(
            {
                "EVENT_TYPE": "Login",
                "TIMESTAMP": ts.strftime("%Y%m%d%H%M%S.") + f"{ts.microsecond // 1000:03d}",
                "REQUEST_ID": str(request_id),
                "ORGANIZATION_ID": plan.org_id,
                "TIMESTAMP_DERIVED": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
                "USER_ID_DERIVED": to18(str(row["USER_ID"])),
                **row,
            }
        )
    return pl.DataFrame(out, schema={c: pl.Utf8 for c in LOGIN_COLUMNS}).select(LOGIN_COLUMNS)


def _login_row(
    ts: datetime,
    user_id: str,
    user_name: str,
    client_ip: str,
    source_ip: str,
    login_type: str,
    agent: str,
    sub_type: str,
    status: str = "LOGIN_NO_ERROR",
) -> dict[str, object]:
    oauth = login_type == "Remote Access 2.0"
    return {
        "ts": ts,
        "USER_ID": user_id,
        "RUN_TIME": "120",
        "CPU_TIME": "40",
        "URI": "/services/oauth2/token" if oauth else "/index.jsp",
        "SESSION_KEY": "",
        "LOGIN_KEY": "",
        "USER_TYPE": "Standard",
        "REQUEST_STATUS": "",
        "DB_TOTAL_TIME": "1051271",
        "LOGIN_TYPE": "i" if oauth else "A",
        "BROWSER_TYPE": agent,
        "API_TYPE": "",
        "API_VERSION": "9998.0",
        "USER_NAME": user_name,
        "TLS_PROTOCOL": "TLSv1.3",
        "CIPHER_SUITE": "TLS_AES_256_GCM_SHA384",
        "AUTHENTICATION_METHOD_REFERENCE": "",
        "LOGIN_SUB_TYPE": sub_type,
        "CLIENT_IP": client_ip,
        "URI_ID_DERIVED": "",
        "LOGIN_STATUS": status,
        "SOURCE_IP": source_ip,
    }


def _bulk_jobs(
    plan: OrgPlan, day: date, seed: int, day_index: int, incident_jobs: list[IncidentJob]
) -> pl.DataFrame:
    """BulkApi2 job rows: the ETL's nightly upsert jobs, and the incident's query exports."""
    rng = _seeded(seed, plan.index, day_index, 8_000)
    rows: list[dict[str, str]] = []

    def job(
        ts: datetime,
        user_id: str,
        ip: str,
        job_id: str,
        operation: str,
        entity: str,
        status: str,
        processed: int,
    ) -> None:
        rows.append(
            {
                "EVENT_TYPE": "BulkApi2",
                "TIMESTAMP": ts.strftime("%Y%m%d%H%M%S.") + f"{ts.microsecond // 1000:03d}",
                "REQUEST_ID": str(_request_ids(rng, 1)[0]),
                "ORGANIZATION_ID": plan.org_id,
                "USER_ID": user_id,
                "RUN_TIME": str(int(rng.integers(500, 30_000))),
                "CPU_TIME": str(int(rng.integers(50, 3000))),
                "URI": f"/services/data/v62.0/jobs/{'query' if operation == 'query' else 'ingest'}/{job_id}",
                "SESSION_KEY": "",
                "LOGIN_KEY": "",
                "JOB_ID": job_id,
                "OPERATION_TYPE": operation,
                "ENTITY_TYPE": entity,
                "JOB_STATUS": status,
                "RECORDS_PROCESSED": str(processed),
                "RECORDS_FAILED": "0",
                "RESULT_SIZE_MB": "",
                "TIMESTAMP_DERIVED": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
                "USER_ID_DERIVED": to18(user_id),
                "CLIENT_IP": ip,
                "URI_ID_DERIVED": "",
            }
        )

    for actor in plan.actors:
        if not actor.bulk_job_objects or (actor.weekdays_only and day.weekday() >= 5):
            continue
        user_id, _ = plan.ids[actor.key]
        for entity in actor.bulk_job_objects:
            ts = datetime.combine(day, datetime.min.time()) + timedelta(
                hours=actor.hours[0], minutes=int(rng.integers(0, 50))
            )
            job(
                ts,
                user_id,
                actor.ips[0],
                _random_id(rng, "750"),
                "upsert",
                entity,
                "JobComplete",
                int(rng.integers(800, 3000)),
            )
    if incident_jobs and plan.victim:
        user_id, _ = plan.ids[plan.victim]
        for job_id, entity, records, _created, completed, _deleted in incident_jobs:
            job(completed, user_id, TOR_EXIT_IPS[1], job_id, "query", entity, "JobComplete", records)
    frame = pl.DataFrame(rows, schema={c: pl.Utf8 for c in BULK_API2_COLUMNS})
    return frame.sort("TIMESTAMP").select(BULK_API2_COLUMNS)


def _logouts(plan: OrgPlan, logins: pl.DataFrame) -> pl.DataFrame:
    """People's UI sessions end with a logout an hour or so after their login."""
    ui = logins.filter((pl.col("LOGIN_TYPE") == "A") & (pl.col("LOGIN_STATUS") == "LOGIN_NO_ERROR"))
    ts = pl.col("TIMESTAMP").str.strptime(pl.Datetime("ms"), "%Y%m%d%H%M%S%.3f") + pl.duration(minutes=70)
    return ui.with_columns(_ts=ts).select(
        EVENT_TYPE=pl.lit("Logout"),
        TIMESTAMP=_fmt_ts("_ts"),
        REQUEST_ID=pl.concat_str(pl.col("REQUEST_ID").str.slice(0, 18), pl.lit("LOut")),
        ORGANIZATION_ID="ORGANIZATION_ID",
        USER_ID="USER_ID",
        USER_TYPE=pl.lit("Standard"),
        SESSION_KEY=pl.lit(""),
        LOGIN_KEY=pl.lit(""),
        SESSION_TYPE=pl.lit("U"),
        SESSION_LEVEL=pl.lit("1"),
        PLATFORM_TYPE=pl.lit("1015"),
        BROWSER_TYPE=pl.lit("1129"),
        APP_TYPE=pl.lit("1000"),
        CLIENT_VERSION=pl.lit("9998"),
        API_TYPE=pl.lit("N"),
        API_VERSION=pl.lit("9998.0"),
        USER_INITIATED_LOGOUT=pl.lit("1"),
        RESOLUTION_TYPE=pl.lit("10000"),
        TIMESTAMP_DERIVED=_fmt_derived("_ts"),
        USER_ID_DERIVED="USER_ID_DERIVED",
        CLIENT_IP="CLIENT_IP",
    )


@dataclass
class GenerateReport:
    """What `generate` wrote."""

    files: list[Path]
    rows_by_type: dict[str, int]
    orgs: list[tuple[str, str]]
    first_day: date
    last_day: date


def generate(
    outdir: Path,
    days: int = 45,
    orgs: int = 2,
    scale: float = 1.0,
    seed: int = 7,
    end_date: date = DEFAULT_END_DATE,
    event_types: tuple[str, ...] = SUPPORTED_EVENT_TYPES,
    gzip_files: bool = False,
    on_day: Callable[[int, int], None] | None = None,
) -> GenerateReport:
    """Write one daily EventLogFile CSV per org x event type x day into OUTDIR."""
    unknown = set(event_types) - set(SUPPORTED_EVENT_TYPES)
    if unknown:
        raise ValueError(f"unsupported event type(s): {', '.join(sorted(unknown))}")
    outdir.mkdir(parents=True, exist_ok=True)
    plans = _org_plans(seed, orgs)
    first = end_date - timedelta(days=days - 1)
    written: list[Path] = []
    totals: dict[str, int] = {t: 0 for t in event_types}
    steps = len(plans) * days
    for plan in plans:
        incident_calls, incident_jobs = (
            _incident_calls(plan, end_date, seed) if plan.victim and days >= 4 else (None, [])
        )
        for offset in range(days):
            day = first + timedelta(days=offset)
            from_end = (day - end_date).days  # -3 and -2 are the incident nights
            night = from_end if incident_calls is not None and from_end in (-3, -2) else None
            frames = []
            for actor_index, actor in enumerate(plan.actors):
                rng = _seeded(seed, plan.index, offset, actor_index)
                n = _daily_count(actor, rng, day, offset, scale)
                if n:
                    frames.append(_api_calls(plan, actor, rng, day, n))
            if night is not None and incident_calls is not None:
                frames.append(incident_calls.filter(pl.col("ts").dt.date() == day))
            calls = (
                pl.concat([f.select(_CALL_COLUMNS) for f in frames], how="vertical_relaxed").sort("ts")
                if frames
                else None
            )
            outputs: dict[str, pl.DataFrame] = {}
            if calls is not None and "ApiTotalUsage" in event_types:
                outputs["ApiTotalUsage"] = _api_total_usage(plan, calls)
            if calls is not None and "RestApi" in event_types:
                outputs["RestApi"] = _rest_api(plan, calls, _seeded(seed, plan.index, offset, 5_000))
            logins = _logins(plan, day, seed, offset, night)
            if "Login" in event_types:
                outputs["Login"] = logins
            if "Logout" in event_types:
                outputs["Logout"] = _logouts(plan, logins)
            if "BulkApi2" in event_types:
                jobs_today = incident_jobs if night == -2 else []
                outputs["BulkApi2"] = _bulk_jobs(plan, day, seed, offset, jobs_today)
            for event_type, frame in outputs.items():
                if frame.height == 0:
                    continue  # Salesforce writes no file for a day without events of a type
                written.append(_write(outdir, plan, day, event_type, frame, gzip_files))
                totals[event_type] += frame.height
            if on_day:
                on_day(plan.index * days + offset + 1, steps)
    return GenerateReport(written, totals, [(p.org_id, p.name) for p in plans], first, end_date)


def _write(
    outdir: Path, plan: OrgPlan, day: date, event_type: str, frame: pl.DataFrame, gzip_files: bool
) -> Path:
    folder = outdir / f"{plan.domain}-{plan.org_id}"
    folder.mkdir(parents=True, exist_ok=True)
    body = frame.write_csv(quote_style="always", line_terminator="\n").encode()
    name = f"{day.isoformat()}_{event_type}.csv"
    if gzip_files:
        path = folder / (name + ".gz")
        # mtime=0 keeps the bytes identical from run to run.
        path.write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
    else:
        path = folder / name
        path.write_bytes(body)
    return path
