"""IP enrichment: readers by database type, Tor lists, network lists, allowlists, bad sources,
the enrich and ip commands, and the detectors that use ip_info."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from netaddr import IPSet
from typer.testing import CliRunner

from tests.conftest import copy_store, mmdb_writer
from tests.detect.test_detectors_store import APP, END, TOR_IP, Logs, days_before, fired, scan
from workbench.cli import app
from workbench.config import CatalogEntry, EnrichConfig, Settings
from workbench.enrich.service import classify, lookup, open_sources
from workbench.enrich.sources import SourceError, load_networks, load_tor_exits, open_database

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("mmdb")
    city = mmdb_writer("GeoLite2-City")
    city.insert_network(
        IPSet(["52.0.0.0/8"]),
        {
            "country": {"iso_code": "US", "names": {"en": "United States"}},
            "city": {"names": {"en": "Ashburn"}},
            "location": {"latitude": 39.04, "longitude": -77.49, "accuracy_radius": 20},
        },
    )
    city.insert_network(
        IPSet(["185.220.101.0/24"]),
        {
            "country": {"iso_code": "DE", "names": {"en": "Germany"}},
            "city": {"names": {"en": "Berlin"}},
            "location": {"latitude": 52.52, "longitude": 13.41, "accuracy_radius": 20},
        },
    )
    city.insert_network(
        IPSet(["2a0b:f4c0::/32"]), {"country": {"iso_code": "NL", "names": {"en": "Netherlands"}}}
    )
    country = mmdb_writer("GeoLite2-Country")
    country.insert_network(
        IPSet(["52.0.0.0/8"]), {"country": {"iso_code": "US", "names": {"en": "United States"}}}
    )
    asn = mmdb_writer("GeoLite2-ASN")
    asn.insert_network(
        IPSet(["52.0.0.0/8"]),
        {"autonomous_system_number": 14618, "autonomous_system_organization": "Amazon.com, Inc."},
    )
    asn.insert_network(
        IPSet(["185.220.101.0/24"]),
        {
            "autonomous_system_number": 60729,
            "autonomous_system_organization": "Stiftung Erneuerbare Freiheit",
        },
    )
    anon = mmdb_writer("GeoIP2-Anonymous-IP")
    anon.insert_network(IPSet(["52.0.0.0/8"]), {"is_anonymous": True, "is_hosting_provider": True})
    anon.insert_network(IPSet(["185.220.101.1/32"]), {"is_anonymous": True, "is_tor_exit_node": True})
    anon.insert_network(IPSet(["146.70.1.0/24"]), {"is_anonymous": True, "is_anonymous_vpn": True})
    paths = {}
    for name, w in (("city", city), ("country", country), ("asn", asn), ("anon", anon)):
        paths[name] = folder / f"{name}.mmdb"
        w.to_db_file(str(paths[name]))
    return paths


def test_each_reader_type_and_ipv6_and_missing_addresses(dbs: dict[str, Path]) -> None:
    sources = open_sources(EnrichConfig(city=dbs["city"], asn=dbs["asn"], anon=dbs["anon"]))
    try:
        tor = lookup("185.220.101.1", sources)
        assert (tor["country_code"], tor["city"], tor["asn"], tor["is_tor"]) == ("DE", "Berlin", 60729, True)
        assert tor["accuracy_km"] == 20 and tor["latitude"] == pytest.approx(52.52)
        cloud = lookup("52.10.17.21", sources)
        assert cloud["as_org"] == "Amazon.com, Inc." and cloud["is_hosting"] and not cloud["is_tor"]
        assert lookup("2a0b:f4c0::1", sources)["country_code"] == "NL"
        assert lookup("::ffff:52.1.2.3", sources)["country_code"] == "US"  # IPv4-mapped
        missing = lookup("8.8.8.8", sources)
        assert missing["kind"] == "public" and missing.get("country_code") is None and not missing["is_tor"]
    finally:
        sources.close()
    country = open_database(dbs["country"], "city")
    assert country.method == "country" and country.lookup("52.1.1.1").country.iso_code == "US"


def test_special_ranges_are_labelled_not_looked_up() -> None:
    assert classify("Salesforce.com IP")[0] == "salesforce"
    assert classify("10.1.2.3")[0] == "private"
    assert classify("127.0.0.1")[0] == "loopback"
    assert classify("198.51.100.7")[0] == "documentation"
    assert classify("2001:db8::1")[0] == "documentation"
    assert classify("not an ip")[0] == "invalid"
    assert classify("185.220.101.1")[0] == "public"


def test_wrong_type_corrupt_and_missing_databases_are_one_line_errors(
    dbs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match="GeoLite2-City database, expected an ASN database"):
        open_database(dbs["city"], "asn")
    corrupt = tmp_path / "corrupt.mmdb"
    corrupt.write_bytes(b"\x00" * 512 + b"not a maxmind database")
    with pytest.raises(SourceError, match="not a readable MaxMind database"):
        open_database(corrupt, "city")
    with pytest.raises(SourceError, match="no such file"):
        open_database(tmp_path / "nope.mmdb", "anon")


def test_tor_lists_in_both_formats_with_malformed_lines_counted(tmp_path: Path) -> None:
    bulk = tmp_path / "torbulkexitlist"
    bulk.write_text("185.220.101.1\nnot-an-ip\n2a0b:f4c0::1\n\n")
    exits = load_tor_exits(bulk)
    assert exits.format == "bulk list" and exits.addresses == {"185.220.101.1", "2a0b:f4c0::1"}
    assert exits.skipped == [2]
    dnsel = tmp_path / "exit-addresses"
    dnsel.write_text(
        "ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\nPublished 2025-11-18 22:15:11\n"
        "LastStatus 2025-11-19 00:00:00\nExitAddress 185.220.101.143 2025-11-19 00:12:53\n"
        "ExitAddress 185.220.101.164 2025-11-19 01:02:00\nExitNode ABCDEF\nGarbage line\nExitAddress 999.1.1.1\n"
    )
    exits = load_tor_exits(dnsel)
    assert exits.format == "exit-addresses" and exits.addresses == {"185.220.101.143", "185.220.101.164"}
    assert exits.skipped == [7, 8] and "2 malformed line(s) skipped: 7, 8" in exits.skipped_text()


def test_network_list_and_enterprise_allowlist(dbs: dict[str, Path], tmp_path: Path) -> None:
    networks = tmp_path / "networks.csv"
    networks.write_text("network,label\n146.70.0.0/16,vpn\nAS60729,tor\nbad-cidr,proxy\n")
    listed = load_networks(networks)
    assert listed.entries == 2 and listed.skipped == [4]
    sources = open_sources(EnrichConfig(asn=dbs["asn"], networks=networks, egress_cidrs=("64.10.200.0/24",)))
    try:
        assert lookup("146.70.5.5", sources)["is_vpn"]
        via_asn = lookup("185.220.101.77", sources)
        assert via_asn["is_tor"] and via_asn["network_labels"] == ["tor"]
        assert lookup("64.10.200.11", sources)["allowlists"] == ["enterprise egress"]
        assert lookup("64.10.201.11", sources)["allowlists"] == []
    finally:
        sources.close()


@pytest.fixture(scope="module")
def enriched_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("enriched") / "demo.duckdb"
    result = runner.invoke(app, ["demo", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "enriched" in result.output
    return db


def test_demo_enrichment_lights_up_the_incident(enriched_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    copy_store(enriched_db, db)
    result = runner.invoke(app, ["scan", "--db", str(db), "--format", "json", "--since", "2025-10-18"])
    findings = json.loads(result.stdout)
    geo = {f["detector"] for f in findings if f["severity"] in ("high", "critical")}
    assert {"new_country", "new_asn", "anonymizer_ip", "impossible_geography"} <= geo
    above_low = [f for f in findings if f["severity"] != "low"]
    assert {f["entity_label"] for f in above_low} == {"Gainsight CS"}
    tor = next(f for f in findings if f["detector"] == "anonymizer_ip")
    assert "Tor exit" in tor["explanation"] and "AS60729" in tor["explanation"]
    contextual = next(f for f in findings if f["detector"] == "suspicious_client")
    assert "Tor exit" in contextual["explanation"] and contextual["evidence"]["ip_info"]


def test_ip_command_reports_one_address(enriched_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    copy_store(enriched_db, db)
    runner.invoke(app, ["scan", "--db", str(db)])
    result = runner.invoke(app, ["ip", "185.220.101.164", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["info"]["country_code"] == "DE" and report["info"]["is_tor"] is True
    assert {o["object"] for o in report["objects"]} == {"User", "Case", "ContentVersion"}
    assert report["findings"] and report["activity"][0]["entity"] == "Gainsight CS"
    table = runner.invoke(app, ["ip", "185.220.101.164", "--db", str(db)])
    assert "AS60729" in table.output and "flags: tor" in table.output


def test_enrich_command_is_incremental_and_reports_bad_sources(enriched_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    copy_store(enriched_db, db)
    sample = ROOT / "sample_logs" / "enrichment"
    args = [
        "enrich",
        "--db",
        str(db),
        "--city",
        str(sample / "city.mmdb"),
        "--asn",
        str(sample / "asn.mmdb"),
        "--anon",
        str(sample / "anonymous-ip.mmdb"),
        "--tor-exits",
        str(sample / "tor-exits.txt"),
        "--networks",
        str(sample / "networks.txt"),
    ]
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "enriched 0 new or changed address(es)" in again.output
    changed = runner.invoke(app, ["enrich", "--db", str(db), "--city", str(sample / "city.mmdb")])
    assert changed.exit_code == 0 and "enriched 0 " not in changed.output  # a changed source re-enriches
    wrong = runner.invoke(app, ["enrich", "--db", str(db), "--asn", str(sample / "city.mmdb")])
    assert (
        wrong.exit_code == 2
        and "expected an ASN database" in wrong.output
        and "Traceback" not in wrong.output
    )
    none = runner.invoke(app, ["enrich", "--db", str(db)])
    assert none.exit_code == 2 and "no enrichment source" in none.output


# geo detectors through a real store ------------------------------------------------------------


@pytest.fixture
def store_logs(tmp_path: Path) -> Iterator[Logs]:
    built = Logs(tmp_path)
    yield built
    for con in built.connections:
        con.close()


def geo_sources(dbs: dict[str, Path]) -> dict[str, Path]:
    return {"city": dbs["city"], "asn": dbs["asn"], "anon": dbs["anon"]}


def tor_after_history(logs: Logs, hour: int = 2, history_hours: range = range(8, 18)) -> None:
    """20 days from the app's AWS address (Ashburn), then 12 calls from a Berlin Tor exit."""
    logs.daily([*days_before(END, 20), END], hours=history_hours)
    logs.hour(END, hour, 12, ip=TOR_IP)


