"""Every detector, through a real store: Salesforce-dialect CSVs -> `workbench ingest` -> DuckDB ->
`run_scan`. Each detector has a firing case (the attack pattern, on the right entity, at medium or
above) and a quiet case (a benign look-alike of the same shape: nothing of that detector at medium
or above)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from netaddr import IPSet
from typer.testing import CliRunner

from tests.conftest import mmdb_writer, write_log
from workbench.cli import app
from workbench.config import Settings, load_settings
from workbench.detect import registry
from workbench.detect.scan import judged_days, run_scan
from workbench.findings import Finding, severity_rank
from workbench.sample.generator import (
    API_TOTAL_USAGE_COLUMNS,
    BULK_API2_COLUMNS,
    LOGIN_COLUMNS,
    REST_API_COLUMNS,
)
from workbench.store.db import open_store

runner = CliRunner()

ORG = "00D5g00000Acme1"
APP = "0H45g00000Sync1"
OTHER_APP = "0H45g00000Tool2"
USER = "0055g00000Sync1"
OTHER_USER = "0055g00000Evil9"
END = date(2025, 11, 20)  # a Thursday: the judged day of most cases
HOME_IP, TOR_IP = "52.1.1.1", "185.220.101.1"
HEADERS = {
    "ApiTotalUsage": API_TOTAL_USAGE_COLUMNS,
    "RestApi": REST_API_COLUMNS,
    "Login": LOGIN_COLUMNS,
    "BulkApi2": BULK_API2_COLUMNS,
}


# the data builder -----------------------------------------------------------------------------


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def days_before(end: date, count: int, weekdays_only: bool = False) -> list[date]:
    """The COUNT days before END (END excluded), oldest first."""
    days = [end - timedelta(days=n) for n in range(count, 0, -1)]
    return [d for d in days if not weekdays_only or d.weekday() < 5]


def stamps(ts: datetime) -> dict[str, str]:
    """TIMESTAMP and TIMESTAMP_DERIVED as Salesforce writes them."""
    millis = f"{ts.microsecond // 1000:03d}"
    return {
        "TIMESTAMP": ts.strftime("%Y%m%d%H%M%S.") + millis,
        "TIMESTAMP_DERIVED": ts.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z",
    }


class Logs:
    """Rows of ApiTotalUsage, RestApi, Login and BulkApi2 for one org, written as quoted CSVs and
    ingested through the CLI into a store in the test's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rows: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.count = 0
        self.connections: list[duckdb.DuckDBPyConnection] = []

    def _add(self, event_type: str, ts: datetime, values: dict[str, str]) -> None:
        self.count += 1
        self.rows[event_type].append(
            {"EVENT_TYPE": event_type, "REQUEST_ID": f"TID{self.count:07d}-aBcD_eFgH", "ORGANIZATION_ID": ORG}
            | stamps(ts)
            | values
        )

    def call(
        self,
        ts: datetime,
        *,
        app_id: str = APP,
        app_name: str = "Vendor Sync",
        user: str = USER,
        user_name: str = "sync@acme.com",
        ip: str = HOME_IP,
        entity: str = "Account",
        method: str = "GET",
        resource: str = "/v58.0/query",
        status: int = 200,
        family: str = "REST",
        client: str = "Vendor/1.0",
    ) -> None:
        """One ApiTotalUsage row."""
        self._add(
            "ApiTotalUsage",
            ts,
            {
                "USER_ID": user,
                "USER_NAME": user_name,
                "API_FAMILY": family,
                "API_VERSION": "58.0",
                "API_RESOURCE": resource,
                "CLIENT_NAME": client,
                "HTTP_METHOD": method,
                "CLIENT_IP": ip,
                "COUNTS_AGAINST_API_LIMIT": "1",
                "CONNECTED_APP_ID": app_id,
                "CONNECTED_APP_NAME": app_name,
                "ENTITY_NAME": entity,
                "STATUS_CODE": str(status),
            },
        )

    def hour(self, day: date, hour: int, calls: int, errors: int = 0, minute: int = 0, **kw: Any) -> None:
        """CALLS calls spread over one hour from MINUTE; the first ERRORS answered 500."""
        step = (3600 - minute * 60) // max(calls, 1)
        for n in range(calls):
            ts = at(day, hour, minute) + timedelta(seconds=n * step, milliseconds=123)
            self.call(ts, **(kw | ({"status": 500} if n < errors else {})))

    def daily(
        self, days: Iterable[date], hours: Iterable[int] = range(8, 18), calls: int = 10, **kw: Any
    ) -> None:
        """The same CALLS in each of HOURS on each of DAYS: a steady integration."""
        hours = list(hours)
        for day in days:
            for h in hours:
                self.hour(day, h, calls, **kw)

    def rest_call(self, ts: datetime, *, entity: str = "Account", ip: str = HOME_IP) -> None:
        """One RestApi row (no USER_NAME or CONNECTED_APP_NAME there; USER_AGENT is a code)."""
        self._add(
            "RestApi",
            ts,
            {
                "USER_ID": USER,
                "URI": "/services/data/v58.0/query",
                "METHOD": "GET",
                "STATUS_CODE": "200",
                "USER_AGENT": "1129",
                "ROWS_PROCESSED": "5",
                "ENTITY_NAME": entity,
                "CONNECTED_APP_ID": APP,
                "CLIENT_NAME": "Vendor/1.0",
                "CLIENT_IP": ip,
                "REQUEST_STATUS": "S",
            },
        )

    def login(
        self,
        ts: datetime,
        *,
        user: str = USER,
        user_name: str = "sync@acme.com",
        ip: str = HOME_IP,
        status: str = "LOGIN_NO_ERROR",
        agent: str = "Vendor/1.0",
    ) -> None:
        """One Login row (an OAuth token login: CLIENT_IP is Salesforce's, SOURCE_IP the caller)."""
        self._add(
            "Login",
            ts,
            {
                "USER_ID": user,
                "USER_NAME": user_name,
                "URI": "/services/oauth2/token",
                "LOGIN_TYPE": "i",
                "BROWSER_TYPE": agent,
                "API_VERSION": "9998.0",
                "CLIENT_IP": "Salesforce.com IP",
                "SOURCE_IP": ip,
                "LOGIN_STATUS": status,
                "USER_TYPE": "Standard",
            },
        )

    def bulk_job(
        self,
        ts: datetime,
        job_id: str,
        *,
        user: str = USER,
        operation: str = "query",
        entity: str = "Case",
        rows: int = 0,
        ip: str = HOME_IP,
    ) -> None:
        """One BulkApi2 job row."""
        kind = "query" if operation == "query" else "ingest"
        self._add(
            "BulkApi2",
            ts,
            {
                "USER_ID": user,
                "URI": f"/services/data/v58.0/jobs/{kind}/{job_id}",
                "JOB_ID": job_id,
                "OPERATION_TYPE": operation,
                "ENTITY_TYPE": entity,
                "JOB_STATUS": "JobComplete",
                "RECORDS_PROCESSED": str(rows),
                "RECORDS_FAILED": "0",
                "CLIENT_IP": ip,
            },
        )

    def store(self, geo: dict[str, Path] | None = None) -> duckdb.DuckDBPyConnection:
        """Write the CSVs, ingest them with `workbench ingest` (then `workbench enrich` with the GEO
        databases), open the store."""
        logs, db = self.folder / "logs", self.folder / "store.duckdb"
        for event_type, rows in self.rows.items():
            header = HEADERS[event_type]
            write_log(logs / f"{event_type}.csv", header, [[r.get(c, "") for c in header] for r in rows])
        result = runner.invoke(app, ["ingest", str(logs), "--db", str(db)])
        assert result.exit_code == 0, result.output
        assert "0 rows rejected" in result.output, result.output
        if geo:
            options = [f"--{kind}={path}" for kind, path in geo.items()]
            enriched = runner.invoke(app, ["enrich", "--db", str(db), *options])
            assert enriched.exit_code == 0, enriched.output
        con = open_store(db)
        self.connections.append(con)
        return con


