"""Indicators of compromise: parse an IOC file, and sweep the whole store for them."""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from workbench.store.ingest import plain_address, plain_network
from workbench.store.queries import query_frame

KINDS = {
    "ip": "ip",
    "ipv4": "ip",
    "ipv6": "ip",
    "cidr": "cidr",
    "net": "cidr",
    "network": "cidr",
    "ua": "client",
    "user_agent": "client",
    "useragent": "client",
    "client": "client",
    "client_name": "client",
    "app": "app",
    "connected_app": "app",
    "connected_app_id": "app",
    "user": "user",
    "user_id": "user",
}
_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")


class IocError(Exception):
    """An IOC file that cannot be read; the message names the file and why."""


@dataclass(frozen=True)
class Indicator:
    """One indicator: its kind (ip, cidr, client, app, user), the value, where it came from."""

    kind: str
    value: str
    line: int
    note: str = ""


def refang(value: str) -> str:
    """Undo the usual defanging: 3.239.45[.]43, hxxp://, [:]."""
    for defanged, plain in (("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("[:]", ":")):
        value = value.replace(defanged, plain)
    return re.sub(r"(?i)^hxxp", "http", value)


def classify(value: str, kind: str | None = None) -> str:
    """The kind of an indicator value, when the file does not say."""
    if kind:
        return KINDS[kind]
    try:
        ipaddress.ip_address(value)
        return "ip"
    except ValueError:
        pass
    if "/" in value:
        try:
            ipaddress.ip_network(value, strict=False)
            return "cidr"
        except ValueError:
            pass
    if _SALESFORCE_ID.match(value) and value.startswith("0H4"):
        return "app"
    if _SALESFORCE_ID.match(value) and value.startswith("005"):
        return "user"
    return "client"


def parse_iocs(path: Path) -> tuple[list[Indicator], list[int]]:
    """Indicators from a text file (one per line, optional `type:` prefix, # comments,
    defanged forms) or a CSV with a type column; also the numbers of lines that were skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise IocError(f"{path}: cannot read ({exc.strerror or exc})") from None
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    header = [c.strip().lower() for c in next(csv.reader([first]), [])] if "," in first else []
    if "type" in header and ({"value", "indicator", "ioc"} & set(header)):
        return _parse_csv(text, header)
    indicators, skipped = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #")[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        kind = None
        prefix, sep, rest = line.partition(":")
        if sep and prefix.strip().lower() in KINDS:
            kind, line = prefix.strip().lower(), rest.strip()
        value = refang(line)
        found = classify(value, kind)
        if not _valid(found, value):
            skipped.append(number)
            continue
        indicators.append(
            Indicator(
                found, _normal(found, value), number, raw.split(" #", 1)[1].strip() if " #" in raw else ""
            )
        )
    return indicators, skipped


def _parse_csv(text: str, header: list[str]) -> tuple[list[Indicator], list[int]]:
    value_column = next(c for c in ("value", "indicator", "ioc") if c in header)
    indicators, skipped = [], []
    reader = csv.reader(io.StringIO(text))
    number = 0
    for number, cells in enumerate(reader, start=1):
        if not cells or cells[0].startswith("#") or [c.strip().lower() for c in cells] == header:
            continue
        row = dict(zip(header, (c.strip() for c in cells), strict=False))
        kind = row.get("type", "").lower()
        value = refang(row.get(value_column, ""))
        if kind not in KINDS or not value or not _valid(KINDS[kind], value):
            skipped.append(number)
            continue
        found = KINDS[kind]
        indicators.append(
            Indicator(found, _normal(found, value), number, row.get("source", row.get("note", "")))
        )
    return indicators, skipped


def _valid(kind: str, value: str) -> bool:
    try:
        if kind == "ip":
            ipaddress.ip_address(value)
        elif kind == "cidr":
            ipaddress.ip_network(value, strict=False)
        elif kind in ("app", "user"):
            return bool(_SALESFORCE_ID.match(value))
    except ValueError:
        return False
    return bool(value)


def _normal(kind: str, value: str) -> str:
    # Ingest stores IPv4-mapped IPv6 (::ffff:1.2.3.4) as plain IPv4: match it in that form.
    if kind == "ip":
        return str(ipaddress.ip_address(plain_address(value)))
    if kind == "cidr":
        return str(plain_network(value))
    if kind in ("app", "user"):
        return value[:15]
    return value


def sweep(
    con: duckdb.DuckDBPyConnection,
    indicators: list[Indicator],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every indicator seen in the store: first/last seen, events, entities, objects."""
    exact_ips = {i.value for i in indicators if i.kind == "ip"}
    matched_by: dict[str, str] = {ip: ip for ip in exact_ips}
    networks = [i.value for i in indicators if i.kind == "cidr"]
    if networks:
        for ip, network in _addresses_in_networks(con, networks).items():
            matched_by.setdefault(ip, network)
    params = {
        "ips": sorted(matched_by),
        "clients": sorted({i.value.lower() for i in indicators if i.kind == "client"}),
        "apps": sorted({i.value for i in indicators if i.kind == "app"}),
        "users": sorted({i.value for i in indicators if i.kind == "user"}),
        "since": since or datetime(1970, 1, 1),
        "until": until or datetime(9999, 1, 1),
    }
    hits = query_frame(con, "ioc_hits", params).to_dicts()
    by_value = {(i.kind, i.value.lower() if i.kind == "client" else i.value): i for i in indicators}
    for hit in hits:
        if hit["kind"] == "ip":
            hit["indicator"] = matched_by.get(hit["value"], hit["value"])
            hit["kind"] = "cidr" if hit["indicator"] != hit["value"] else "ip"
        else:
            hit["indicator"] = hit["value"]
        source = by_value.get(
            (hit["kind"], hit["indicator"].lower() if hit["kind"] == "client" else hit["indicator"])
        )
        hit["note"] = source.note if source else ""
    return hits


def _address_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """A string that sorts like the address and never between the two families: '4:' or '6:'
    and the address as fixed-width hex (IPv6 needs 128 bits, wider than any native integer)."""
    return f"{address.version}:{int(address):0{8 if address.version == 4 else 32}x}"


def _addresses_in_networks(con: duckdb.DuckDBPyConnection, networks: list[str]) -> dict[str, str]:
    """Each stored address inside one of NETWORKS, with the first such network in file order.

    A range join (DuckDB plans an inequality join), not a loop over networks x addresses: 100k
    CIDRs against 20k addresses took minutes the quadratic way."""
    ranges = []
    for order, text in enumerate(networks):
        net = ipaddress.ip_network(text)
        ranges.append((order, text, _address_key(net.network_address), _address_key(net.broadcast_address)))
    addresses = []
    for (ip,) in con.execute("SELECT DISTINCT ip FROM hourly_activity WHERE ip IS NOT NULL").fetchall():
        try:
            address = ipaddress.ip_address(plain_address(ip))  # mapped ones from an older ingest, too
        except ValueError:
            continue  # 'Salesforce.com IP' and other non-addresses
        addresses.append((ip, _address_key(address)))
    if not ranges or not addresses:
        return {}
    ioc_networks = pl.DataFrame(ranges, schema=["order", "network", "low", "high"], orient="row")
    ioc_addresses = pl.DataFrame(addresses, schema=["ip", "key"], orient="row")
    cursor = con.cursor()  # registrations stay off the caller's connection
    try:
        cursor.register("ioc_networks", ioc_networks)
        cursor.register("ioc_addresses", ioc_addresses)
        rows = cursor.execute(
            """SELECT a.ip, arg_min(n.network, n."order")
                 FROM ioc_addresses a JOIN ioc_networks n ON a.key >= n.low AND a.key <= n.high
                GROUP BY a.ip"""
        ).fetchall()
    finally:
        cursor.close()
    return {str(ip): str(network) for ip, network in rows}
