"""Every detector on tiny fixtures: one case where it fires, one where it stays quiet."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from tests.detect_fixtures import APP, END, ORG, USER, at, context, history, row
from workbench.config import CatalogEntry, Settings
from workbench.detect import behavioral, errors, geo_identity, ioc, outlier, sequence, temporal, volume
from workbench.detect.base import Finding, severity_for
from workbench.detect.registry import corroborate


def only_end(rows, **changes):
    """Rows with the last day's rows changed."""
    return [({**r, **changes} if r["hour"].date() == END else r) for r in rows]


def severities(findings: list[Finding]) -> list[str]:
    return [severity_for(round(f.score)) for f in findings]


# volume ---------------------------------------------------------------------------------------


def apps_only(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.entity_type == "connected_app"]


def test_volume_spike_fires_on_a_sevenfold_day_with_numbers() -> None:
    found = volume.volume_spike(context(only_end(history(), calls=70)))
    assert {f.entity_type for f in found} == {"connected_app", "org"}  # the app and the org total
    (f,) = apps_only(found)
    assert f.observed == 700 and f.baseline == 100
    assert "7.0x its median of 100" in f.explanation and "previous weekday days" in f.explanation
    assert severity_for(round(f.score)) in ("high", "critical")


def test_volume_spike_quiet_on_an_ordinary_day_and_on_steady_growth() -> None:
    assert volume.volume_spike(context(history())) == []
    growing = [r | {"calls": int(10 * 1.02 ** ((r["hour"].date() - END).days + 30))} for r in history()]
    assert volume.volume_spike(context(growing)) == []


def test_volume_spike_new_level_held_for_days_is_low() -> None:
    rows = [r | {"calls": 70} if (END - r["hour"].date()).days <= 3 else r for r in history()]
    (f,) = apps_only(volume.volume_spike(context(rows)))
    assert severity_for(round(f.score)) == "low" and "new normal" in f.explanation


def test_volume_spike_respects_catalog_bursty_days() -> None:
    month_end = date(2025, 10, 31)
    rows = only_end(history(end=month_end), calls=70)
    rows = [r for r in history(end=month_end) if r["hour"].date() != month_end] + [
        r | {"calls": 70} for r in history(end=month_end) if r["hour"].date() == month_end
    ]
    capped = apps_only(volume.volume_spike(context(rows, window=(month_end, month_end))))
    assert severities(capped) == ["low"] and "Month-end" in capped[0].explanation
    declared = Settings(catalog=[CatalogEntry("Vendor", connected_app_id=APP, bursty_days=("month_end",))])
    assert (
        apps_only(volume.volume_spike(context(rows, window=(month_end, month_end), settings=declared))) == []
    )


def test_hourly_burst() -> None:
    rows = [*history(), row(at(END, 12), 500, entity_name="Contact")]
    (f,) = volume.hourly_burst(context(rows))
    assert f.observed == 510 and "510 calls in the hour from 2025-11-20 12:00" in f.explanation
    assert volume.hourly_burst(context(history())) == []


def test_dormant_wakeup() -> None:
    early = history(days=10, end=END - timedelta(days=25))
    (f,) = volume.dormant_wakeup(context([*early, row(at(END, 3), 50)]))
    assert "was silent for 24 days" in f.explanation
    assert volume.dormant_wakeup(context(history())) == []


def bulk_jobs(*jobs: tuple[datetime, str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"org_id": ORG, "ts": ts, "request_id": f"r{i}", "user15": USER, "user_name": "sync@acme.com",
             "entity_name": entity, "rows_processed": rows, "job_id": f"750{i:012d}", "ip": "185.220.101.1"}
            for i, (ts, entity, rows) in enumerate(jobs)
        ]
    )  # fmt: skip


def test_mass_export_bands_and_own_baseline() -> None:
    jobs = bulk_jobs((at(END, 2), "Case", 184_215), (at(END, 3), "User", 12_480), (at(END, 4), "Lead", 5_000))
    found = volume.mass_export(context(history(), raw={"bulk_query_jobs": jobs}))
    by_object = {f.evidence["entities"][0]: f for f in found}
    assert set(by_object) == {"Case", "User"}  # 5,000 rows is under the 10k band
    assert severity_for(round(by_object["Case"].score)) == "critical"
    assert severity_for(round(by_object["User"].score)) == "medium"
    assert by_object["Case"].entity_type == "connected_app" and by_object["Case"].entity_id == APP
    usual = bulk_jobs((at(END - timedelta(days=7), 2), "Case", 180_000), (at(END, 2), "Case", 184_215))
    (f,) = volume.mass_export(context(history(), raw={"bulk_query_jobs": usual}))
    assert (
        severity_for(round(f.score)) == "low"
        and "largest in the previous 30 days was 180,000" in f.explanation
    )