@pytest.fixture
def new_logs(tmp_path: Path) -> Iterator[Callable[[], Logs]]:
    """Make a Logs in its own folder (a test may build several stores); closes their stores."""
    made: list[Logs] = []

    def make() -> Logs:
        made.append(Logs(tmp_path / f"store{len(made)}"))
        return made[-1]

    yield make
    for built in made:
        for con in built.connections:
            con.close()


@pytest.fixture
def logs(new_logs: Callable[[], Logs]) -> Logs:
    return new_logs()


def scan(
    con: duckdb.DuckDBPyConnection,
    settings: Settings | None = None,
    day: date | None = END,
    until: date | None = None,
) -> pl.DataFrame:
    """Findings of a scan judging DAY (to UNTIL), or every day with enough history (DAY None)."""
    days = judged_days(con, all_days=True) if day is None else judged_days(con, since=day, until=until or day)
    assert not days.empty and (day is None or days.first == day), days.describe()
    result = run_scan(con, settings or Settings(), days)
    assert result.failures == [], result.failures
    return result.findings


def summary(findings: pl.DataFrame) -> str:
    return "\n".join(
        f"{r['detector']} {r['severity']} {r['score']} {r['entity_type']}:{r['entity_id']} {r['explanation']}"
        for r in findings.iter_rows(named=True)
    )


def fired(
    findings: pl.DataFrame, detector: str, entity_id: str = APP, at_least: str = "medium"
) -> dict[str, Any]:
    """The strongest finding of DETECTOR on the entity; it must be at AT_LEAST."""
    mine = findings.filter((pl.col("detector") == detector) & (pl.col("entity_id") == entity_id))
    assert not mine.is_empty(), f"no {detector} on {entity_id}; findings:\n{summary(findings)}"
    best = mine.sort("score", descending=True).row(0, named=True)
    assert severity_rank(best["severity"]) >= severity_rank(at_least), summary(mine)
    return best


def quiet(findings: pl.DataFrame, detector: str) -> None:
    """No finding of DETECTOR at medium or above."""
    loud = findings.filter((pl.col("detector") == detector) & (pl.col("severity") != "low"))
    assert loud.is_empty(), summary(loud)


