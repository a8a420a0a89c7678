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

from workbench.store.queries import query_frame

KINDS = {
    "ip": "ip", "ipv4": "ip", "ipv6": "ip", "cidr": "cidr", "net": "cidr", "network": "cidr",
    "ua": "client", "user_agent": "client", "useragent": "client", "client": "client", "client_name": "client",
    "app": "app", "connected_app": "app", "connected_app_id": "app", "user": "user", "user_id": "user",
}  # fmt: skip
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
    if kind == "ip":
        return str(ipaddress.ip_address(value))
    if kind == "cidr":
        return str(ipaddress.ip_network(value, strict=False))
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
    networks = [(i.value, ipaddress.ip_network(i.value)) for i in indicators if i.kind == "cidr"]
    matched_by: dict[str, str] = {ip: ip for ip in exact_ips}
    if networks:
        for (ip,) in con.execute("SELECT DISTINCT ip FROM hourly_activity WHERE ip IS NOT NULL").fetchall():
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                continue
            for text, net in networks:
                if address.version == net.version and address in net:
                    matched_by.setdefault(ip, text)
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
