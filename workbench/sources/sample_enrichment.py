"""Small synthetic enrichment sources covering the generated sample's addresses.

They are made up for the demo (never GeoLite2 data): City, ASN and Anonymous-IP databases in
MaxMind format written with mmdb-writer, a Tor bulk exit list and a network list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

from workbench.sources.generator import HOSTING_IOC_IP, TOR_EXIT_IPS

# network, country, country name, city, latitude, longitude, ASN, AS organisation, hosting
NETWORKS: list[tuple[str, str, str, str, float, float, int, str, bool]] = [
    ("52.0.0.0/8", "US", "United States", "Ashburn", 39.0438, -77.4874, 14618, "Amazon.com, Inc.", True),
    ("54.0.0.0/8", "US", "United States", "Ashburn", 39.0438, -77.4874, 14618, "Amazon.com, Inc.", True),
    ("3.0.0.0/8", "US", "United States", "Ashburn", 39.0438, -77.4874, 14618, "Amazon.com, Inc.", True),
    ("44.0.0.0/8", "US", "United States", "Boardman", 45.8399, -119.7006, 16509, "Amazon.com, Inc.", True),
    ("34.0.0.0/8", "US", "United States", "Council Bluffs", 41.2619, -95.8608, 396982, "Google LLC", True),
    ("20.0.0.0/8", "US", "United States", "Boydton", 36.6676, -78.3875, 8075, "Microsoft Corporation", True),
    ("104.0.0.0/8", "US", "United States", "San Jose", 37.3394, -121.895, 15224, "Adobe Inc.", True),
    ("64.0.0.0/8", "US", "United States", "New York", 40.7128, -74.006, 7922, "Comcast Cable Communications", False),
    ("185.220.101.0/24", "DE", "Germany", "Berlin", 52.5244, 13.4105, 60729, "Stiftung Erneuerbare Freiheit", False),
]  # fmt: skip


def _writer(database_type: str) -> MMDBWriter:
    # One IPv6 tree with IPv4 at ::/96 serves both families.
    return MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type=database_type, languages=["en"],
        description=f"workbench sample {database_type} (synthetic, for the demo only)", int_type="u32",
    )  # fmt: skip


def write_sample_enrichment(folder: Path) -> list[Path]:
    """Write city.mmdb, asn.mmdb, anonymous-ip.mmdb, tor-exits.txt and networks.txt (CSV: network,label)."""
    folder.mkdir(parents=True, exist_ok=True)
    city, asn, anon = _writer("GeoLite2-City"), _writer("GeoLite2-ASN"), _writer("GeoIP2-Anonymous-IP")
    for network, code, country, town, lat, lon, number, org, hosting in NETWORKS:
        record: dict[str, Any] = {
            "country": {"iso_code": code, "names": {"en": country}},
            "registered_country": {"iso_code": code, "names": {"en": country}},
            "city": {"names": {"en": town}},
            "location": {"latitude": lat, "longitude": lon, "accuracy_radius": 20},
        }
        city.insert_network(IPSet([network]), record)
        asn.insert_network(
            IPSet([network]), {"autonomous_system_number": number, "autonomous_system_organization": org}
        )
        if hosting:
            anon.insert_network(IPSet([network]), {"is_anonymous": True, "is_hosting_provider": True})
    for ip in TOR_EXIT_IPS:
        anon.insert_network(IPSet([f"{ip}/32"]), {"is_anonymous": True, "is_tor_exit_node": True})
    paths = [folder / "city.mmdb", folder / "asn.mmdb", folder / "anonymous-ip.mmdb"]
    for writer, path in zip((city, asn, anon), paths, strict=True):
        writer.to_db_file(str(path))
    tor = folder / "tor-exits.txt"
    tor.write_text("\n".join([*TOR_EXIT_IPS, "185.220.101.33", "192.42.116.20"]) + "\n")
    networks = folder / "networks.txt"
    networks.write_text(
        "network,label\n"
        f"{HOSTING_IOC_IP}/32,hosting\n"
        "AS60729,tor\n"
        "# Known commercial VPN egress (example)\n"
        "146.70.0.0/16,vpn\n"
    )
    return [*paths, tor, networks]