def catalog_settings(folder: Path, integrations: str) -> Settings:
    """Settings from a workbench.toml that points at this integrations.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "integrations.toml").write_text(integrations, encoding="utf-8")
    (folder / "workbench.toml").write_text('[detect]\nintegrations = "integrations.toml"\n', encoding="utf-8")
    return load_settings(folder / "workbench.toml")


def vendor_catalog(folder: Path, *lines: str, app_id: str = APP) -> Settings:
    body = "\n".join(lines)
    return catalog_settings(
        folder, f'[[integration]]\nname = "Vendor Sync"\nconnected_app_id = "{app_id}"\n{body}\n'
    )


# volume ---------------------------------------------------------------------------------------


def test_volume_spike_fires_on_a_sevenfold_day_for_the_app_and_the_org(logs: Logs) -> None:
    logs.daily(days_before(END, 28))
    logs.daily([END], calls=70)
    findings = scan(logs.store())
    spike = fired(findings, "volume_spike", APP, "high")
    assert spike["observed"] == 700 and spike["baseline"] == 100
    assert "700 calls on 2025-11-20" in spike["explanation"] and "7.0x" in spike["explanation"]
    fired(findings, "volume_spike", ORG)


def test_volume_spike_quiet_on_a_recurring_close_cycle_burst(logs: Logs) -> None:
    month_end = date(2025, 10, 31)
    close_days = {date(2025, 9, 29), date(2025, 9, 30), date(2025, 10, 1), date(2025, 10, 30), month_end}
    for day in days_before(month_end + timedelta(days=1), 61):
        logs.daily([day], calls=50 if day in close_days else 10)
    quiet(scan(logs.store(), day=date(2025, 10, 30), until=month_end), "volume_spike")


def test_volume_spike_first_month_end_is_low_and_silent_when_the_catalog_declares_it(
    logs: Logs, tmp_path: Path
) -> None:
    month_end = date(2025, 10, 31)
    logs.daily(days_before(month_end, 29))  # from Oct 2: no day of September's close in the history
    logs.daily([month_end], calls=70)
    con = logs.store()
    first = fired(scan(con, day=month_end), "volume_spike", APP, "low")
    assert first["severity"] == "low" and "first one in the history" in first["explanation"]
    declared = scan(con, vendor_catalog(tmp_path / "cfg", 'bursty_days = ["month_end"]'), day=month_end)
    assert declared.filter((pl.col("detector") == "volume_spike") & (pl.col("entity_id") == APP)).is_empty()


def test_volume_spike_quiet_on_steady_growth_and_low_on_a_new_level_held_for_days(
    new_logs: Callable[[], Logs],
) -> None:
    growing = new_logs()
    for n, day in enumerate([*days_before(END, 30), END]):
        growing.hour(day, 10, int(100 * 1.02**n))
    quiet(scan(growing.store(), day=None), "volume_spike")
    level = new_logs()
    level.daily(days_before(END - timedelta(days=3), 28))
    level.daily([*days_before(END, 3), END], calls=70)
    for f in scan(level.store()).filter(pl.col("detector") == "volume_spike").iter_rows(named=True):
        assert f["severity"] == "low" and "recent level" in f["explanation"]


def monthly_billing_run(logs: Logs) -> None:
    """A billing run that bursts sevenfold on the 20th of each month (not a close-cycle day)."""
    for day in [*days_before(END, 45), END]:
        logs.daily([day], calls=70 if day.day == 20 else 10)


def test_volume_spike_silent_on_a_burst_day_of_month_the_catalog_declares(logs: Logs, tmp_path: Path) -> None:
    monthly_billing_run(logs)
    declared = vendor_catalog(tmp_path / "cfg", "bursty_days = [20]")
    assert scan(logs.store(), declared).filter(pl.col("entity_id") == APP).is_empty()


def test_volume_spike_quiet_on_an_undeclared_burst_that_recurs_on_the_same_day_each_month(logs: Logs) -> None:
    monthly_billing_run(logs)
    quiet(scan(logs.store()), "volume_spike")


def test_hourly_burst_fires_on_a_burst_hour(logs: Logs) -> None:
    logs.daily([*days_before(END, 28), END])
    logs.hour(END, 12, 500, entity="Contact")
    burst = fired(scan(logs.store()), "hourly_burst", APP, "high")
    assert burst["observed"] == 510 and "510 calls in the hour from 2025-11-20 12:00" in burst["explanation"]


def test_hourly_burst_quiet_on_the_usual_nightly_batch_hour(logs: Logs) -> None:
    logs.daily(days_before(END, 28))
    logs.daily(days_before(END, 28), hours=[2], calls=300)
    logs.daily([END])
    logs.hour(END, 2, 330)
    quiet(scan(logs.store()), "hourly_burst")


def test_dormant_wakeup_fires_after_weeks_of_silence(logs: Logs) -> None:
    logs.daily(days_before(date(2025, 10, 27), 10))
    logs.hour(END, 3, 50)
    wake = fired(scan(logs.store()), "dormant_wakeup")
    assert "was silent for 24 days" in wake["explanation"]


def test_dormant_wakeup_quiet_on_a_monthly_job(logs: Logs) -> None:
    for day in (date(2025, 8, 20), date(2025, 9, 20), date(2025, 10, 20), END):
        logs.hour(day, 3, 50)
    quiet(scan(logs.store()), "dormant_wakeup")


def test_mass_export_fires_by_band_on_the_app_of_the_user(logs: Logs) -> None:
    logs.daily([*days_before(END, 28), END])
    logs.bulk_job(at(END, 2), "7505g00000Job01", entity="Case", rows=184_215, ip=TOR_IP)
    logs.bulk_job(at(END, 3), "7505g00000Job02", entity="User", rows=12_480, ip=TOR_IP)
    logs.bulk_job(at(END, 4), "7505g00000Job03", entity="Lead", rows=5_000, ip=TOR_IP)
    exports = scan(logs.store()).filter(pl.col("detector") == "mass_export")
    by_object = {r["evidence"]["entities"][0]: r for r in exports.iter_rows(named=True)}
    assert set(by_object) == {"Case", "User"}  # 5,000 rows is under the 10k band
    assert {r["entity_id"] for r in by_object.values()} == {APP}
    assert by_object["Case"]["severity"] in ("high", "critical") and by_object["User"]["severity"] == "medium"
    assert "exported 184,215 Case rows in bulk query job 7505g00000Job01" in by_object["Case"]["explanation"]


def test_mass_export_quiet_when_the_user_ran_the_same_export_last_week(logs: Logs) -> None:
    logs.daily([*days_before(END, 28), END])
    logs.bulk_job(at(END - timedelta(days=7), 2), "7505g00000Job01", entity="Case", rows=180_000)
    logs.bulk_job(at(END, 2), "7505g00000Job02", entity="Case", rows=184_215)
    assert scan(logs.store()).filter(pl.col("detector") == "mass_export").is_empty()


# temporal -------------------------------------------------------------------------------------


def test_off_hours_fires_on_calls_at_night(logs: Logs) -> None:
    logs.daily([*days_before(END, 28), END])
    logs.hour(END, 2, 40)
    night = fired(scan(logs.store()), "off_hours")
    assert "40 calls" in night["explanation"] and "02:00-03:00 UTC" in night["explanation"]
    assert "never used 02:00-03:00" in night["explanation"]


def test_off_hours_quiet_when_the_nightly_job_drifts_by_an_hour(logs: Logs) -> None:
    logs.daily([*days_before(END, 28), END])
    logs.daily(days_before(END, 28), hours=[2], calls=20)
    logs.hour(END, 3, 20)
    quiet(scan(logs.store()), "off_hours")


def test_off_hours_uses_declared_hours_and_weekdays(new_logs: Callable[[], Logs], tmp_path: Path) -> None:
    hours = new_logs()
    hours.daily([*days_before(END, 28), END])
    declared = vendor_catalog(tmp_path / "cfg", 'expected_hours = "08:00-12:00"')
    late = fired(scan(hours.store(), declared), "off_hours")
    assert "declared 08:00-12:00 UTC" in late["explanation"]
    saturday = date(2025, 11, 22)
    weekdays = new_logs()
    weekdays.daily(days_before(saturday, 35, weekdays_only=True))
    weekdays.hour(saturday, 10, 30)
    weekend = fired(scan(weekdays.store(), day=saturday), "off_hours")
    assert (
        "Saturday" in weekend["explanation"] and "not active on any of the previous" in weekend["explanation"]
    )


def test_schedule_shift_fires_when_the_nightly_job_moves_to_the_afternoon(logs: Logs) -> None:
    logs.daily(days_before(END, 28), hours=[2, 3], calls=100)
    logs.daily([END], hours=[14, 15], calls=100)
    shift = fired(scan(logs.store()), "schedule_shift")
    assert "a shift of 12.0 hours" in shift["explanation"]


def test_schedule_shift_quiet_when_the_job_starts_an_hour_late(logs: Logs) -> None:
    logs.daily(days_before(END, 28), hours=[2, 3], calls=100)
    logs.daily([END], hours=[3, 4], calls=100)
    quiet(scan(logs.store()), "schedule_shift")


# geography and identity -----------------------------------------------------------------------


def test_new_ip_fires_on_an_address_the_app_never_used(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 9, 10, ip=TOR_IP)
    new = fired(scan(logs.store()), "new_ip")
    assert new["evidence"]["ips"] == [TOR_IP] and HOME_IP in new["explanation"]


def test_new_ip_quiet_on_a_vendor_address_in_its_known_network(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 9, 10, ip="52.1.1.7")
    quiet(scan(logs.store()), "new_ip")


def test_new_ip_outside_declared_egress_scores_higher(logs: Logs, tmp_path: Path) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 9, 10, ip=TOR_IP)
    con = logs.store()
    plain = fired(scan(con), "new_ip")
    outside = fired(scan(con, vendor_catalog(tmp_path / "cfg", 'egress_cidrs = ["52.1.1.0/24"]')), "new_ip")
    assert outside["score"] > plain["score"] and "Outside the declared egress" in outside["explanation"]


def test_new_connected_app_fires_on_an_unknown_app_and_on_a_look_alike(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 1, 30, app_id=OTHER_APP, app_name="Data Export Tool", user=OTHER_USER, ip=TOR_IP)
    logs.hour(END, 2, 30, app_id="0H45g00000Fake3", app_name="Vendor-Sync", user=OTHER_USER, ip=TOR_IP)
    findings = scan(logs.store())
    unknown = fired(findings, "new_connected_app", OTHER_APP)
    assert "not in the catalog" in unknown["explanation"]
    twin = fired(findings, "new_connected_app", "0H45g00000Fake3", "high")
    assert "look-alike" in twin["explanation"] and APP in twin["explanation"]


def test_new_connected_app_quiet_on_a_declared_new_integration(logs: Logs, tmp_path: Path) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 10, 30, app_id=OTHER_APP, app_name="Data Export Tool", user=OTHER_USER)
    declared = catalog_settings(
        tmp_path / "cfg", f'[[integration]]\nname = "Data Export Tool"\nconnected_app_id = "{OTHER_APP}"\n'
    )
    quiet(scan(logs.store(), declared), "new_connected_app")


def stranger_on_a_single_user_app(logs: Logs) -> pl.DataFrame:
    logs.daily([*days_before(END, 28), END])
    logs.hour(END, 9, 10, user=OTHER_USER, user_name="attacker@evil.test")
    return scan(logs.store())


def test_new_user_for_app_fires_on_a_stranger_using_a_single_user_integration(logs: Logs) -> None:
    stranger = fired(stranger_on_a_single_user_app(logs), "new_user_for_app", at_least="low")
    assert "attacker@evil.test" in stranger["explanation"] and "used by 1 user(s)" in stranger["explanation"]


def test_new_user_for_app_a_stranger_on_a_single_user_integration_is_at_least_medium(logs: Logs) -> None:
    fired(stranger_on_a_single_user_app(logs), "new_user_for_app", at_least="medium")


def test_new_user_for_app_quiet_on_an_app_that_gains_users_every_few_days(logs: Logs) -> None:
    for n, day in enumerate(days_before(END, 28)):
        logs.daily([day], hours=[9, 10])
        logs.hour(day, 11, 5, user=f"0055g00000U{n // 2:04d}", user_name=f"rep{n // 2}@acme.com")
    logs.daily([END], hours=[9, 10])
    logs.hour(END, 11, 5, user="0055g00000New01", user_name="newrep@acme.com")
    quiet(scan(logs.store()), "new_user_for_app")


@pytest.fixture(scope="module")
def geo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny City, ASN and Anonymous-IP databases: 52.0.0.0/8 is AWS in Ashburn (hosting),
    185.220.101.0/24 a Tor exit network in Berlin."""
    folder = tmp_path_factory.mktemp("mmdb")
    city, asn, anon = (
        mmdb_writer("GeoLite2-City"),
        mmdb_writer("GeoLite2-ASN"),
        mmdb_writer("GeoIP2-Anonymous-IP"),
    )
    places = {
        "52.0.0.0/8": ("US", "United States", "Ashburn", 39.04, -77.49, 14618, "Amazon.com, Inc."),
        "185.220.101.0/24": ("DE", "Germany", "Berlin", 52.52, 13.41, 60729, "Stiftung Erneuerbare Freiheit"),
    }
    for network, (code, country, town, lat, lon, number, org) in places.items():
        city.insert_network(
            IPSet([network]),
            {
                "country": {"iso_code": code, "names": {"en": country}},
                "city": {"names": {"en": town}},
                "location": {"latitude": lat, "longitude": lon, "accuracy_radius": 20},
            },
        )
        asn.insert_network(
            IPSet([network]), {"autonomous_system_number": number, "autonomous_system_organization": org}
        )
    anon.insert_network(IPSet(["52.0.0.0/8"]), {"is_anonymous": True, "is_hosting_provider": True})
    anon.insert_network(IPSet(["185.220.101.0/24"]), {"is_anonymous": True, "is_tor_exit_node": True})
    paths = {}
    for name, writer in (("city", city), ("asn", asn), ("anon", anon)):
        paths[name] = folder / f"{name}.mmdb"
        writer.to_db_file(str(paths[name]))
    return paths


