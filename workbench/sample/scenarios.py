"""A labelled scenario library: seed-randomised orgs with planted attacks and benign look-alikes.

`generate_scenarios` writes Salesforce EventLogFile CSVs in the exact dialect of
`workbench.sample.generator` (every value quoted, header by name, one file per org x event type
x day, in `<domain>-<org id>/<day>_<EventType>.csv`) and returns ground-truth `Label`s, also
written to `labels.json`. Everything is drawn from numpy generators seeded with the seed and a
fixed stream number, so one seed always gives byte-identical files, and different seeds give
different apps, volumes, hours, addresses and column orders.

Each label names the entity a detector would judge: the connected app (15-char id) for
integrations, the user for people.
"""

from __future__ import annotations

import calendar
import gzip as gzip_module
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from workbench.sample.generator import (
    API_TOTAL_USAGE_COLUMNS,
    API_TOTAL_USAGE_COLUMNS_OLD,
    BULK_API2_COLUMNS,
    HOSTING_IOC_IP,
    LOGIN_COLUMNS,
    to18,
)

EPOCH = datetime(1970, 1, 1)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
ID_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
REQUEST_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", np.uint8
)

ATTACKS = (
    "stolen_token_night_anonymizer",
    "schedule_shift",
    "error_creep",
    "dormant_wakeup",
    "recon_export_known_app",
    "probe_401_then_access",
    "pull_10x",
    "lookalike_app",
)
BENIGN = (
    "close_cycle",
    "steady_growth",
    "weekday_and_weekly_jobs",
    "routine_bulk_cleanup",
    "background_auth_failures",
    "vendor_new_address_same_network",
    "isolated_5xx_blip",
    "level_shift_holds",
)

# Call kinds: each becomes one ApiTotalUsage row with its own resource, method and family.
QUERY, RETRIEVE, CREATE, UPDATE, LIST, DESCRIBE, LIMITS = 0, 1, 2, 3, 4, 5, 6
BULK_QUERY_CREATE, BULK_QUERY_STATUS, BULK_QUERY_RESULTS, BULK_QUERY_DELETE = 7, 8, 9, 10
BULK_INGEST_CREATE, BULK_INGEST_UPLOAD, BULK_INGEST_CLOSE, BULK_INGEST_STATUS = 11, 12, 13, 14
METHOD_OF_KIND = ["GET", "GET", "POST", "PATCH", "GET", "GET", "GET", "POST", "GET", "GET", "DELETE"]
METHOD_OF_KIND += ["POST", "PUT", "PATCH", "GET"]
SUCCESS_OF_KIND = np.array(
    [200, 200, 201, 204, 200, 200, 200, 200, 200, 200, 204, 200, 201, 200, 200], np.int16
)
ERROR_CODES = np.array([400, 404, 500, 401], np.int16)
ERROR_WEIGHTS = np.array([0.5, 0.25, 0.2, 0.05])

# Integrations by kind: (connected app name, client name, objects they read and write).
CATALOG: dict[str, list[tuple[str, str]]] = {
    "etl": [
        ("Informatica Cloud", "Informatica/10.5"),
        ("Fivetran", "Fivetran/3.1"),
        ("MuleSoft Anypoint", "Mule/4.6"),
        ("Boomi AtomSphere", "Boomi/24.08"),
        ("Talend Data Integration", "Talend/8.0"),
        ("Jitterbit Harmony", "Jitterbit/11.2"),
        ("Workato", "Workato/2.0"),
        ("Stitch Data", "Stitch/1.4"),
    ],
    "marketing": [
        ("Marketo Sync", "Marketo/5.0"),
        ("HubSpot", "HubSpot/1.0"),
        ("Mailchimp for Salesforce", "Mailchimp/2.3"),
        ("Braze", "Braze/4.1"),
        ("6sense", "6sense/2.0"),
        ("Eloqua", "Eloqua/24.1"),
    ],
    "cs": [
        ("Gainsight CS", "Gainsight/2.14"),
        ("Zendesk Sunshine", "Zendesk/3.0"),
        ("Totango", "Totango/1.9"),
        ("ChurnZero", "ChurnZero/2.2"),
        ("Intercom", "Intercom/1.7"),
        ("Vitally", "Vitally/1.3"),
    ],
    "sales": [
        ("Salesloft", "Salesloft/3.2"),
        ("Outreach", "Outreach/5.4"),
        ("Gong", "Gong/2.8"),
        ("Apollo.io", "Apollo/1.6"),
        ("ZoomInfo", "ZoomInfo/4.0"),
        ("Clari", "Clari/3.3"),
    ],
    "finance": [
        ("Zuora Billing", "Zuora/2025.9"),
        ("NetSuite Connector", "NetSuite/2024.2"),
        ("Coupa", "Coupa/38"),
        ("Avalara AvaTax", "Avalara/6.1"),
    ],
}
OBJECTS: dict[str, list[str]] = {
    "etl": ["Account", "Opportunity", "OpportunityLineItem", "Product2", "Order", "Pricebook2", "Contact"],
    "marketing": ["Lead", "Contact", "Campaign", "CampaignMember", "Account"],
    "cs": ["Account", "Contact", "Case", "Task", "JBCXM__CustomerInfo__c", "Asset"],
    "sales": ["Contact", "Lead", "Task", "Event", "Opportunity", "Account"],
    "finance": ["Invoice__c", "Account", "Order", "Quote", "Payment__c"],
}
SENSITIVE_OBJECTS = [
    "User",
    "Case",
    "ContentVersion",
    "Contact",
    "Account",
    "Opportunity",
    "Lead",
    "Attachment",
    "EmailMessage",
]
ORG_NAMES = [
    ("Acme Corp", "acme"),
    ("Globex Ltd", "globex"),
    ("Initech", "initech"),
    ("Umbrella Health", "umbrella"),
    ("Stark Industries", "stark"),
    ("Wayne Enterprises", "wayne"),
    ("Hooli", "hooli"),
    ("Soylent Foods", "soylent"),
]
PEOPLE = ["alice.admin", "bob.sales", "carol.sales", "dan.support", "erin.ops", "frank.finance", "grace.cs"]
CLOUD_FIRST_OCTETS = [13, 18, 20, 34, 35, 40, 52, 54, 104, 146, 159, 162]
HOSTING_PREFIXES = ["3.239.45", "44.215.80", "5.161.98", "45.86.201", "193.233.21", "91.92.109"]
PROBE_AGENTS = ["python-requests/2.32.4", "curl/8.5.0", "Go-http-client/2.0", "okhttp/4.12.0", "Java/17.0.9"]
TOR_PREFIXES = ["185.220.101", "185.220.101", "185.220.100", "199.249.230", "104.244.73"]