# temporal -------------------------------------------------------------------------------------


def test_off_hours_fires_at_night_and_not_in_usual_hours() -> None:
    (f,) = temporal.off_hours(context([*history(), row(at(END, 2), 40, ip="185.220.101.1")]))
    assert (
        "40 calls on 2025-11-20 at 02:00-03:00 UTC" in f.explanation
        and "never used 02:00-03:00" in f.explanation
    )
    assert temporal.off_hours(context(history())) == []


def test_off_hours_uses_the_catalog_hours_when_declared() -> None:
    declared = Settings(catalog=[CatalogEntry("Vendor", connected_app_id=APP, expected_hours=(8, 12))])
    (f,) = temporal.off_hours(context(history(), settings=declared))
    assert "declared 08:00-12:00 UTC" in f.explanation


def test_off_hours_weekend_activity_of_a_weekday_job() -> None:
    saturday = date(2025, 11, 22)
    rows = [*history(end=saturday - timedelta(days=1), weekdays_only=True), row(at(saturday, 10), 30)]
    found = temporal.off_hours(context(rows, window=(saturday, saturday)))
    assert any("Saturday" in f.explanation and "never active" in f.explanation for f in found)
    weekday_only = history(end=saturday - timedelta(days=1), weekdays_only=True)
    assert temporal.off_hours(context(weekday_only, window=(END, END))) == []


def test_schedule_shift() -> None:
    nightly = history(hours=(2, 3), calls=100)
    moved = [r for r in nightly if r["hour"].date() != END] + [row(at(END, h), 100) for h in (14, 15)]
    (f,) = temporal.schedule_shift(context(moved))
    assert "shift of 12.0 hours" in f.explanation
    assert temporal.schedule_shift(context(nightly)) == []


# geo / identity -------------------------------------------------------------------------------


def test_new_ip() -> None:
    rows = [*history(days=20), row(at(END, 9), 10, ip="185.220.101.1", entity_name="Case")]
    (f,) = geo_identity.new_ip(context(rows))
    assert f.evidence["ips"] == ["185.220.101.1"] and "52.1.1.1" in f.explanation
    quiet = [*history(days=20), row(at(END, 9), 2, ip="185.220.101.1")]  # one stray request is noise
    assert geo_identity.new_ip(context(quiet)) == []


def test_new_ip_outside_declared_egress_scores_higher() -> None:
    rows = [*history(days=20), row(at(END, 9), 10, ip="185.220.101.1")]
    declared = Settings(catalog=[CatalogEntry("Vendor", connected_app_id=APP, egress_cidrs=(
        __import__("ipaddress").ip_network("52.1.1.0/24"),))])  # fmt: skip
    (plain,) = geo_identity.new_ip(context(rows))
    (outside,) = geo_identity.new_ip(context(rows, settings=declared))
    assert outside.score > plain.score and "outside the declared egress" in outside.explanation


def test_new_connected_app_and_new_user_for_app() -> None:
    other_app = [row(at(END, h), 10, connected_app_id="0H4000000000002", connected_app_name="Unknown Tool")
                 for h in (1, 2, 3)]  # fmt: skip
    (f,) = geo_identity.new_connected_app(context(history(days=20) + other_app))
    assert f.entity_id == "0H4000000000002" and "not in the catalog" in f.explanation
    assert geo_identity.new_connected_app(context(history(days=20))) == []
    new_user = [row(at(END, 9), 10, user_id="005000000000009", user_name="attacker@evil.test")]
    (u,) = geo_identity.new_user_for_app(context(history(days=20) + new_user))
    assert "attacker@evil.test" in u.explanation
    assert geo_identity.new_user_for_app(context(history(days=20))) == []


# errors ---------------------------------------------------------------------------------------


def test_error_rate_jump() -> None:
    rows = only_end(history(errors=0), calls=20, errors=6)
    (f,) = errors.error_rate_jump(context(rows))
    assert "30.0% errors" in f.explanation and "+30.0 points" in f.explanation
    quiet = history()
    quiet[-1] = quiet[-1] | {"errors": 2}  # 2% on the last day
    assert errors.error_rate_jump(context(quiet)) == []


