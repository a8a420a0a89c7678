"""Enrichment benchmark: a store with 100,000 distinct addresses enriched from City, ASN and
Anonymous-IP databases (synthetic, 20,000 networks each), a Tor list and a network list.

Run: uv run python tests/benchmarks/bench_enrich.py [--addresses 100000]
Prints the time of the first enrichment and of an incremental re-run (nothing new to look up).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime
from pathlib import Path

import polars as pl
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from workbench.config import EnrichConfig
from workbench.enrich.service import enrich_store
from workbench.store.db import open_store


def blocks_for(networks: int) -> list[str]:
    rng = random.Random(1)
    return [
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24" for _ in range(networks)
    ]


def addresses_for(count: int, blocks: list[str]) -> list[str]:
    """Half inside the databases' networks (hits cost the most to decode), half anywhere."""
    rng = random.Random(2)
    found: set[str] = set()
    while len(found) < count:
        if len(found) % 2:
            found.add(rng.choice(blocks).replace("0/24", str(rng.randint(1, 254))))
        else:
            found.add(
                ".".join(str(rng.randint(1 if n == 0 else 0, 223 if n == 0 else 255)) for n in range(4))
            )
    return sorted(found)


def build_sources(folder: Path, blocks: list[str]) -> EnrichConfig:
    writers = {
        "city": MMDBWriter(6, "GeoLite2-City", ["en"], "bench", True, "u32"),
        "asn": MMDBWriter(6, "GeoLite2-ASN", ["en"], "bench", True, "u32"),
        "anon": MMDBWriter(6, "GeoIP2-Anonymous-IP", ["en"], "bench", True, "u32"),
    }
    for n, block in enumerate(blocks):
        nets = IPSet([block])
        writers["city"].insert_network(
            nets,
            {
                "country": {"iso_code": "US", "names": {"en": "United States"}},
                "city": {"names": {"en": f"City {n}"}},
                "location": {"latitude": 40.0, "longitude": -75.0, "accuracy_radius": 50},
            },
        )
        writers["asn"].insert_network(
            nets,
            {
                "autonomous_system_number": 64500 + n % 1000,
                "autonomous_system_organization": f"Network {n % 1000}",
            },
        )
        if n % 10 == 0:
            writers["anon"].insert_network(nets, {"is_anonymous": True, "is_hosting_provider": True})
    paths = {}
    for slot, writer in writers.items():
        paths[slot] = folder / f"{slot}.mmdb"
        writer.to_db_file(str(paths[slot]))
    tor = folder / "tor.txt"
    tor.write_text("\n".join(f"185.220.{i // 256}.{i % 256}" for i in range(1500)) + "\n")
    networks_file = folder / "networks.txt"
    networks_file.write_text("network,label\n146.70.0.0/16,vpn\nAS64501,proxy\n")
    return EnrichConfig(paths["city"], paths["asn"], paths["anon"], tor, networks_file, ("64.10.0.0/16",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--addresses", type=int, default=100_000)
    parser.add_argument("--networks", type=int, default=20_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="workbench-bench-enrich-"))
    started = time.perf_counter()
    blocks = blocks_for(args.networks)
    config = build_sources(folder, blocks)
    print(f"built sources with {args.networks:,} networks in {time.perf_counter() - started:.1f} s")
    con = open_store(folder / "bench.duckdb")
    con.register("addresses", pl.DataFrame({"ip": addresses_for(args.addresses, blocks)}))
    moment = datetime(2025, 11, 1)
    con.execute(
        """INSERT INTO hourly_activity (org_id, event_type, hour, ip, calls, errors, auth_failures,
                                        rows_processed, first_ts, last_ts)
           SELECT '00D000000000001', 'ApiTotalUsage', ?, ip, 1, 0, 0, 0, ?, ? FROM addresses""",
        [moment, moment, moment],
    )
    (count,) = con.execute("SELECT count(DISTINCT ip) FROM hourly_activity").fetchall()[0]
    started = time.perf_counter()
    report = enrich_store(con, config)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = enrich_store(con, config)
    second = time.perf_counter() - started
    (flagged,) = con.execute("SELECT count(*) FROM ip_info WHERE is_hosting OR is_tor").fetchall()[0]
    print(
        f"distinct addresses: {count:,}; looked up {report.looked_up:,} in {first:.1f} s "
        f"({report.looked_up / first:,.0f} addresses/s); {flagged:,} flagged"
    )
    print(f"incremental re-run: {again.looked_up} looked up in {second:.2f} s")


if __name__ == "__main__":
    main()