def usual_then_from(logs: Logs, ip: str, geo: dict[str, Path], hour: int = 2) -> pl.DataFrame:
    """20 days from the app's AWS address, then 12 calls from IP on the judged day; enriched."""
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, hour, 12, ip=ip)
    return scan(logs.store(geo))


def test_new_country_fires_on_calls_from_a_country_the_app_never_used(
    logs: Logs, geo: dict[str, Path]
) -> None:
    country = fired(usual_then_from(logs, TOR_IP, geo), "new_country")
    assert "new country" in country["explanation"] and "DE Germany" in country["explanation"]
    assert "US United States" in country["explanation"]


def test_new_country_quiet_on_a_new_address_in_the_same_country(logs: Logs, geo: dict[str, Path]) -> None:
    quiet(usual_then_from(logs, "52.9.9.9", geo), "new_country")


def test_new_asn_fires_on_calls_from_a_network_the_app_never_used(logs: Logs, geo: dict[str, Path]) -> None:
    network = fired(usual_then_from(logs, TOR_IP, geo), "new_asn")
    assert "AS60729 Stiftung Erneuerbare Freiheit" in network["explanation"]


def test_new_asn_quiet_on_a_new_address_in_the_same_cloud(logs: Logs, geo: dict[str, Path]) -> None:
    quiet(usual_then_from(logs, "52.9.9.9", geo), "new_asn")


