"""Enrich every distinct address in the store into `ip_info`, and report on one address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from workbench.config import EnrichConfig
from workbench.enrich.sources import (
    GeoDatabase,
    NetworkList,
    SourceError,
    TorExits,
    fingerprint,
    load_networks,
    load_tor_exits,
    open_database,
)
from workbench.store.queries import first_row, query_frame

SALESFORCE_IP = "Salesforce.com IP"
DOCUMENTATION = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]


@dataclass
class Sources:
    """The opened sources; close() releases the database readers."""

    config: EnrichConfig
    databases: dict[str, GeoDatabase] = field(default_factory=dict)
    tor: TorExits | None = None
    networks: NetworkList | None = None
    egress: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)

    def close(self) -> None:
        """Close the database readers."""
        for database in self.databases.values():
            database.reader.close()

    @property
    def fingerprint(self) -> str:
        """Changes whenever a source file or the allowlist changes."""
        c = self.config
        return fingerprint([c.city, c.asn, c.anon, c.tor_exits, c.networks], ",".join(c.egress_cidrs))


def open_sources(config: EnrichConfig) -> Sources:
    """Open and validate every configured source (SourceError names the first bad one)."""
    sources = Sources(config)
    try:
        for slot in ("city", "asn", "anon"):
            path = getattr(config, slot)
            if path is not None:
                sources.databases[slot] = open_database(Path(path), slot)
        if config.tor_exits:
            sources.tor = load_tor_exits(Path(config.tor_exits))
        if config.networks:
            sources.networks = load_networks(Path(config.networks))
        for cidr in config.egress_cidrs:
            try:
                sources.egress.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                raise SourceError(f"egress_cidrs: {cidr!r} is not a network") from None
    except SourceError:
        sources.close()
        raise
    return sources


def classify(value: str) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """The kind of address (public, private, documentation, ...) and the parsed address."""
    if value == SALESFORCE_IP:
        return "salesforce", None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return "invalid", None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback", address
    if any(address.version == net.version and address in net for net in DOCUMENTATION):
        return "documentation", address
    if address.is_link_local:
        return "link_local", address
    if address.is_private:
        return "private", address
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved", address
    return "public", address


def lookup(value: str, sources: Sources) -> dict[str, Any]:
    """Everything the sources say about one address (special ranges are labelled, not looked up)."""
    kind, address = classify(value)
    info: dict[str, Any] = {
        "ip": value,
        "kind": kind,
        "is_tor": False,
        "is_vpn": False,
        "is_proxy": False,
        "is_hosting": False,
        "network_labels": [],
        "allowlists": [],
    }
    if address is None:
        return info
    info["allowlists"] = (
        ["enterprise egress"]
        if any(address.version == net.version and address in net for net in sources.egress)
        else []
    )
    if kind != "public":
        return info
    text = str(address)
    city = sources.databases.get("city")
    if city and (record := city.lookup(text)):
        with _checked(city, text) as check:
            info["country_code"] = check("country.iso_code", record.country.iso_code, str)
            info["country"] = check("country.names", record.country.name, str)
            if city.method == "city":
                info["city"] = check("city.names", record.city.name, str)
                info["latitude"] = check("location.latitude", record.location.latitude, float, -90, 90)
                info["longitude"] = check("location.longitude", record.location.longitude, float, -180, 180)
                info["accuracy_km"] = check(
                    "location.accuracy_radius", record.location.accuracy_radius, int, 0, 2**31 - 1
                )
    asn = sources.databases.get("asn")
    if asn and (record := asn.lookup(text)):
        with _checked(asn, text) as check:
            info["asn"] = check(
                "autonomous_system_number", record.autonomous_system_number, int, 0, 2**32 - 1
            )
            info["as_org"] = check(
                "autonomous_system_organization", record.autonomous_system_organization, str
            )
    anon = sources.databases.get("anon")
    if anon and (record := anon.lookup(text)):
        with _checked(anon, text):
            info["is_tor"] = bool(record.is_tor_exit_node)
            info["is_vpn"] = bool(record.is_anonymous_vpn)
            info["is_proxy"] = bool(record.is_public_proxy or record.is_residential_proxy)
            info["is_hosting"] = bool(record.is_hosting_provider)
    if sources.tor and text in sources.tor.addresses:
        info["is_tor"] = True
    if sources.networks:
        labels = sources.networks.labels_for(address, info.get("asn"))
        info["network_labels"] = labels
        for label in labels:
            flag = {"tor": "is_tor", "vpn": "is_vpn", "proxy": "is_proxy", "hosting": "is_hosting"}.get(label)
            if flag:
                info[flag] = True
    return info


class _FieldCheck:
    """Checks one record's values against the types and ranges ip_info stores: a database is
    untrusted, and a latitude of 'abc' or an accuracy of 2^40 must not reach the store (or fail
    there with a traceback)."""

    def __init__(self, database: GeoDatabase, ip: str) -> None:
        self.database, self.ip = database, ip

    def __call__(
        self, name: str, value: Any, kind: type, low: float | None = None, high: float | None = None
    ) -> Any:
        if value is None:
            return None
        numeric = kind in (int, float) and isinstance(value, int | float) and not isinstance(value, bool)
        fits = numeric if kind in (int, float) else isinstance(value, kind)
        if kind is int and numeric and not float(value).is_integer():
            fits = False
        if fits and low is not None and high is not None and not low <= value <= high:
            fits = False
        if not fits:
            bounds = f" from {low:,} to {high:,}" if low is not None else ""
            expected = ("number" if kind is float else "integer" if kind is int else "text") + bounds
            raise SourceError(
                f"{self.database.path}: record for {self.ip} has {name} {str(value)[:40]!r}, "
                f"expected {expected}: corrupt or out-of-range database"
            )
        return kind(value)


@contextmanager
def _checked(database: GeoDatabase, ip: str) -> Iterator[_FieldCheck]:
    """A field checker; a record whose shape geoip2 cannot read becomes a SourceError too."""
    try:
        yield _FieldCheck(database, ip)
    except SourceError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SourceError(
            f"{database.path}: record for {ip} cannot be read ({type(exc).__name__}: {exc})"
        ) from None


@dataclass
class EnrichReport:
    """What `enrich` did."""

    addresses: int = 0
    looked_up: int = 0
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # slot, path, what
    warnings: list[str] = field(default_factory=list)


_COLUMNS = [
    "ip",
    "kind",
    "country_code",
    "country",
    "city",
    "latitude",
    "longitude",
    "accuracy_km",
    "asn",
    "as_org",
    "is_tor",
    "is_vpn",
    "is_proxy",
    "is_hosting",
    "network_labels",
    "allowlists",
]
_SCHEMA: dict[str, Any] = {
    "ip": pl.Utf8,
    "kind": pl.Utf8,
    "country_code": pl.Utf8,
    "country": pl.Utf8,
    "city": pl.Utf8,
    "latitude": pl.Float64,
    "longitude": pl.Float64,
    "accuracy_km": pl.Int32,
    "asn": pl.Int64,
    "as_org": pl.Utf8,
    "is_tor": pl.Boolean,
    "is_vpn": pl.Boolean,
    "is_proxy": pl.Boolean,
    "is_hosting": pl.Boolean,
    "network_labels": pl.List(pl.Utf8),
    "allowlists": pl.List(pl.Utf8),
}


def enrich_store(con: duckdb.DuckDBPyConnection, config: EnrichConfig) -> EnrichReport:
    """Look up every address not yet enriched with the current sources; one transaction."""
    report = EnrichReport()
    sources = open_sources(config)
    try:
        current = sources.fingerprint
        addresses = query_frame(con, "addresses_to_enrich", {"sources": current})["ip"].to_list()
        (report.addresses,) = first_row(con.execute("SELECT count(DISTINCT ip) FROM hourly_activity"))
        rows = [lookup(ip, sources) for ip in addresses]
        report.looked_up = len(rows)
        frame = pl.DataFrame([{c: r.get(c) for c in _COLUMNS} for r in rows], schema=_SCHEMA).with_columns(
            sources=pl.lit(current), enriched_at=pl.lit(datetime.now(UTC).replace(tzinfo=None))
        )
        described = _describe(sources)
        report.sources = [(slot, path, what) for slot, path, what, _, _, _ in described]
        report.warnings = [f"{path}: {skipped}" for _, path, _, _, _, skipped in described if skipped]
        con.register("new_ip_info", frame)
        con.execute("BEGIN")
        try:
            con.execute(
                f"INSERT OR REPLACE INTO ip_info ({', '.join(frame.columns)}) SELECT * FROM new_ip_info"
            )
            con.execute("DELETE FROM enrich_sources")
            con.executemany("INSERT INTO enrich_sources VALUES (?, ?, ?, ?, ?, ?)", described)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("new_ip_info")
    finally:
        sources.close()
    return report


def _describe(sources: Sources) -> list[tuple[str, str, str, datetime | None, int | None, str]]:
    described: list[tuple[str, str, str, datetime | None, int | None, str]] = []
    for slot, database in sources.databases.items():
        described.append((slot, str(database.path), database.database_type, database.built, None, ""))
    for slot, listed in (("tor_exits", sources.tor), ("networks", sources.networks)):
        if listed is not None:
            built = datetime.fromtimestamp(listed.path.stat().st_mtime, UTC).replace(tzinfo=None)
            what = f"{listed.entries} entries" + (
                f" ({listed.format})" if isinstance(listed, TorExits) else ""
            )
            described.append((slot, str(listed.path), what, built, listed.entries, listed.skipped_text()))
    if sources.egress:
        described.append(
            ("egress", "workbench.toml", f"{len(sources.egress)} CIDR(s)", None, len(sources.egress), "")
        )
    return described


def ip_report(con: duckdb.DuckDBPyConnection, ip: str) -> dict[str, Any]:
    """Everything known about one address: enrichment, activity by entity, objects, statuses, findings."""
    info_rows = query_frame(con, "ip_info_one", {"ip": ip}).to_dicts()
    info = info_rows[0] if info_rows else {"ip": ip, "kind": classify(ip)[0], "enriched": False}
    activity = query_frame(con, "ip_activity", {"ip": ip})
    return {
        "info": info,
        "activity": activity.to_dicts(),
        "objects": query_frame(con, "ip_objects", {"ip": ip}).to_dicts(),
        "status_codes": query_frame(con, "ip_status_codes", {"ip": ip}).to_dicts(),
        "findings": query_frame(con, "ip_findings", {"ip": ip}).to_dicts(),
    }