@dataclass(frozen=True)
class Label:
    """Ground truth for one planted scenario: who, when, and from which addresses."""

    scenario: str
    kind: str  # "attack" or "benign"
    org_id: str
    entity_type: str  # "connected_app" or "user"
    entity_id: str  # the 15-char connected app id, or the 15-char user id
    entity_label: str
    start: datetime  # UTC, naive
    end: datetime
    ips: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The label as a JSON-ready dict (ISO timestamps)."""
        return {
            "scenario": self.scenario,
            "kind": self.kind,
            "org_id": self.org_id,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "entity_label": self.entity_label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "ips": list(self.ips),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Label:
        """The inverse of `to_json`."""
        return cls(
            scenario=str(data["scenario"]),
            kind=str(data["kind"]),
            org_id=str(data["org_id"]),
            entity_type=str(data["entity_type"]),
            entity_id=str(data["entity_id"]),
            entity_label=str(data["entity_label"]),
            start=datetime.fromisoformat(str(data["start"])),
            end=datetime.fromisoformat(str(data["end"])),
            ips=tuple(str(ip) for ip in cast(list[str], data.get("ips") or [])),
        )


def load_labels(path: Path) -> list[Label]:
    """Labels from a `labels.json` written by `generate_scenarios`."""
    return [Label.from_json(item) for item in json.loads(path.read_text())]


# (ts ms, app, user id, ip, kind, entity, status, job id, api version, client name, auto login)
CallRow = tuple[int, int, str, str, int, str, int, str | None, str | None, str | None, bool]
# (ts ms, user id, user name, ip, login status, agent, oauth, login sub type)
LoginRow = tuple[int, str, str, str, str, str, bool, str]
# (ts ms, user id, ip, job id, operation, object, records, api version)
BulkRow = tuple[int, str, str, str, str, str, int, str]


@dataclass
class _App:
    """One integration: a connected app acting through its own integration user(s)."""

    index: int
    name: str
    app_id: str
    client_name: str
    kind: str
    users: list[tuple[str, str]]  # (user id, user name); each user acts through this app only
    ip_pool: list[str]  # every address it may use
    rotating: bool  # a cloud range: a few fresh addresses of its /24 each day
    ip_weights: np.ndarray  # over ip_pool, for fixed addresses
    daily: float  # mean calls per weekday at scale 1
    hour_weights: np.ndarray  # 24 weights over UTC hours
    profile: str  # business, nightly or 24x7
    weekend_factor: float  # 0 for weekday-only apps
    objects: list[str]
    object_weights: np.ndarray
    write_share: float
    error_rate: float
    api_version: str
    describes: bool  # a few describes at the start of each day's sync
    bulk_query: bool  # a routine bulk query job a day (never deleted)
    bulk_ingest: bool  # a routine bulk upsert job a day
    bulk_cleanup: bool = False  # bulk query job, results, delete: every day
    login_rate: float = 1 / 400  # token logins per call
    login_fail: float = 0.002
    mult: np.ndarray = field(default_factory=lambda: np.ones(0))  # per-day volume factor
    day_mask: np.ndarray = field(default_factory=lambda: np.ones(0, bool))  # days it may run
    error_by_day: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hour_override: dict[int, np.ndarray] = field(default_factory=dict)
    new_address: tuple[int, str, float] | None = None  # (from day, address, share)
    blip: tuple[int, int, float] | None = None  # (day, hour, error share)
    used: bool = False  # carries a scenario already
    rotation: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # daily /24 offset


@dataclass
class _Org:
    index: int
    org_id: str
    name: str
    domain: str
    tz: int
    old_layout: bool
    apps: list[_App] = field(default_factory=list)
    humans: list[tuple[str, str, str, str]] = field(default_factory=list)  # (user id, name, office, home)
    call_rows: list[CallRow] = field(default_factory=list)
    login_rows: list[LoginRow] = field(default_factory=list)
    bulk_rows: list[BulkRow] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)


def _rng(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, *parts])


def _random_id(rng: np.random.Generator, prefix: str, length: int = 15) -> str:
    chars = ID_ALPHABET[rng.integers(0, len(ID_ALPHABET), length - len(prefix))]
    return prefix + chars.tobytes().decode()


def _request_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = REQUEST_ALPHABET[rng.integers(0, len(REQUEST_ALPHABET), (n, 22))]
    return np.ascontiguousarray(codes).view("S22").ravel().astype("U22")


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _moment(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=int(ms))


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())[:12]


class _Builder:
    """Plans the orgs, plants the scenarios, then renders and writes the files."""

    def __init__(self, seed: int, scale: float, days: int, orgs: int, end_date: date) -> None:
        self.seed, self.scale, self.days, self.end_date = seed, scale, days, end_date
        self.first = end_date - timedelta(days=days - 1)
        self.first_ms = _ms(datetime.combine(self.first, datetime.min.time()))
        self.dates = [self.first + timedelta(days=d) for d in range(days)]
        self.weekday = np.array([d.weekday() for d in self.dates])
        self.used_names: set[str] = set()
        self.orgs: list[_Org] = []
        for index in range(orgs):
            self.orgs.append(self._plan_org(index))
        # Attacks land in the last two weeks, with at least eight days of history before them.
        self.attack_lo = max(8, days - 14)
        self.attack_hi = days - 1

    # ------------------------------------------------------------------ planning

    def day_start(self, day: int) -> datetime:
        return datetime.combine(self.dates[0], datetime.min.time()) + timedelta(days=day)

    def _plan_org(self, index: int) -> _Org:
        rng = _rng(self.seed, 100, index)
        pick = ORG_NAMES[int(rng.integers(0, len(ORG_NAMES)))]
        name, domain = pick
        if any(o.domain == domain for o in self.orgs):
            name, domain = f"{name} {index}", f"{domain}{index}"
        org = _Org(
            index,
            _random_id(rng, "00D"),
            name,
            domain,
            tz=int(rng.choice([-8, -6, -5, 0, 1])),
            old_layout=bool(rng.random() < 0.3),
        )
        for _ in range(int(rng.integers(3, 9))):
            self._add_app(org, rng, kind=str(rng.choice(["etl", "marketing", "cs", "sales", "finance"])))
        for person in rng.choice(PEOPLE, int(rng.integers(3, 7)), replace=False):
            office = (
                f"64.{int(rng.integers(20, 200))}.{int(rng.integers(0, 255))}.{int(rng.integers(2, 250))}"
            )
            home = f"73.{int(rng.integers(0, 255))}.{int(rng.integers(0, 255))}.{int(rng.integers(2, 250))}"
            org.humans.append((_random_id(rng, "005"), f"{person}@{domain}.com", office, home))
        base = API_TOTAL_USAGE_COLUMNS_OLD if org.old_layout else API_TOTAL_USAGE_COLUMNS
        for event_type, columns in (
            ("ApiTotalUsage", base),
            ("Login", LOGIN_COLUMNS),
            ("BulkApi2", BULK_API2_COLUMNS),
        ):
            rest = [c for c in columns if c != "EVENT_TYPE"]
            org.columns[event_type] = ["EVENT_TYPE", *[rest[i] for i in rng.permutation(len(rest))]]
        return org

    def _hours(self, org: _Org, rng: np.random.Generator, profile: str) -> np.ndarray:
        weights = np.zeros(24)
        if profile == "business":
            start = (8 - org.tz + int(rng.integers(-1, 2))) % 24
            for h in range(int(rng.integers(8, 11))):
                weights[(start + h) % 24] = 1.0
        elif profile == "nightly":
            start = (int(rng.integers(0, 5)) - org.tz) % 24
            for h in range(int(rng.integers(1, 5))):
                weights[(start + h) % 24] = 1.0
        else:
            peak = (14 - org.tz) % 24
            weights = 1 + 0.5 * np.cos(2 * np.pi * (np.arange(24) - peak) / 24)
        return weights / weights.sum()

    def _add_app(
        self,
        org: _Org,
        rng: np.random.Generator,
        kind: str,
        *,
        name: str | None = None,
        client_name: str | None = None,
        profile: str | None = None,
        daily: float | None = None,
        weekend_factor: float | None = None,
        rotating: bool | None = None,
        prefix: str | None = None,
    ) -> _App:
        if name is None:
            choices = [entry for entry in CATALOG[kind] if entry[0] not in self.used_names]
            if not choices:  # a second instance of a vendor, as orgs have for regions or sandboxes
                choices = [
                    (f"{n} {region}", c)
                    for n, c in CATALOG[kind]
                    for region in ("EU", "APAC", "Sandbox", "Prod 2")
                    if f"{n} {region}" not in self.used_names
                ] or [(f"{n} {len(self.used_names)}", c) for n, c in CATALOG[kind]]
            name, client_name = choices[int(rng.integers(0, len(choices)))]
        self.used_names.add(name)
        if profile is None:
            p = {"etl": [0.2, 0.6, 0.2], "finance": [0.7, 0.2, 0.1]}.get(kind, [0.4, 0.15, 0.45])
            profile = str(rng.choice(["business", "nightly", "24x7"], p=p))
        if daily is None:
            log_volume = float(np.clip(rng.normal(2.4, 0.55), 1.7, 4.3))
            if rng.random() < 0.02:
                log_volume = float(rng.uniform(4.3, 5.0))  # now and then a very busy integration
            daily = 10**log_volume
        if weekend_factor is None:
            weekend_factor = 0.0 if rng.random() < 0.25 else float(rng.uniform(0.4, 1.0))
        if rotating is None:
            rotating = kind in ("sales", "marketing") and rng.random() < 0.5
        if prefix is None:
            prefix = f"{int(rng.choice(CLOUD_FIRST_OCTETS))}.{int(rng.integers(1, 255))}.{int(rng.integers(0, 255))}"
        if rotating:
            pool = [f"{prefix}.{o}" for o in range(1, 255)]
            weights = np.full(len(pool), 1 / len(pool))
        else:
            octets = rng.choice(np.arange(2, 250), int(rng.integers(1, 5)), replace=False)
            pool = [f"{prefix}.{int(o)}" for o in octets]
            weights = rng.dirichlet(np.full(len(pool), 3.0))
        pool_objects = OBJECTS[kind]
        objects = list(
            rng.choice(pool_objects, int(rng.integers(2, min(6, len(pool_objects)) + 1)), replace=False)
        )
        slug = _slug(name)
        users = [(_random_id(rng, "005"), f"{slug}.integration@{org.domain}.com")]
        if rng.random() < 0.3:
            users.append((_random_id(rng, "005"), f"{slug}.sync2@{org.domain}.com"))
        app = _App(
            index=len(org.apps),
            name=name,
            app_id=_random_id(rng, "0H4"),
            client_name=client_name or f"{slug}/1.0",
            kind=kind,
            users=users,
            ip_pool=pool,
            rotating=rotating,
            ip_weights=weights,
            daily=daily,
            hour_weights=self._hours(org, rng, profile),
            profile=profile,
            weekend_factor=weekend_factor,
            objects=[str(o) for o in objects],
            object_weights=rng.dirichlet(np.full(len(objects), 2.0)),
            write_share=float(rng.uniform(0.02, 0.4)),
            error_rate=float(10 ** rng.uniform(-3, -1.8)),
            api_version=f"{int(rng.integers(55, 63))}.0",
            describes=bool(rng.random() < 0.4),
            bulk_query=kind == "etl" and bool(rng.random() < 0.5),
            bulk_ingest=kind in ("etl", "finance") and bool(rng.random() < 0.5),
            mult=np.ones(self.days),
            day_mask=np.ones(self.days, bool),
        )
        app.error_by_day = np.full(self.days, app.error_rate)
        app.rotation = rng.integers(0, 250, self.days)
        org.apps.append(app)
        return app

    def free_app(self, org: _Org, rng: np.random.Generator, scheduled: bool = False) -> _App:
        """A base app carrying no scenario yet (a new one when all are taken)."""
        free = [a for a in org.apps if not a.used]
        app = free[int(rng.integers(0, len(free)))] if free else None
        if app is None:
            app = self._add_app(org, rng, kind=str(rng.choice(list(CATALOG))))
        if scheduled and app.profile == "24x7":
            app.profile = str(rng.choice(["business", "nightly"]))
            app.hour_weights = self._hours(org, rng, app.profile)
        app.used = True
        return app

    def label(
        self,
        org: _Org,
        scenario: str,
        app: _App,
        start: datetime,
        end: datetime,
        ips: tuple[str, ...] = (),
    ) -> None:
        kind = "attack" if scenario in ATTACKS else "benign"
        # A labelled app makes at least a few dozen calls a day, so its scenario has rows to show.
        app.daily = max(app.daily, 30 / self.scale)
        org.labels.append(
            Label(scenario, kind, org.org_id, "connected_app", app.app_id, app.name, start, end, ips)
        )

    def call(
        self,
        org: _Org,
        app: _App,
        moment: datetime,
        ip: str,
        kind: int,
        entity: str = "",
        *,
        status: int | None = None,
        job: str | None = None,
        version: str | None = None,
        client: str | None = None,
        user: str | None = None,
    ) -> None:
        org.call_rows.append(
            (
                _ms(moment),
                app.index,
                user or app.users[0][0],
                ip,
                kind,
                entity,
                int(SUCCESS_OF_KIND[kind]) if status is None else status,
                job,
                version,
                client,
                False,
            )
        )

    def login(
        self,
        org: _Org,
        moment: datetime,
        user_id: str,
        user_name: str,
        ip: str,
        status: str = "LOGIN_NO_ERROR",
        agent: str = "python-requests/2.31.0",
        oauth: bool = True,
        sub_type: str = "oauthrefreshtoken",
    ) -> None:
        org.login_rows.append((_ms(moment), user_id, user_name, ip, status, agent, oauth, sub_type))

    def bulk_query_job(
        self,
        org: _Org,
        app: _App,
        rng: np.random.Generator,
        start: datetime,
        ip: str,
        entity: str,
        records: int,
        *,
        delete: bool,
        version: str | None = None,
        client: str | None = None,
    ) -> datetime:
        """A Bulk API 2.0 query job: create, poll, fetch result pages, maybe delete. Returns its end."""
        job_id = _random_id(rng, "750")
        t = start
        self.call(org, app, t, ip, BULK_QUERY_CREATE, entity, version=version, client=client)
        for _ in range(int(rng.integers(2, 7))):
            t += timedelta(seconds=int(rng.integers(3, 15)))
            self.call(org, app, t, ip, BULK_QUERY_STATUS, entity, job=job_id, version=version, client=client)
        done = t
        for _ in range(min(40, 1 + records // 50_000)):
            t += timedelta(seconds=int(rng.integers(2, 8)), milliseconds=int(rng.integers(0, 1000)))
            self.call(org, app, t, ip, BULK_QUERY_RESULTS, entity, job=job_id, version=version, client=client)
        org.bulk_rows.append(
            (_ms(done), app.users[0][0], ip, job_id, "query", entity, records, version or app.api_version)
        )
        if delete:
            t += timedelta(seconds=int(rng.integers(5, 60)))
            self.call(org, app, t, ip, BULK_QUERY_DELETE, entity, job=job_id, version=version, client=client)
        return t

    def bulk_ingest_job(
        self,
        org: _Org,
        app: _App,
        rng: np.random.Generator,
        start: datetime,
        ip: str,
        entity: str,
        records: int,
    ) -> None:
        job_id = _random_id(rng, "750")
        t = start
        self.call(org, app, t, ip, BULK_INGEST_CREATE, entity)
        for _ in range(max(1, min(10, records // 10_000))):
            t += timedelta(seconds=int(rng.integers(1, 6)))
            self.call(org, app, t, ip, BULK_INGEST_UPLOAD, entity, job=job_id)
        t += timedelta(seconds=int(rng.integers(1, 5)))
        self.call(org, app, t, ip, BULK_INGEST_CLOSE, entity, job=job_id)
        for _ in range(int(rng.integers(1, 5))):
            t += timedelta(seconds=int(rng.integers(5, 30)))
            self.call(org, app, t, ip, BULK_INGEST_STATUS, entity, job=job_id)
        org.bulk_rows.append(
            (_ms(t), app.users[0][0], ip, job_id, "upsert", entity, records, app.api_version)
        )

    # ------------------------------------------------------------------ scenarios

    def plant(self, attacks: bool, benign: bool) -> None:
        rng = _rng(self.seed, 200)
        n = len(self.orgs)
        if benign:
            for scenario in BENIGN:
                org = self.orgs[int(rng.integers(0, n))]
                getattr(self, f"_benign_{scenario}")(org, _rng(self.seed, 300, BENIGN.index(scenario)))
        if attacks:
            if self.days < 10:
                raise ValueError("attack scenarios need at least 10 days of logs (8 days of history)")
            for scenario in ATTACKS:
                org = self.orgs[int(rng.integers(0, n))]
                getattr(self, f"_attack_{scenario}")(org, _rng(self.seed, 400, ATTACKS.index(scenario)))

    def _attack_day(self, rng: np.random.Generator, length: int = 1) -> int:
        return int(rng.integers(self.attack_lo, max(self.attack_lo, self.attack_hi - length + 1) + 1))

    def _ip_on(self, app: _App, day: int, rng: np.random.Generator) -> str:
        """One of the addresses the app uses on this day."""
        if app.rotating:
            return app.ip_pool[(app.rotation[day] + int(rng.integers(0, 4))) % len(app.ip_pool)]
        return app.ip_pool[int(np.argmax(app.ip_weights))]

    def _busy_hour(self, app: _App, rng: np.random.Generator) -> int:
        hours = np.flatnonzero(app.hour_weights >= app.hour_weights.max() * 0.7)
        return int(rng.choice(hours))

    def _attack_stolen_token_night_anonymizer(self, org: _Org, rng: np.random.Generator) -> None:
        app = self.free_app(org, rng, scheduled=True)
        day = self._attack_day(rng)
        quiet = [h for h in range(24) if all(app.hour_weights[(h + k) % 24] == 0 for k in range(-1, 4))]
        night = [h for h in quiet if (h + org.tz) % 24 < 6] or quiet  # the org's local night first
        hour = int(rng.choice(night)) if night else int(np.argmin(app.hour_weights))
        tor = [
            f"{TOR_PREFIXES[int(rng.integers(0, len(TOR_PREFIXES)))]}.{int(rng.integers(2, 255))}"
            for _ in range(int(rng.integers(1, 3)))
        ]
        hosting = (
            HOSTING_IOC_IP if rng.random() < 0.5 else f"{rng.choice(HOSTING_PREFIXES)}.{rng.integers(2, 255)}"
        )
        addresses = [*tor, hosting]
        user_id, user_name = app.users[0]
        version, client = (
            "58.0",
            str(rng.choice(["", "python-requests/2.32.4", "Salesforce-Multi-Org-Fetcher/1.0"])),
        )
        t = self.day_start(day) + timedelta(hours=hour, minutes=int(rng.integers(0, 40)))
        start = t
        self.login(
            org, t, user_id, user_name, str(rng.choice(addresses)), agent=client or "python-requests/2.32.4"
        )
        never = [o for o in SENSITIVE_OBJECTS if o not in app.objects]
        targets = [str(o) for o in rng.choice(never, min(len(never), int(rng.integers(3, 6))), replace=False)]
        for _ in range(int(rng.integers(1, 4))):
            ip = str(rng.choice(addresses))
            t += timedelta(seconds=int(rng.integers(2, 9)))
            self.call(org, app, t, ip, LIST, version=version, client=client)
            t += timedelta(seconds=int(rng.integers(2, 9)))
            self.call(org, app, t, ip, LIMITS, version=version, client=client)
            for entity in targets:
                t += timedelta(seconds=int(rng.integers(1, 6)))
                self.call(org, app, t, ip, DESCRIBE, entity, version=version, client=client)
        reads = int(np.clip(app.daily * self.scale * rng.uniform(0.3, 1.5), 150, 20_000))
        span_ms = int(rng.integers(1, 3)) * HOUR_MS
        offsets = np.sort(rng.integers(0, span_ms, reads))
        base = _ms(t)
        chosen = rng.integers(0, len(addresses), reads)
        entities = rng.integers(0, len(targets), reads)
        for offset, a, e in zip(offsets.tolist(), chosen.tolist(), entities.tolist(), strict=True):
            org.call_rows.append(
                (
                    base + 1000 + offset,
                    app.index,
                    user_id,
                    addresses[a],
                    QUERY,
                    targets[e],
                    200,
                    None,
                    version,
                    client,
                    False,
                )
            )
        t = _moment(base + 1000 + int(offsets[-1]))
        if rng.random() < 0.5:
            records = int(rng.integers(20_000, 200_000))
            t = self.bulk_query_job(
                org,
                app,
                rng,
                t + timedelta(seconds=30),
                tor[0],
                targets[0],
                records,
                delete=bool(rng.random() < 0.5),
                version=version,
                client=client,
            )
        self.label(org, "stolen_token_night_anonymizer", app, start, t, tuple(addresses))

    def _attack_schedule_shift(self, org: _Org, rng: np.random.Generator) -> None:
        app = self.free_app(org, rng, scheduled=True)
        length = int(rng.integers(2, 5))
        day = self._attack_day(rng, length)
        shifted = np.roll(app.hour_weights, int(rng.integers(6, 13)))
        for d in range(day, min(self.days, day + length)):
            app.hour_override[d] = shifted
        end = self.day_start(min(self.days, day + length))
        self.label(org, "schedule_shift", app, self.day_start(day), end)

    def _attack_error_creep(self, org: _Org, rng: np.random.Generator) -> None:
        app = self.free_app(org, rng)
        app.daily = max(app.daily, 200 / self.scale)  # a creep needs enough calls to show a rate
        length = int(rng.integers(5, 8))
        day = self._attack_day(rng, length)
        last = min(self.days, day + length)
        app.error_by_day[day:last] = np.linspace(0.02, 0.18, length)[: last - day]
        self.label(org, "error_creep", app, self.day_start(day), self.day_start(last))

    def _attack_dormant_wakeup(self, org: _Org, rng: np.random.Generator) -> None:
        app = self._add_app(org, rng, kind=str(rng.choice(list(CATALOG))))
        app.used = True
        wake = self._attack_day(rng)
        last_early = int(np.clip(wake - 21 - int(rng.integers(0, 4)), 1, 5))
        app.day_mask[:] = False
        app.day_mask[: last_early + 1] = True
        stop = min(self.days, wake + int(rng.integers(1, 4)))
        app.day_mask[wake:stop] = True
        app.weekend_factor = max(app.weekend_factor, 0.5)
        app.mult[wake:stop] = rng.uniform(1.0, 3.0)
        self.label(org, "dormant_wakeup", app, self.day_start(wake), self.day_start(stop))

    def _attack_recon_export_known_app(self, org: _Org, rng: np.random.Generator) -> None:
        app = self.free_app(org, rng)
        app.weekend_factor = max(app.weekend_factor, 0.5)  # so the chosen day is a working day
        day = self._attack_day(rng)
        hour = self._busy_hour(app, rng)
        ip = self._ip_on(app, day, rng)
        t = self.day_start(day) + timedelta(hours=hour, minutes=int(rng.integers(0, 30)))
        start = t
        self.call(org, app, t, ip, LIST)
        t += timedelta(seconds=int(rng.integers(1, 5)))
        self.call(org, app, t, ip, LIMITS)
        pool = sorted(set(SENSITIVE_OBJECTS) | set(app.objects))
        targets = [str(o) for o in rng.choice(pool, min(len(pool), int(rng.integers(6, 11))), replace=False)]
        for entity in targets:
            t += timedelta(seconds=int(rng.integers(1, 5)))
            self.call(org, app, t, ip, DESCRIBE, entity)
        typical = app.daily * self.scale * 10
        for entity in targets[: int(rng.integers(1, 4))]:
            records = int(max(100_000, 10 * typical) * rng.uniform(1, 3))
            t = self.bulk_query_job(
                org,
                app,
                rng,
                t + timedelta(seconds=int(rng.integers(10, 60))),
                ip,
                entity,
                records,
                delete=True,
            )
        self.label(org, "recon_export_known_app", app, start, t)

    def _attack_probe_401_then_access(self, org: _Org, rng: np.random.Generator) -> None:
        app = self.free_app(org, rng)
        day = self._attack_day(rng)
        prefix = rng.choice(["91.92.{}", "45.141.{}", "196.251.{}", "102.129.{}", "5.181.{}"])
        ip = f"{str(prefix).format(int(rng.integers(0, 255)))}.{int(rng.integers(2, 255))}"
        user_id, user_name = app.users[0]
        t = self.day_start(day) + timedelta(hours=int(rng.integers(0, 24)), minutes=int(rng.integers(0, 40)))
        start = t
        failures = int(rng.integers(20, 81))
        span = int(rng.integers(120, 480)) * 1000
        offsets = np.sort(rng.integers(0, span, failures))
        statuses = ["LOGIN_ERROR_INVALID_PASSWORD", "LOGIN_OAUTH_INVALID_TOKEN"]
        agent = str(rng.choice(PROBE_AGENTS))
        for offset in offsets.tolist():
            status = statuses[int(rng.integers(0, 2))]
            self.login(
                org,
                t + timedelta(milliseconds=offset),
                user_id,
                user_name,
                ip,
                status,
                agent,
                sub_type="oauthpassword",
            )
        for offset in np.sort(rng.integers(0, span, int(rng.integers(5, 20)))).tolist():
            self.call(
                org,
                app,
                t + timedelta(milliseconds=offset),
                ip,
                QUERY,
                str(rng.choice(app.objects)),
                status=401,
            )
        t += timedelta(milliseconds=span + int(rng.integers(5_000, 60_000)))
        self.login(org, t, user_id, user_name, ip, agent=agent, sub_type="oauthpassword")
        reads = int(np.clip(app.daily * self.scale * rng.uniform(0.2, 1.0), 100, 5000))
        objects = sorted(set(app.objects) | {"User", "Contact"})
        offsets = np.sort(rng.integers(1000, int(rng.integers(30, 90)) * 60_000, reads))
        entities = rng.integers(0, len(objects), reads)
        base = _ms(t)
        for offset, e in zip(offsets.tolist(), entities.tolist(), strict=True):
            org.call_rows.append(
                (base + offset, app.index, user_id, ip, QUERY, objects[e], 200, None, None, None, False)
            )
        self.label(org, "probe_401_then_access", app, start, _moment(base + int(offsets[-1])), (ip,))

    def _attack_pull_10x(self, org: _Org, rng: np.random.Generator) -> None:
        app = self.free_app(org, rng)
        day = self._attack_day(rng)
        app.weekend_factor = max(app.weekend_factor, 0.5)
        app.day_mask[day] = True
        app.mult[day] = 10.0 / (app.weekend_factor if self.weekday[day] >= 5 else 1.0)
        self.label(org, "pull_10x", app, self.day_start(day), self.day_start(day + 1))

    def _attack_lookalike_app(self, org: _Org, rng: np.random.Generator) -> None:
        original = org.apps[int(rng.integers(0, len(org.apps)))]
        variants = [
            original.name,
            original.name.replace(" ", "  ", 1) if " " in original.name else original.name + " ",
            original.name + " ",
            original.name[:-1] + original.name[-1].swapcase(),
        ]
        name = variants[int(rng.integers(0, len(variants)))]
        day = self._attack_day(rng)
        host = f"{rng.choice(HOSTING_PREFIXES)}"
        app = self._add_app(
            org,
            rng,
            original.kind,
            name=name,
            client_name=original.client_name,
            profile="24x7" if rng.random() < 0.5 else original.profile,
            daily=original.daily * float(rng.uniform(0.3, 1.0)) + 100,
            weekend_factor=1.0,
            rotating=False,
            prefix=host,
        )
        self.used_names.add(original.name)
        app.used = True
        app.users = [(app.users[0][0], f"{_slug(name)}.svc@{org.domain}.com")]
        app.objects = sorted(set(app.objects) | {"Contact", "Account", "User"})
        app.object_weights = rng.dirichlet(np.full(len(app.objects), 2.0))
        app.day_mask[:day] = False
        self.label(
            org, "lookalike_app", app, self.day_start(day), self.day_start(self.days), tuple(app.ip_pool)
        )

    def _whole_span(self) -> tuple[datetime, datetime]:
        return self.day_start(min(7, self.days - 1)), self.day_start(self.days)

    def _benign_close_cycle(self, org: _Org, rng: np.random.Generator) -> None:
        app = self._add_app(org, rng, "finance", profile="business", weekend_factor=0.0)
        app.used = True
        for d, day in enumerate(self.dates):
            if _is_close_day(day):
                app.mult[d] = rng.uniform(4.0, 6.0)
        self.label(org, "close_cycle", app, *self._whole_span())

    def _benign_steady_growth(self, org: _Org, rng: np.random.Generator) -> None:
        app = self._add_app(org, rng, str(rng.choice(["marketing", "sales", "cs"])))
        app.used = True
        app.daily = min(app.daily, 3000)
        app.mult = 1.03 ** np.arange(self.days)
        self.label(org, "steady_growth", app, *self._whole_span())

    def _benign_weekday_and_weekly_jobs(self, org: _Org, rng: np.random.Generator) -> None:
        weekday = self._add_app(
            org, rng, str(rng.choice(list(CATALOG))), profile="business", weekend_factor=0.0
        )
        weekday.used = True
        self.label(org, "weekday_and_weekly_jobs", weekday, *self._whole_span())
        weekly = self._add_app(
            org, rng, "etl", profile="nightly", daily=float(rng.uniform(2000, 10_000)), weekend_factor=0.0
        )
        weekly.used = True
        weekly.day_mask = self.weekday == 1  # Tuesdays only
        self.label(org, "weekday_and_weekly_jobs", weekly, *self._whole_span())

    def _benign_routine_bulk_cleanup(self, org: _Org, rng: np.random.Generator) -> None:
        app = self._add_app(org, rng, "etl", profile="nightly", weekend_factor=1.0)
        app.used = True
        app.bulk_cleanup = True
        app.describes = True
        app.bulk_query = False
        self.label(org, "routine_bulk_cleanup", app, *self._whole_span())

    def _benign_background_auth_failures(self, org: _Org, rng: np.random.Generator) -> None:
        app = self._add_app(
            org,
            rng,
            str(rng.choice(["sales", "marketing"])),
            profile="24x7",
            daily=float(10 ** rng.uniform(3.3, 3.9)),
            weekend_factor=float(rng.uniform(0.6, 1.0)),
            rotating=False,
        )
        app.used = True
        app.login_rate = 1 / 100
        app.login_fail = float(rng.uniform(0.02, 0.05))
        self.label(org, "background_auth_failures", app, *self._whole_span())

    def _benign_vendor_new_address_same_network(self, org: _Org, rng: np.random.Generator) -> None:
        app = self._add_app(org, rng, str(rng.choice(list(CATALOG))), rotating=False, weekend_factor=1.0)
        app.used = True
        day = self._attack_day(rng)
        prefix = app.ip_pool[0].rsplit(".", 1)[0]
        taken = {int(ip.rsplit(".", 1)[1]) for ip in app.ip_pool}
        octet = int(rng.choice([o for o in range(2, 250) if o not in taken]))
        address = f"{prefix}.{octet}"
        app.new_address = (day, address, float(rng.uniform(0.2, 0.5)))
        self.label(
            org,
            "vendor_new_address_same_network",
            app,
            self.day_start(day),
            self.day_start(self.days),
            (address,),
        )

    def _benign_isolated_5xx_blip(self, org: _Org, rng: np.random.Generator) -> None:
        app = self._add_app(org, rng, str(rng.choice(list(CATALOG))), weekend_factor=1.0)
        app.used = True
        app.daily = max(app.daily, 300 / self.scale)
        day = self._attack_day(rng)
        hour = self._busy_hour(app, rng)
        app.blip = (day, hour, float(rng.uniform(0.4, 0.8)))
        start = self.day_start(day) + timedelta(hours=hour)
        self.label(org, "isolated_5xx_blip", app, start, start + timedelta(hours=1))

    def _benign_level_shift_holds(self, org: _Org, rng: np.random.Generator) -> None:
        app = self._add_app(org, rng, str(rng.choice(list(CATALOG))))
        app.used = True
        app.daily = min(app.daily, 5000)
        shift = max(1, self.days - int(rng.integers(10, 14)))
        app.mult[shift:] = 2.5
        self.label(org, "level_shift_holds", app, self.day_start(shift), self.day_start(self.days))

    # ------------------------------------------------------------------ rendering

    def app_calls(self, org: _Org, app: _App) -> pl.DataFrame | None:
        """Every routine call of one app over the whole period, vectorised."""
        rng = _rng(self.seed, 600, org.index, app.index)
        weekend = self.weekday >= 5
        mean = app.daily * self.scale * app.mult * np.where(weekend, app.weekend_factor, 1.0) * app.day_mask
        noise = rng.gamma(30.0, 1 / 30.0, self.days)
        counts = rng.poisson(mean * noise)
        n = int(counts.sum())
        if n == 0:
            return None
        day = np.repeat(np.arange(self.days), counts)
        hour = rng.choice(24, n, p=app.hour_weights)
        for d, weights in app.hour_override.items():
            rows = day == d
            hour[rows] = rng.choice(24, int(rows.sum()), p=weights)
        ts = self.first_ms + day.astype(np.int64) * DAY_MS + hour * HOUR_MS + rng.integers(0, HOUR_MS, n)
        if app.rotating:
            ip_index = (app.rotation[day] + rng.integers(0, 4, n)) % len(app.ip_pool)
        else:
            ip_index = rng.choice(len(app.ip_pool), n, p=app.ip_weights)
        ips = pl.Series(app.ip_pool).gather(ip_index)
        if app.new_address:
            from_day, address, share = app.new_address
            moved = (day >= from_day) & (rng.random(n) < share)
            ips = ips.scatter(np.flatnonzero(moved), address)
        write = rng.random(n) < app.write_share
        kind = np.where(
            write,
            np.where(rng.random(n) < 0.4, CREATE, UPDATE),
            np.where(rng.random(n) < 0.7, QUERY, RETRIEVE),
        ).astype(np.int8)
        errors = rng.random(n) < app.error_by_day[day]
        status = np.where(
            errors, ERROR_CODES[rng.choice(len(ERROR_CODES), n, p=ERROR_WEIGHTS)], SUCCESS_OF_KIND[kind]
        )
        if app.blip:
            blip_day, blip_hour, share = app.blip
            in_blip = (day == blip_day) & (hour == blip_hour) & (rng.random(n) < share)
            status = np.where(in_blip, np.array([500, 502, 503], np.int16)[rng.integers(0, 3, n)], status)
        users = pl.Series([u for u, _ in app.users]).gather(rng.integers(0, len(app.users), n))
        entity = pl.Series(app.objects).gather(rng.choice(len(app.objects), n, p=app.object_weights))
        frame = pl.DataFrame(
            {
                "ts": ts,
                "app": np.full(n, app.index, np.int32),
                "user_id": users,
                "ip": ips,
                "kind": kind,
                "entity": entity,
                "status": status.astype(np.int16),
                "job": pl.Series(dtype=pl.Utf8).extend_constant(None, n),
                "ver": pl.Series(dtype=pl.Utf8).extend_constant(None, n),
                "client": pl.Series(dtype=pl.Utf8).extend_constant(None, n),
                "auto_login": np.ones(n, bool),
            },
            schema=CALL_SCHEMA,
        )
        self._routine_jobs(org, app, rng, frame, counts)
        return frame

    def _routine_jobs(
        self, org: _Org, app: _App, rng: np.random.Generator, frame: pl.DataFrame, counts: np.ndarray
    ) -> None:
        """Describes at the start of each day's sync, and the app's daily bulk jobs."""
        if not (app.describes or app.bulk_query or app.bulk_ingest or app.bulk_cleanup):
            return
        firsts = (
            frame.with_columns(day=(pl.col("ts") - self.first_ms) // DAY_MS)
            .group_by("day", maintain_order=True)
            .agg(pl.col("ts").min(), pl.col("ip").first())
            .sort("day")
        )
        for day, first_ts, ip in firsts.iter_rows():
            start = _moment(first_ts - int(rng.integers(60_000, 300_000)))
            if app.bulk_cleanup:
                # The look-alike of recon then export: object list, limits and describes, every day.
                self.call(org, app, start, ip, LIST)
                start += timedelta(seconds=int(rng.integers(1, 4)))
                self.call(org, app, start, ip, LIMITS)
            if app.describes:
                for entity in app.objects:
                    start += timedelta(seconds=int(rng.integers(1, 4)))
                    self.call(org, app, start, ip, DESCRIBE, entity)
            records = int(max(1000, counts[day] * rng.uniform(5, 20)))
            if app.bulk_query or app.bulk_cleanup:
                for entity in app.objects[: 1 + int(app.bulk_cleanup)]:
                    start = self.bulk_query_job(
                        org,
                        app,
                        rng,
                        start + timedelta(seconds=20),
                        ip,
                        entity,
                        records,
                        delete=app.bulk_cleanup,
                    )
            if app.bulk_ingest:
                self.bulk_ingest_job(
                    org, app, rng, start + timedelta(seconds=30), ip, app.objects[0], records // 4
                )

    def render(self, org: _Org, outdir: Path, gzip: bool) -> list[Path]:
        frames = [f for f in (self.app_calls(org, app) for app in org.apps) if f is not None]
        if org.call_rows:
            frames.append(pl.DataFrame(org.call_rows, schema=CALL_SCHEMA, orient="row"))
        calls = pl.concat(frames).sort("ts", maintain_order=True)
        apps = pl.DataFrame(
            {
                "app": [a.index for a in org.apps],
                "app_id": [a.app_id for a in org.apps],
                "app_name": [a.name for a in org.apps],
                "app_client": [a.client_name for a in org.apps],
                "app_version": [a.api_version for a in org.apps],
                "login_rate": [a.login_rate for a in org.apps],
                "login_fail": [a.login_fail for a in org.apps],
            },
            schema_overrides={"app": pl.Int32},
        )
        users = pl.DataFrame(
            {
                "user_id": [u for a in org.apps for u, _ in a.users],
                "user_name": [name for a in org.apps for _, name in a.users],
            }
        )
        rng = _rng(self.seed, 700, org.index)
        calls = (
            calls.join(apps, on="app", how="left", maintain_order="left")
            .join(users, on="user_id", how="left", maintain_order="left")
            .with_columns(
                day=(pl.col("ts") - self.first_ms) // DAY_MS,
                record=pl.Series(rng.integers(10**11, 10**12, calls.height)).cast(pl.Utf8),
                draw=pl.Series(rng.random(calls.height)),
                fail_draw=pl.Series(rng.random(calls.height)),
            )
        )
        written = []
        written += self._write_type(org, outdir, "ApiTotalUsage", self._api_total_usage(org, calls), gzip)
        written += self._write_type(org, outdir, "Login", self._logins(org, calls, rng), gzip)
        written += self._write_type(org, outdir, "BulkApi2", self._bulk_api2(org), gzip)
        return written

    def _api_total_usage(self, org: _Org, calls: pl.DataFrame) -> pl.DataFrame:
        kind = pl.col("kind")
        v = pl.concat_str(pl.lit("/v"), pl.coalesce("ver", "app_version"))
        job = pl.col("job").fill_null("")
        resource = (
            pl.when(kind == QUERY)
            .then(pl.concat_str(v, pl.lit("/query")))
            .when(kind.is_in([RETRIEVE, UPDATE]))
            .then(pl.concat_str(v, pl.lit("/sobjects/"), "entity", pl.lit("/001"), "record"))
            .when(kind == CREATE)
            .then(pl.concat_str(v, pl.lit("/sobjects/"), "entity"))
            .when(kind == LIST)
            .then(pl.concat_str(v, pl.lit("/sobjects/")))
            .when(kind == DESCRIBE)
            .then(pl.concat_str(v, pl.lit("/sobjects/"), "entity", pl.lit("/describe/")))
            .when(kind == LIMITS)
            .then(pl.concat_str(v, pl.lit("/limits/")))
            .when(kind == BULK_QUERY_CREATE)
            .then(pl.concat_str(v, pl.lit("/jobs/query")))
            .when(kind.is_in([BULK_QUERY_STATUS, BULK_QUERY_DELETE]))
            .then(pl.concat_str(v, pl.lit("/jobs/query/"), job))
            .when(kind == BULK_QUERY_RESULTS)
            .then(pl.concat_str(v, pl.lit("/jobs/query/"), job, pl.lit("/results")))
            .when(kind == BULK_INGEST_CREATE)
            .then(pl.concat_str(v, pl.lit("/jobs/ingest")))
            .when(kind == BULK_INGEST_UPLOAD)
            .then(pl.concat_str(v, pl.lit("/jobs/ingest/"), job, pl.lit("/batches")))
            .otherwise(pl.concat_str(v, pl.lit("/jobs/ingest/"), job))
        )
        ts = pl.from_epoch("ts", time_unit="ms")
        stamp = ts.dt.strftime("%Y%m%d%H%M%S%.3f")
        frame = calls.select(
            "day",
            EVENT_TYPE=pl.lit("ApiTotalUsage"),
            TIMESTAMP=stamp.str.slice(0, 14) if org.old_layout else stamp,
            ORGANIZATION_ID=pl.lit(org.org_id),
            USER_ID="user_id",
            API_FAMILY=pl.when(kind >= BULK_QUERY_CREATE).then(pl.lit("Bulk")).otherwise(pl.lit("REST")),
            API_VERSION=pl.coalesce("ver", "app_version"),
            API_RESOURCE=resource,
            CLIENT_NAME=pl.coalesce("client", "app_client"),
            HTTP_METHOD=kind.replace_strict(dict(enumerate(METHOD_OF_KIND)), return_dtype=pl.Utf8),
            CLIENT_IP="ip",
            COUNTS_AGAINST_API_LIMIT=pl.lit("1"),
            CONNECTED_APP_ID="app_id",
            ENTITY_NAME="entity",
            STATUS_CODE=pl.col("status").cast(pl.Utf8),
            TIMESTAMP_DERIVED=ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            USER_NAME="user_name",
            CONNECTED_APP_NAME="app_name",
        )
        return frame

    def _logins(self, org: _Org, calls: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
        """Token logins just before a share of each integration user's calls (at least one a day),
        some failing; people's UI logins; and the scenarios' own login rows."""
        first_of_day = pl.col("ts") == pl.col("ts").min().over("user_id", "day")
        anchors = calls.filter(
            pl.col("auto_login") & (first_of_day | (pl.col("draw") < pl.col("login_rate")))
        )
        lead = pl.Series(rng.integers(1_000, 30_000, anchors.height))
        anchors = anchors.with_columns(ts=pl.col("ts") - lead)
        failed = anchors.filter(pl.col("fail_draw") < pl.col("login_fail")).with_columns(
            ts=pl.col("ts") - 2_000, status=pl.lit("LOGIN_OAUTH_INVALID_TOKEN")
        )
        oauth = pl.concat(
            [
                anchors.with_columns(status=pl.lit("LOGIN_NO_ERROR")).select(
                    "ts", "user_id", "user_name", "ip", "status"
                ),
                failed.select("ts", "user_id", "user_name", "ip", "status"),
            ]
        ).with_columns(
            agent=pl.lit("python-requests/2.31.0"), oauth=pl.lit(True), sub_type=pl.lit("oauthrefreshtoken")
        )
        people = []
        for user_id, user_name, office, home in org.humans:
            for d, day in enumerate(self.dates):
                if day.weekday() >= 5 and rng.random() > 0.1:
                    continue
                start = (8 - org.tz) % 24
                for _ in range(int(rng.integers(1, 4))):
                    moment = self.day_start(d) + timedelta(
                        hours=(start + int(rng.integers(0, 9))) % 24, seconds=int(rng.integers(0, 3600))
                    )
                    ip = office if rng.random() < 0.85 else home
                    if rng.random() < 0.03:
                        people.append(
                            (
                                _ms(moment) - 20_000,
                                user_id,
                                user_name,
                                ip,
                                "LOGIN_ERROR_INVALID_PASSWORD",
                                "Mozilla/5.0 Chrome/128.0",
                                False,
                                "",
                            )
                        )
                    people.append(
                        (
                            _ms(moment),
                            user_id,
                            user_name,
                            ip,
                            "LOGIN_NO_ERROR",
                            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Chrome/128.0",
                            False,
                            "",
                        )
                    )
        extra = pl.DataFrame(org.login_rows + people, schema=LOGIN_SCHEMA, orient="row")
        rows = pl.concat([oauth.select(list(LOGIN_SCHEMA)).cast(LOGIN_SCHEMA), extra]).sort(
            "ts", maintain_order=True
        )
        ts = pl.from_epoch("ts", time_unit="ms")
        oauth_flag = pl.col("oauth")
        return rows.select(
            day=(pl.col("ts") - self.first_ms) // DAY_MS,
            EVENT_TYPE=pl.lit("Login"),
            TIMESTAMP=ts.dt.strftime("%Y%m%d%H%M%S%.3f"),
            ORGANIZATION_ID=pl.lit(org.org_id),
            USER_ID="user_id",
            RUN_TIME=pl.lit("120"),
            CPU_TIME=pl.lit("40"),
            URI=pl.when(oauth_flag).then(pl.lit("/services/oauth2/token")).otherwise(pl.lit("/index.jsp")),
            SESSION_KEY=pl.lit(""),
            LOGIN_KEY=pl.lit(""),
            USER_TYPE=pl.lit("Standard"),
            REQUEST_STATUS=pl.lit(""),
            DB_TOTAL_TIME=pl.lit("1051271"),
            LOGIN_TYPE=pl.when(oauth_flag).then(pl.lit("i")).otherwise(pl.lit("A")),
            BROWSER_TYPE="agent",
            API_TYPE=pl.lit(""),
            API_VERSION=pl.lit("9998.0"),
            USER_NAME="user_name",
            TLS_PROTOCOL=pl.lit("TLSv1.3"),
            CIPHER_SUITE=pl.lit("TLS_AES_256_GCM_SHA384"),
            AUTHENTICATION_METHOD_REFERENCE=pl.lit(""),
            LOGIN_SUB_TYPE="sub_type",
            TIMESTAMP_DERIVED=ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            USER_ID_DERIVED=pl.col("user_id").map_elements(to18, return_dtype=pl.Utf8),
            CLIENT_IP=pl.when(oauth_flag).then(pl.lit("Salesforce.com IP")).otherwise(pl.col("ip")),
            URI_ID_DERIVED=pl.lit(""),
            LOGIN_STATUS="status",
            SOURCE_IP="ip",
        )

    def _bulk_api2(self, org: _Org) -> pl.DataFrame:
        rows = pl.DataFrame(org.bulk_rows, schema=BULK_SCHEMA, orient="row").sort("ts", maintain_order=True)
        ts = pl.from_epoch("ts", time_unit="ms")
        query = pl.col("operation") == "query"
        return rows.select(
            day=(pl.col("ts") - self.first_ms) // DAY_MS,
            EVENT_TYPE=pl.lit("BulkApi2"),
            TIMESTAMP=ts.dt.strftime("%Y%m%d%H%M%S%.3f"),
            ORGANIZATION_ID=pl.lit(org.org_id),
            USER_ID="user_id",
            RUN_TIME=(pl.col("records") // 40 + 500).cast(pl.Utf8),
            CPU_TIME=(pl.col("records") // 400 + 50).cast(pl.Utf8),
            URI=pl.concat_str(
                pl.lit("/services/data/v"),
                "version",
                pl.when(query).then(pl.lit("/jobs/query/")).otherwise(pl.lit("/jobs/ingest/")),
                "job_id",
            ),
            SESSION_KEY=pl.lit(""),
            LOGIN_KEY=pl.lit(""),
            JOB_ID="job_id",
            OPERATION_TYPE="operation",
            ENTITY_TYPE="entity",
            JOB_STATUS=pl.lit("JobComplete"),
            RECORDS_PROCESSED=pl.col("records").cast(pl.Utf8),
            RECORDS_FAILED=pl.lit("0"),
            RESULT_SIZE_MB=pl.lit(""),
            TIMESTAMP_DERIVED=ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            USER_ID_DERIVED=pl.col("user_id").map_elements(to18, return_dtype=pl.Utf8),
            CLIENT_IP="ip",
            URI_ID_DERIVED=pl.lit(""),
        )

    def _write_type(
        self, org: _Org, outdir: Path, event_type: str, frame: pl.DataFrame, gzip: bool
    ) -> list[Path]:
        folder = outdir / f"{org.domain}-{org.org_id}"
        folder.mkdir(parents=True, exist_ok=True)
        columns = org.columns[event_type]
        type_index = ["ApiTotalUsage", "Login", "BulkApi2"].index(event_type)
        written = []
        for (day,), part in frame.partition_by("day", as_dict=True, maintain_order=True).items():
            if not 0 <= int(day) < self.days or part.height == 0:
                continue
            d = int(day)
            rng = _rng(self.seed, 800, org.index, type_index, d)
            part = part.with_columns(REQUEST_ID=pl.Series(_request_ids(rng, part.height))).fill_null("")
            body = part.select(columns).write_csv(quote_style="always", line_terminator="\n").encode()
            name = f"{self.dates[d].isoformat()}_{event_type}.csv"
            if gzip:
                path = folder / (name + ".gz")
                path.write_bytes(gzip_module.compress(body, compresslevel=6, mtime=0))
            else:
                path = folder / name
                path.write_bytes(body)
            written.append(path)
        return written


CALL_SCHEMA = pl.Schema(
    {
        "ts": pl.Int64,
        "app": pl.Int32,
        "user_id": pl.Utf8,
        "ip": pl.Utf8,
        "kind": pl.Int8,
        "entity": pl.Utf8,
        "status": pl.Int16,
        "job": pl.Utf8,
        "ver": pl.Utf8,
        "client": pl.Utf8,
        "auto_login": pl.Boolean,
    }
)
LOGIN_SCHEMA = pl.Schema(
    {
        "ts": pl.Int64,
        "user_id": pl.Utf8,
        "user_name": pl.Utf8,
        "ip": pl.Utf8,
        "status": pl.Utf8,
        "agent": pl.Utf8,
        "oauth": pl.Boolean,
        "sub_type": pl.Utf8,
    }
)
BULK_SCHEMA = pl.Schema(
    {
        "ts": pl.Int64,
        "user_id": pl.Utf8,
        "ip": pl.Utf8,
        "job_id": pl.Utf8,
        "operation": pl.Utf8,
        "entity": pl.Utf8,
        "records": pl.Int64,
        "version": pl.Utf8,
    }
)


def _business_day_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _is_close_day(day: date) -> bool:
    """The 15th (or the business day before) and the last business day of the month."""
    mid = _business_day_on_or_before(day.replace(day=15))
    last = _business_day_on_or_before(day.replace(day=calendar.monthrange(day.year, day.month)[1]))
    return day in (mid, last)


def generate_scenarios(
    outdir: Path,
    *,
    seed: int,
    scale: float = 1.0,
    days: int = 45,
    orgs: int = 2,
    end_date: date = date(2025, 11, 21),
    attacks: bool = True,
    benign: bool = True,
    gzip: bool = False,
) -> list[Label]:
    """Write EventLogFile CSVs with planted, labelled scenarios into OUTDIR; return the labels
    (also written to OUTDIR/labels.json)."""
    if orgs < 1 or days < 2:
        raise ValueError("need at least one org and two days")
    outdir.mkdir(parents=True, exist_ok=True)
    builder = _Builder(seed, scale, days, orgs, end_date)
    builder.plant(attacks, benign)
    for org in builder.orgs:
        builder.render(org, outdir, gzip)
    labels = [label for org in builder.orgs for label in org.labels]
    (outdir / "labels.json").write_text(json.dumps([label.to_json() for label in labels], indent=1) + "\n")
    return labels