def test_anonymizer_ip_fires_on_a_tor_exit(logs: Logs, geo: dict[str, Path]) -> None:
    tor = fired(usual_then_from(logs, TOR_IP, geo), "anonymizer_ip", at_least="high")
    assert "Tor exit" in tor["explanation"] and tor["evidence"]["ips"] == [TOR_IP]


def test_anonymizer_ip_quiet_on_the_apps_usual_cloud_hosting(logs: Logs, geo: dict[str, Path]) -> None:
    quiet(usual_then_from(logs, HOME_IP, geo), "anonymizer_ip")


def test_impossible_geography_fires_on_berlin_two_hours_after_ashburn(
    logs: Logs, geo: dict[str, Path]
) -> None:
    travel = fired(usual_then_from(logs, TOR_IP, geo, hour=20), "impossible_geography", at_least="high")
    assert "Ashburn, US" in travel["explanation"] and "Berlin, DE" in travel["explanation"]
    assert "km/h" in travel["explanation"]


def test_impossible_geography_quiet_when_a_flight_fits_between_the_calls(
    logs: Logs, geo: dict[str, Path]
) -> None:
    logs.daily([*days_before(END, 20), END], hours=[8, 9])
    logs.hour(END, 23, 12, minute=30, ip=TOR_IP)
    quiet(scan(logs.store(geo)), "impossible_geography")


