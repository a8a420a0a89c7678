"""Small synthetic enrichment sources covering the generated sample's addresses.

They are made up for the demo (never GeoLite2 data): City, ASN and Anonymous-IP databases in
MaxMind format written with mmdb-writer, a Tor bulk exit list and a network list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

from workbench.sample.generator import HOSTING_IOC_IP, TOR_EXIT_IPS

# City -> country code, country name, latitude, longitude.
PLACES: dict[str, tuple[str, str, float, float]] = {
    "Ashburn": ("US", "United States", 39.0438, -77.4874),
    "Boardman": ("US", "United States", 45.8399, -119.7006),
    "Council Bluffs": ("US", "United States", 41.2619, -95.8608),
    "Boydton": ("US", "United States", 36.6676, -78.3875),
    "San Jose": ("US", "United States", 37.3394, -121.895),
    "New York": ("US", "United States", 40.7128, -74.006),
    "Berlin": ("DE", "Germany", 52.5244, 13.4105),
}
# AS number -> AS organisation.
AS_ORGS: dict[int, str] = {
    14618: "Amazon.com, Inc.",
    16509: "Amazon.com, Inc.",
    396982: "Google LLC",
    8075: "Microsoft Corporation",
    15224: "Adobe Inc.",
    7922: "Comcast Cable Communications",
    60729: "Stiftung Erneuerbare Freiheit",
}
# Network, city, AS number, whether it is a hosting provider.
NETWORKS: list[tuple[str, str, int, bool]] = [
    ("52.0.0.0/8", "Ashburn", 14618, True),
    ("54.0.0.0/8", "Ashburn", 14618, True),
    ("3.0.0.0/8", "Ashburn", 14618, True),
    ("44.0.0.0/8", "Boardman", 16509, True),
    ("34.0.0.0/8", "Council Bluffs", 396982, True),
    ("20.0.0.0/8", "Boydton", 8075, True),
    ("104.0.0.0/8", "San Jose", 15224, True),
    ("64.0.0.0/8", "New York", 7922, False),
    ("185.220.101.0/24", "Berlin", 60729, False),
]


def _writer(database_type: str) -> MMDBWriter:
    # One IPv6 tree with IPv4 at ::/96 serves both families.
    return MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description=f"workbench sample {database_type} (synthetic, for the demo only)",
        int_type="u32",
    )


def write_sample_enrichment(folder: Path) -> list[Path]:
    """Write city.mmdb, asn.mmdb, anonymous-ip.mmdb, tor-exits.txt and networks.txt (CSV: network,label)."""
    folder.mkdir(parents=True, exist_ok=True)
    city, asn, anon = _writer("GeoLite2-City"), _writer("GeoLite2-ASN"), _writer("GeoIP2-Anonymous-IP")
    for network, town, number, hosting in NETWORKS:
        code, country_name, latitude, longitude = PLACES[town]
        country = {"iso_code": code, "names": {"en": country_name}}
        record: dict[str, Any] = {
            "country": country,
            "registered_country": country,
            "city": {"names": {"en": town}},
            "location": {"latitude": latitude, "longitude": longitude, "accuracy_radius": 20},
        }
        addresses = IPSet([network])
        city.insert_network(addresses, record)
        asn.insert_network(
            addresses, {"autonomous_system_number": number, "autonomous_system_organization": AS_ORGS[number]}
        )
        if hosting:
            anon.insert_network(addresses, {"is_anonymous": True, "is_hosting_provider": True})
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