def auth_row(hour: datetime, failures: int, user: str = USER, ip: str = "1.2.3.4") -> dict:
    return {"org_id": ORG, "hour": hour, "user_id": user, "user_name": "sync@acme.com", "ip": ip,
            "failures": failures, "calls": failures}  # fmt: skip


def test_auth_failure_burst() -> None:
    auth = [auth_row(at(END - timedelta(days=d), 10), 1) for d in range(1, 10)] + [auth_row(at(END, 3), 30)]
    found = errors.auth_failure_burst(context(history(), auth=auth))
    assert {f.entity_type for f in found} == {"connected_app", "ip"}
    assert all("30 authentication failures" in f.explanation for f in found)
    quiet = [auth_row(at(END - timedelta(days=d), 10), 2) for d in range(0, 10)]
    assert errors.auth_failure_burst(context(history(), auth=quiet)) == []


def login_rows(failures_at: list[datetime], success_at: datetime) -> pl.DataFrame:
    rows = [
        {
            "org_id": ORG,
            "ts": t,
            "user15": USER,
            "user_name": "sync@acme.com",
            "ip": "185.220.101.9",
            "request_id": f"f{i}",
            "event_type": "Login",
            "success": False,
        }
        for i, t in enumerate(failures_at)
    ]
    rows.append(
        {
            "org_id": ORG,
            "ts": success_at,
            "user15": USER,
            "user_name": "sync@acme.com",
            "ip": "185.220.101.9",
            "request_id": "ok",
            "event_type": "Login",
            "success": True,
        }
    )
    return pl.DataFrame(rows)  # fmt: skip


def test_probe_then_success() -> None:
    start = at(END, 1)
    probes = login_rows([start + timedelta(minutes=m) for m in range(5)], start + timedelta(minutes=12))
    found = errors.probe_then_success(context(history(), raw={"auth_failures_then_success": probes}))
    assert found and "5 authentication failures" in found[0].explanation
    late = login_rows([start + timedelta(minutes=m) for m in range(5)], start + timedelta(hours=2))
    assert errors.probe_then_success(context(history(), raw={"auth_failures_then_success": late})) == []


# behaviour ------------------------------------------------------------------------------------


def test_new_object_access_flags_sensitive_objects() -> None:
    rows = [
        *history(days=20),
        row(at(END, 9), 12, entity_name="User"),
        row(at(END, 9), 4, entity_name="Task"),
    ]
    (f,) = behavioral.new_object_access(context(rows))
    assert f.evidence["entities"] == ["User", "Task"] and "Sensitive: User" in f.explanation
    assert behavioral.new_object_access(context(history(days=20))) == []


def test_fan_out() -> None:
    rows = history(days=20) + history(days=20, entity_name="Contact")
    wide = [row(at(END, 11), 3, entity_name=f"Object{i}__c") for i in range(8)]
    (f,) = behavioral.fan_out(context(rows + wide))
    assert f.observed == 10 and "touched 10 distinct objects" in f.explanation
    assert behavioral.fan_out(context(rows)) == []


# sequences ------------------------------------------------------------------------------------


def calls_frame(items: list[tuple[datetime, str | None, str | None, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"org_id": ORG, "ts": ts, "request_id": f"q{i}", "event_type": "ApiTotalUsage", "connected_app_id": APP,
          "user15": USER, "user_name": "sync@acme.com", "api_resource": "/v58.0/x", "http_method": "GET",
          "entity_name": "Case", "rows_processed": rows, "ip": "185.220.101.1", "recon": recon, "export": export}
         for i, (ts, recon, export, rows) in enumerate(items)],
        schema_overrides={"rows_processed": pl.Int64},
    )  # fmt: skip


def test_recon_then_export() -> None:
    start = at(END, 2)
    recon = [(start + timedelta(seconds=10 * i), "describe", None, 0) for i in range(6)]
    export = [(start + timedelta(minutes=5), None, "bulk query created", 0),
              (start + timedelta(minutes=6), None, "bulk query job", 50_000)]  # fmt: skip
    (f,) = sequence.recon_then_export(
        context(history(), raw={"recon_and_export_calls": calls_frame(recon + export)})
    )
    assert "6 reconnaissance calls (6 describe)" in f.explanation and "50,000 rows" in f.explanation
    assert f.entity_id == APP
    late = [(start + timedelta(hours=3), None, "bulk query job", 50_000)]
    assert (
        sequence.recon_then_export(
            context(history(), raw={"recon_and_export_calls": calls_frame(recon + late)})
        )
        == []
    )