def test_non_allowlisted_ip_fires_outside_the_declared_egress(logs: Logs, tmp_path: Path) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 2, 12, ip=TOR_IP)
    declared = vendor_catalog(tmp_path / "cfg", 'egress_cidrs = ["52.1.1.0/24"]')
    outside = fired(scan(logs.store(), declared), "non_allowlisted_ip", at_least="high")
    assert "outside the egress ranges declared for Vendor Sync (52.1.1.0/24)" in outside["explanation"]
    assert outside["evidence"]["ips"] == [TOR_IP]


def test_non_allowlisted_ip_quiet_inside_the_declared_egress(logs: Logs, tmp_path: Path) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 2, 12, ip="52.1.1.7")
    declared = vendor_catalog(tmp_path / "cfg", 'egress_cidrs = ["52.1.1.0/24"]')
    quiet(scan(logs.store(), declared), "non_allowlisted_ip")


# errors ---------------------------------------------------------------------------------------


def test_error_rate_jump_fires_on_a_day_of_errors(logs: Logs) -> None:
    logs.daily(days_before(END, 28))
    logs.daily([END], errors=3)
    jump = fired(scan(logs.store()), "error_rate_jump")
    assert "30.0% errors" in jump["explanation"] and "(30 of 100 calls)" in jump["explanation"]


def test_error_rate_jump_quiet_on_an_outage_blip_in_one_hour(logs: Logs) -> None:
    logs.daily(days_before(END, 28))
    logs.daily([END], hours=[h for h in range(8, 18) if h != 12])
    logs.hour(END, 12, 10, errors=10)
    quiet(scan(logs.store()), "error_rate_jump")


def failed_logins(logs: Logs, day: date, hour: int, count: int, ip: str = HOME_IP) -> None:
    for n in range(count):
        logs.login(at(day, hour) + timedelta(seconds=30 * n), ip=ip, status="LOGIN_ERROR_INVALID_PASSWORD")


