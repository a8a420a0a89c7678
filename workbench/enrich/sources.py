"""Local enrichment sources: MaxMind-format databases, Tor exit lists, network lists.

Nothing is downloaded: every source is a file the user points at. Each loader fails with
SourceError, one line naming the file and what was expected.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geoip2.database
import geoip2.errors
import maxminddb

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class SourceError(Exception):
    """An enrichment source that cannot be used; the message names the file and why."""


# Which reader method a database type allows (geoip2 checks a substring of database_type).
SLOT_KINDS = {
    "city": ("City", "Country"),
    "asn": ("ASN",),
    "anon": ("Anonymous-IP",),
}
SLOT_NAMES = {"city": "a City or Country", "asn": "an ASN", "anon": "an Anonymous-IP"}


@dataclass
class GeoDatabase:
    """One opened MaxMind-format database and the method its metadata says to use."""

    path: Path
    reader: geoip2.database.Reader
    database_type: str
    method: str
    built: datetime

    def lookup(self, ip: str) -> Any | None:
        """The record for IP, or None where the database has nothing; SourceError naming the
        file when the record cannot be read (a corrupt tree or data section, wrong types)."""
        try:
            return getattr(self.reader, self.method)(ip)
        except (geoip2.errors.AddressNotFoundError, ValueError):
            # ValueError: an IPv6 address asked of an IPv4-only database.
            return None
        except Exception as exc:  # the file is untrusted: any failure is the file's, said in one line
            raise SourceError(f"{self.path}: corrupt record for {ip} ({_one_line(exc)})") from None


def _one_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0] or type(exc).__name__


def open_database(path: Path, slot: str) -> GeoDatabase:
    """Open PATH for SLOT (city, asn or anon), choosing the reader method from its metadata."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file (expected {SLOT_NAMES[slot]} database)")
    try:
        reader = geoip2.database.Reader(str(path))
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as exc:
        raise SourceError(f"{path}: not a readable MaxMind database ({exc})") from None
    except Exception as exc:  # any other failure on a hostile file is still the file's
        raise SourceError(f"{path}: not a readable MaxMind database ({_one_line(exc)})") from None
    try:
        metadata = reader.metadata()
        database_type = metadata.database_type
        # The build time is shown and compared: an absurd one (past year 9999) is a broken file.
        built = datetime.fromtimestamp(metadata.build_epoch, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError, TypeError) as exc:
        reader.close()
        raise SourceError(f"{path}: metadata out of range ({_one_line(exc)})") from None
    if not isinstance(database_type, str):
        reader.close()
        raise SourceError(f"{path}: metadata has no database type text")
    if not any(kind in database_type for kind in SLOT_KINDS[slot]):
        reader.close()
        raise SourceError(f"{path}: is a {database_type} database, expected {SLOT_NAMES[slot]} database")
    if slot == "city":
        method = "city" if "City" in database_type else "country"
    elif slot == "asn":
        method = "asn"
    else:
        method = "anonymous_ip"
    try:
        # A corrupt tree fails here rather than mid-enrichment.
        getattr(reader, method)("1.1.1.1")
    except (geoip2.errors.AddressNotFoundError, ValueError):
        pass
    except Exception as exc:  # the file is untrusted: any failure is the file's, said in one line
        reader.close()
        raise SourceError(f"{path}: corrupt or unsupported database ({_one_line(exc)})") from None
    return GeoDatabase(path, reader, database_type, method, built)


@dataclass
class ListFile:
    """A parsed list file: its entries, and the lines that could not be read."""

    path: Path
    entries: int = 0
    skipped: list[int] = field(default_factory=list)

    def skipped_text(self) -> str:
        """'' or 'N malformed lines skipped: 3, 7, ...'."""
        if not self.skipped:
            return ""
        shown = ", ".join(str(n) for n in self.skipped[:10])
        return f"{len(self.skipped)} malformed line(s) skipped: {shown}" + (
            ", ..." if len(self.skipped) > 10 else ""
        )


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        yield number, line.strip()


@dataclass
class TorExits(ListFile):
    """Tor exit addresses from the bulk list or the exit-addresses (TorDNSEL) format."""

    addresses: set[str] = field(default_factory=set)
    format: str = ""


_EXIT_ADDRESS = re.compile(r"^ExitAddress\s+(\S+)(\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})?$")
_TORDNSEL_KEYS = ("ExitNode", "Published", "LastStatus", "ExitAddress")


def load_tor_exits(path: Path) -> TorExits:
    """Parse either published Tor exit list format; malformed lines are counted, not fatal."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file (expected a Tor exit list)")
    lines = list(_read_lines(path))
    exits = TorExits(path)
    dnsel = any(line.startswith("ExitNode ") for _, line in lines[:50])
    exits.format = "exit-addresses" if dnsel else "bulk list"
    for number, line in lines:
        if not line or line.startswith("#"):
            continue
        if dnsel:
            if not line.startswith(_TORDNSEL_KEYS):
                exits.skipped.append(number)
                continue
            if line.startswith("ExitAddress"):
                match = _EXIT_ADDRESS.match(line)
                if not match or not _is_address(match.group(1)):
                    exits.skipped.append(number)
                    continue
                exits.addresses.add(str(ipaddress.ip_address(match.group(1))))
        elif _is_address(line):
            exits.addresses.add(str(ipaddress.ip_address(line)))
        else:
            exits.skipped.append(number)
    exits.entries = len(exits.addresses)
    if not exits.addresses and lines:
        raise SourceError(f"{path}: no Tor exit address found (expected one IP per line or exit-addresses)")
    return exits


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


@dataclass
class NetworkList(ListFile):
    """The user's VPN / proxy / hosting networks: CIDRs and ASNs with a label."""

    networks: list[tuple[Network, str]] = field(default_factory=list)
    asns: dict[int, str] = field(default_factory=dict)

    def labels_for(self, address: Address, asn: int | None) -> list[str]:
        """Labels of every listed network or ASN the address belongs to."""
        labels = [label for net, label in self.networks if net.version == address.version and address in net]
        if asn is not None and asn in self.asns:
            labels.append(self.asns[asn])
        return sorted(set(labels))


def load_networks(path: Path) -> NetworkList:
    """Parse a CSV of `network,label` rows, network being a CIDR, an IP or an ASN (AS123)."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file (expected a CSV of network,label)")
    listed = NetworkList(path)
    for number, line in _read_lines(path):
        if not line or line.startswith("#"):
            continue
        try:
            cells = next(csv.reader([line]))
        except csv.Error:
            listed.skipped.append(number)
            continue
        if len(cells) < 2 or cells[0].strip().lower() in ("network", "cidr", "asn"):
            if len(cells) < 2:
                listed.skipped.append(number)
            continue
        target, label = cells[0].strip(), cells[1].strip().lower()
        asn = re.fullmatch(r"(?i)as(\d+)", target)
        try:
            if asn:
                listed.asns[int(asn.group(1))] = label
            else:
                listed.networks.append((ipaddress.ip_network(target, strict=False), label))
        except ValueError:
            listed.skipped.append(number)
            continue
        listed.entries += 1
    return listed


def fingerprint(paths: list[Path | None], extra: str = "") -> str:
    """What the enrichment was computed from: file paths, sizes and mtimes (changing a source
    changes the fingerprint, so its addresses are looked up again)."""
    parts = [extra]
    for path in paths:
        if path is None:
            parts.append("-")
            continue
        stat = path.stat()
        parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