def jobs_frame(lifetime: timedelta | None) -> pl.DataFrame:
    first = at(END, 2)
    return pl.DataFrame(
        [{"org_id": ORG, "job_id": "750000000000001", "job_kind": "query", "first_seen": first,
          "deleted_at": None if lifetime is None else first + lifetime, "connected_app_id": APP, "user15": USER,
          "user_name": "sync@acme.com", "ips": ["185.220.101.1"], "entity_name": "User", "request_ids": ["a", "b"]}],
        schema_overrides={"deleted_at": pl.Datetime("us")},
    )  # fmt: skip


def test_bulk_job_deleted() -> None:
    (f,) = sequence.bulk_job_deleted(
        context(history(), raw={"bulk_job_lifecycle": jobs_frame(timedelta(seconds=90))})
    )
    assert "1.5 minutes after" in f.explanation and severity_for(round(f.score)) == "critical"
    for lifetime in (timedelta(hours=2), None):
        assert (
            sequence.bulk_job_deleted(context(history(), raw={"bulk_job_lifecycle": jobs_frame(lifetime)}))
            == []
        )


# ioc and outlier ------------------------------------------------------------------------------


def test_suspicious_client() -> None:
    hits = pl.DataFrame([{"org_id": ORG, "ts": at(END, 1), "request_id": "l1", "event_type": "Login",
                          "connected_app_id": None, "user15": USER, "user_name": "sync@acme.com",
                          "client": "Salesforce-Multi-Org-Fetcher/1.0", "ip": "185.220.101.1"}])  # fmt: skip
    (f,) = ioc.suspicious_client(context(history(), raw={"suspicious_clients": hits}))
    assert f.entity_id == APP and severity_for(round(f.score)) == "critical"
    assert ioc.suspicious_client(context(history(), raw={"suspicious_clients": hits.clear()})) == []


def test_compound_outlier_reports_only_what_nothing_else_flagged() -> None:
    rows = history(days=20)
    odd_day = [row(at(END, h), 15, ip=f"52.1.1.{h}", entity_name=f"Obj{h % 5}") for h in range(8, 18)]
    ctx = context([r for r in rows if r["hour"].date() != END] + odd_day)
    (f,) = outlier.compound_outlier(ctx)
    assert "features at once" in f.explanation and "distinct IPs" in f.explanation
    ctx.prior = [
        Finding("new_ip", "geo_identity", ORG, "connected_app", APP, "x", at(END, 9), at(END, 10), 50, "")
    ]
    assert outlier.compound_outlier(ctx) == []
    assert outlier.compound_outlier(context(rows)) == []


def test_findings_on_the_same_entity_and_day_raise_each_other() -> None:
    a = Finding("new_ip", "geo_identity", ORG, "connected_app", APP, "x", at(END, 2), at(END, 3), 60, "")
    b = Finding("off_hours", "temporal", ORG, "connected_app", APP, "x", at(END, 2), at(END, 3), 60, "")
    c = Finding("new_ip", "geo_identity", ORG, "connected_app", "other", "y", at(END, 2), at(END, 3), 60, "")
    corroborate([a, b, c])
    assert a.score == 68 and b.score == 68 and c.score == 60
    assert a.evidence["corroborated_by"] == ["temporal"]


def test_thin_history_gives_low_confidence_not_silence() -> None:
    short = [*history(days=3), row(at(END, 9), 10, ip="185.220.101.1", entity_name="User")]
    (ip,) = geo_identity.new_ip(context(short))
    (obj,) = behavioral.new_object_access(context(short))
    for f in (ip, obj):
        assert severity_for(round(f.score)) == "low" and "Only 2 days of history" in f.explanation
    (spike,) = apps_only(volume.volume_spike(context(only_end(history(days=4), calls=70))))
    assert severity_for(round(spike.score)) == "low" and "low confidence" in spike.explanation


def test_recurring_day_of_month_burst_is_expected() -> None:
    rows = history(days=45)
    burst_days = {END, END - timedelta(days=31)}  # the 20th of this and last month
    rows = [r | {"calls": 70} if r["hour"].date() in burst_days else r for r in rows]
    assert volume.volume_spike(context(rows)) == []