def test_auth_failure_burst_fires_on_the_app_and_the_address(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    for day in days_before(END, 10):
        failed_logins(logs, day, 10, 1)
    failed_logins(logs, END, 3, 30, ip=TOR_IP)
    findings = scan(logs.store())
    for entity in (APP, TOR_IP):
        burst = fired(findings, "auth_failure_burst", entity)
        assert "30 authentication failures in the hour from 2025-11-20 03:00" in burst["explanation"]


def test_auth_failure_burst_quiet_on_the_daily_token_refresh_storm(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    for day in days_before(END, 14):
        failed_logins(logs, day, 6, 12)
    failed_logins(logs, END, 6, 15)
    quiet(scan(logs.store()), "auth_failure_burst")


def test_probe_then_success_fires_on_failures_then_a_login(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    failed_logins(logs, END, 1, 5, ip=TOR_IP)
    logs.login(at(END, 1, 12), ip=TOR_IP)
    probe = fired(scan(logs.store()), "probe_then_success", at_least="high")
    assert "5 authentication failures from the same" in probe["explanation"]
    assert TOR_IP in probe["evidence"]["ips"]


def test_probe_then_success_quiet_on_background_failures(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    # A misconfigured retry loop fails every 10 minutes, every day: three failures before a login are its norm.
    for day in days_before(END, 7):
        for n in range(144):
            logs.login(at(day, 0) + timedelta(minutes=10 * n), status="LOGIN_ERROR_INVALID_PASSWORD")
    failed_logins(logs, END, 1, 3)
    logs.login(at(END, 1, 5))
    quiet(scan(logs.store()), "probe_then_success")


# behaviour ------------------------------------------------------------------------------------


def test_new_object_access_fires_on_sensitive_objects(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 9, 12, entity="User")
    logs.hour(END, 9, 4, minute=30, entity="Task")
    new = fired(scan(logs.store()), "new_object_access")
    assert new["evidence"]["entities"] == ["User", "Task"] and "Sensitive: User" in new["explanation"]


def test_new_object_access_quiet_on_an_app_that_meets_new_objects_every_other_day(logs: Logs) -> None:
    for n, day in enumerate(days_before(END, 20)):
        logs.daily([day])
        logs.hour(day, 18, 5, entity=f"Metric{n // 2}__c")
    logs.daily([END])
    logs.hour(END, 18, 5, entity="Metric99__c")
    quiet(scan(logs.store()), "new_object_access")


def test_fan_out_fires_on_an_hour_touching_many_objects(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.daily([*days_before(END, 20), END], calls=5, entity="Contact")
    for n in range(8):
        logs.hour(END, 11, 3, minute=n, entity=f"Object{n}__c")
    wide = fired(scan(logs.store()), "fan_out")
    assert wide["observed"] == 10 and "touched 10 distinct objects" in wide["explanation"]


def test_fan_out_quiet_on_a_sync_that_always_touches_many_objects(logs: Logs) -> None:
    objects = ["Account", "Contact", "Lead", "Opportunity", "Task", "Event", "Product2", "Campaign"]
    for entity in objects:
        logs.daily([*days_before(END, 20), END], calls=1, entity=entity)
    logs.hour(END, 11, 1, entity="Pricebook2")
    quiet(scan(logs.store()), "fan_out")


# sequences ------------------------------------------------------------------------------------


def recon_and_export(logs: Logs, day: date, job_id: str, ip: str = HOME_IP) -> None:
    """Six describes, then a bulk query job of 50,000 rows within minutes."""
    for n in range(6):
        logs.call(at(day, 2) + timedelta(seconds=10 * n), resource="/v58.0/sobjects/Case/describe", ip=ip)
    logs.call(at(day, 2, 5), resource="/v58.0/jobs/query", method="POST", family="Bulk", entity="Case", ip=ip)
    logs.bulk_job(at(day, 2, 6), job_id, entity="Case", rows=50_000, ip=ip)


def test_recon_then_export_fires_on_a_first_describe_then_export(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    recon_and_export(logs, END, "7505g00000Job99", ip=TOR_IP)
    recon = fired(scan(logs.store()), "recon_then_export", at_least="high")
    assert (
        "6 reconnaissance calls (6 describe)" in recon["explanation"]
        and "50,000 rows" in recon["explanation"]
    )
    assert "never did this before" in recon["explanation"]


def test_recon_then_export_quiet_on_the_nightly_sync_that_always_does_it(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    for n, day in enumerate([*days_before(END, 5), END]):
        recon_and_export(logs, day, f"7505g00000Job{n:02d}")
    quiet(scan(logs.store()), "recon_then_export")


def bulk_job_lifecycle(logs: Logs, day: date, job_id: str, delete_after: timedelta | None, **kw: Any) -> None:
    """A bulk query job created, polled, read, and maybe deleted, as ApiTotalUsage calls (its
    lifetime counts from the first call that names it: the poll 20 seconds after the POST)."""
    start, path = at(day, 2), f"/v58.0/jobs/query/{job_id}"
    kw = {"family": "Bulk", "entity": "Case"} | kw
    logs.call(start, resource="/v58.0/jobs/query", method="POST", **kw)
    logs.call(start + timedelta(seconds=20), resource=path, **kw)
    logs.call(start + timedelta(seconds=40), resource=f"{path}/results", **kw)
    if delete_after is not None:
        logs.call(start + delete_after, resource=path, method="DELETE", status=204, **kw)


def test_bulk_job_deleted_fires_when_an_app_that_keeps_its_jobs_deletes_one(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    for n, day in enumerate(days_before(END, 5)):
        bulk_job_lifecycle(logs, day, f"7505g00000Job{n:02d}", None)
    bulk_job_lifecycle(logs, END, "7505g00000Job99", timedelta(seconds=90))
    deleted = fired(scan(logs.store()), "bulk_job_deleted", at_least="high")
    assert "7505g00000Job99" in deleted["explanation"] and "deleted after 1.2 min" in deleted["explanation"]


def test_bulk_job_deleted_quiet_on_routine_cleanup(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    for n, day in enumerate([*days_before(END, 5), END]):
        bulk_job_lifecycle(logs, day, f"7505g00000Job{n:02d}", timedelta(seconds=90))
    quiet(scan(logs.store()), "bulk_job_deleted")


# indicators and outliers ----------------------------------------------------------------------


def test_suspicious_client_fires_on_attacker_tooling(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.login(at(END, 1), ip=TOR_IP, agent="Salesforce-Multi-Org-Fetcher/1.0")
    tool = fired(scan(logs.store()), "suspicious_client", at_least="high")
    assert "'Salesforce-Multi-Org-Fetcher/1.0'" in tool["explanation"] and "1 Login" in tool["explanation"]


def test_suspicious_client_quiet_on_a_generic_library_at_another_version(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END], client="python-requests/2.31.0")
    logs.login(at(END, 1), agent="python-requests/2.31.0")
    quiet(scan(logs.store()), "suspicious_client")


OUTLIER_OBJECTS = ["Account", "Product2", "Pricebook2", "Campaign", "Order"]


def rotating_history(logs: Logs) -> None:
    """20 days, each from one of five known addresses and on one of five known objects."""
    for n, day in enumerate(days_before(END, 20)):
        logs.daily([day], ip=f"52.1.1.{n % 5 + 1}", entity=OUTLIER_OBJECTS[n % 5])


def test_compound_outlier_fires_on_a_day_odd_on_several_features_that_nothing_else_flags(logs: Logs) -> None:
    rotating_history(logs)
    for h in range(8, 18):
        logs.hour(END, h, 15, ip=f"52.1.1.{h % 5 + 1}", entity=OUTLIER_OBJECTS[h % 5], method="PATCH")
    findings = scan(logs.store())
    odd = fired(findings, "compound_outlier")
    assert "features at once" in odd["explanation"] and "distinct IPs" in odd["explanation"]
    assert findings.filter(pl.col("detector") != "compound_outlier").is_empty(), summary(findings)


def test_compound_outlier_quiet_on_two_odd_features_or_an_already_flagged_day(
    new_logs: Callable[[], Logs],
) -> None:
    busier = new_logs()
    rotating_history(busier)
    busier.daily([END], calls=15, ip="52.1.1.1", entity="Account", method="PATCH")
    quiet(scan(busier.store()), "compound_outlier")
    flagged = new_logs()
    rotating_history(flagged)
    for h in range(8, 18):
        flagged.hour(END, h, 15, ip=f"52.1.1.{h % 5 + 1}", entity=OUTLIER_OBJECTS[h % 5], method="PATCH")
    flagged.hour(END, 18, 10, ip=TOR_IP)
    findings = scan(flagged.store())
    fired(findings, "new_ip", at_least="low")
    assert findings.filter(pl.col("detector") == "compound_outlier").is_empty()


# the suite as a whole -------------------------------------------------------------------------


def test_a_steady_integration_raises_nothing_above_low_on_any_day(logs: Logs) -> None:
    logs.daily([*days_before(END, 28), END])
    for day in days_before(END, 28):
        logs.login(at(day, 7))
    findings = scan(logs.store(), day=None)
    assert findings.filter(pl.col("severity") != "low").is_empty(), summary(findings)


def test_thin_history_gives_low_confidence_not_silence(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])  # the org has history; the second app only 3 days
    kw: dict[str, Any] = {"app_id": OTHER_APP, "app_name": "Field App", "user": OTHER_USER}
    logs.daily([*days_before(END, 3), END], **kw)
    logs.hour(END, 9, 10, ip=TOR_IP, entity="User", minute=30, **kw)
    findings = scan(logs.store())
    for detector in ("new_ip", "new_object_access"):
        assert fired(findings, detector, OTHER_APP, at_least="low")["severity"] == "low"


def test_a_detector_that_raises_does_not_take_the_scan_down(
    logs: Logs, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: object, params: object) -> list[Finding]:
        raise RuntimeError("boom on odd data")

    suite = [replace(d, run=broken) if d.name == "volume_spike" else d for d in registry.DETECTORS]
    monkeypatch.setattr(registry, "DETECTORS", suite)
    logs.daily([*days_before(END, 28), END])
    logs.hour(END, 12, 500, entity="Contact")
    con = logs.store()
    result = run_scan(con, Settings(), judged_days(con, all_days=True))
    assert not result.complete
    assert [(f.detector, f.reason) for f in result.failures] == [
        ("volume_spike", "RuntimeError: boom on odd data")
    ]
    assert set(result.findings["detector"]) >= {"hourly_burst", "new_object_access"}
    assert "volume_spike" not in set(result.findings["detector"])


def test_sums_out_of_duckdb_reach_detectors_as_numbers_not_decimals(logs: Logs) -> None:
    logs.daily([*days_before(END, 20), END])
    for day in days_before(END, 10):
        failed_logins(logs, day, 10, 3)
    failed_logins(logs, END, 3, 30, ip=TOR_IP)
    con = logs.store()
    ctx = registry.build_context(con, Settings(), at(END, 0), at(END, 0) + timedelta(days=1))
    for name, frame in (("activity", ctx.activity), ("auth", ctx.auth)):
        decimals = [c for c, t in frame.schema.items() if isinstance(t, pl.Decimal)]
        assert decimals == [], f"{name} has Decimal columns {decimals}"
    ctx.finish()
    result = run_scan(
        con, Settings(), judged_days(con, since=END, until=END), detectors=["auth_failure_burst"]
    )
    assert result.failures == [] and set(result.findings["detector"]) == {"auth_failure_burst"}


def test_findings_on_the_same_entity_and_day_raise_each_other() -> None:
    def finding(detector: str, category: str, entity: str) -> Finding:
        return Finding(detector, category, ORG, "connected_app", entity, "x", at(END, 2), at(END, 3), 60, "")

    a, b = finding("new_ip", "geo_identity", APP), finding("off_hours", "temporal", APP)
    c = finding("new_ip", "geo_identity", OTHER_APP)
    registry.corroborate([a, b, c])
    assert (a.score, b.score, c.score) == (70, 70, 60)
    assert a.evidence["corroborated_by"] == ["temporal"] and "corroborated_by" not in c.evidence


def test_an_org_with_only_rest_api_logs_is_judged_from_them(logs: Logs) -> None:
    for day in [*days_before(END, 20), END]:
        for n in range(700 if day == END else 100):
            logs.rest_call(at(day, 8) + timedelta(seconds=36 * n))
    spike = fired(scan(logs.store()), "volume_spike", APP, "high")
    assert spike["observed"] == 700 and spike["entity_label"] == "Vendor/1.0"


# detector bugs found by these tests, fixed: kept as regressions -----------------------------------


def test_an_18_character_app_id_is_one_entity_for_every_detector(logs: Logs) -> None:
    app18 = APP + "AAA"
    logs.daily([*days_before(END, 20), END], app_id=app18)
    bulk_job_lifecycle(logs, END, "7505g00000Job99", timedelta(seconds=90), app_id=app18, ip=TOR_IP)
    findings = scan(logs.store())
    assert set(findings["detector"]) >= {"new_object_access", "bulk_job_deleted"}, summary(findings)
    # Ids compare on their first 15 characters: the 18-character id names the same app.
    assert findings.select("entity_id", "entity_label").unique().rows() == [(app18[:15], "Vendor Sync")], (
        summary(findings)
    )


def test_no_detector_alone_reaches_critical(logs: Logs, geo: dict[str, Path], tmp_path: Path) -> None:
    logs.daily([*days_before(END, 20), END])
    logs.hour(END, 20, 150, ip=TOR_IP)
    logs.login(at(END, 21), ip=TOR_IP, agent="Salesforce-Multi-Org-Fetcher/1.0")
    con = logs.store(geo)
    settings = vendor_catalog(tmp_path / "cfg", 'egress_cidrs = ["52.1.1.0/24"]')
    critical = []
    for name in registry.detector_names():
        alone = run_scan(con, settings, judged_days(con, since=END, until=END), detectors=[name], save=False)
        critical += [r for r in alone.findings.iter_rows(named=True) if r["severity"] == "critical"]
    # The one exception: a signal whose own address is an anonymizer (Tor, VPN, proxy) is two
    # independent signals, the detector's and the address's.
    alone_critical = [r for r in critical if "Tor exit" not in str(r["evidence"].get("ip_info", {}))]
    assert alone_critical == [], summary(pl.DataFrame(alone_critical))