def test_new_country_and_new_asn_explain_the_networks_and_need_enrichment(
    store_logs: Logs, dbs: dict[str, Path]
) -> None:
    tor_after_history(store_logs)
    findings = scan(store_logs.store(geo_sources(dbs)))
    country = fired(findings, "new_country")
    assert "new country" in country["explanation"] and "DE Germany" in country["explanation"]
    assert "US United States" in country["explanation"]
    network = fired(findings, "new_asn")
    assert "AS60729 Stiftung Erneuerbare Freiheit" in network["explanation"]
    assert "AS14618 Amazon.com, Inc." in network["explanation"]


def test_new_country_and_new_asn_are_silent_before_enrich(store_logs: Logs) -> None:
    tor_after_history(store_logs)
    findings = scan(store_logs.store())
    fired(findings, "new_ip")  # the address itself is still new
    assert findings.filter(pl.col("detector").is_in(["new_country", "new_asn", "anonymizer_ip"])).is_empty()


def test_anonymizer_ip_names_the_tor_exit_and_ignores_the_usual_cloud(
    store_logs: Logs, dbs: dict[str, Path]
) -> None:
    tor_after_history(store_logs)
    anonymizers = scan(store_logs.store(geo_sources(dbs))).filter(pl.col("detector") == "anonymizer_ip")
    (tor,) = anonymizers.iter_rows(named=True)  # and nothing for its usual AWS hosting address
    assert tor["entity_id"] == APP and tor["severity"] in ("high", "critical")
    assert "185.220.101.1 (Berlin, DE, AS60729 Stiftung Erneuerbare Freiheit, Tor exit" in tor["explanation"]


def test_non_allowlisted_ip_names_the_declared_ranges(store_logs: Logs) -> None:
    tor_after_history(store_logs)
    store_logs.hour(END, 3, 12, ip="52.1.1.9")  # inside the declared range: not named
    declared = Settings(
        catalog=[
            CatalogEntry("Vendor", connected_app_id=APP, egress_cidrs=(ipaddress.ip_network("52.1.1.0/24"),))
        ]
    )
    (outside,) = (
        scan(store_logs.store(), declared)
        .filter(pl.col("detector") == "non_allowlisted_ip")
        .iter_rows(named=True)
    )
    assert (
        "outside the egress ranges declared for Vendor (52.1.1.0/24): 185.220.101.1."
        in outside["explanation"]
    )


def test_impossible_geography_against_the_time_a_flight_takes(dbs: dict[str, Path], tmp_path: Path) -> None:
    fast, slow = Logs(tmp_path / "fast"), Logs(tmp_path / "slow")
    tor_after_history(fast, hour=20)  # Berlin two hours after Ashburn
    tor_after_history(slow, hour=23, history_hours=range(8, 10))  # 13 hours later: a flight fits
    try:
        travel = fired(scan(fast.store(geo_sources(dbs))), "impossible_geography")
        assert (
            "Ashburn, US (52.1.1.1)" in travel["explanation"]
            and "Berlin, DE (185.220.101.1)" in travel["explanation"]
        )
        assert "km/h" in travel["explanation"]
        quiet = scan(slow.store(geo_sources(dbs)))
        assert quiet.filter(pl.col("detector") == "impossible_geography").is_empty()
    finally:
        for built in (fast, slow):
            for con in built.connections:
                con.close()


def test_ingest_enriches_automatically_when_sources_are_configured(tmp_path: Path) -> None:
    sample = ROOT / "sample_logs" / "enrichment"
    (tmp_path / "workbench.toml").write_text(
        f'[enrich]\ncity = "{sample / "city.mmdb"}"\ntor_exits = "{sample / "tor-exits.txt"}"\n'
    )
    logs = sorted(p for p in (ROOT / "sample_logs").iterdir() if p.name.startswith("acme"))
    db = tmp_path / "w.duckdb"
    result = runner.invoke(
        app, ["ingest", *map(str, logs), "--db", str(db), "--config", str(tmp_path / "workbench.toml")]
    )
    assert result.exit_code == 0, result.output
    assert "enriched" in result.output
    report = json.loads(
        runner.invoke(app, ["ip", "185.220.101.143", "--db", str(db), "--format", "json"]).stdout
    )
    assert report["info"]["is_tor"] is True and report["info"]["city"] == "Berlin"
