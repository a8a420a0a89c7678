"""Hostile logs, hostile files: every case runs the real CLI and checks the promise: no traceback,
the documented exit code (0 ok, 2 bad input named in one line, 3 busy), and no good row lost."""

from __future__ import annotations

import gzip
import ipaddress
import json
import sqlite3
import time
from pathlib import Path

import duckdb
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from typer.testing import CliRunner

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, quoted_csv
from workbench.cli import app
from workbench.store import partitions
from workbench.store.db import open_store
from workbench.store.inputs import READ_CHUNK, LogInput, normalised_copy
from workbench.store.queries import statements

runner = CliRunner()


def invoke(*args: str | Path) -> tuple[int, str]:
    """Run the CLI; fail the test on any traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"{type(result.exception).__name__}: {result.exception}\n{result.output}"
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def events(db: Path) -> int:
    return int(query(db, "SELECT count(*) FROM events")[0][0])


def rows(n: int, prefix: str, hour: int = 10) -> list[list[str]]:
    return [
        api_row(ts=f"20251118{hour:02d}{i // 60:02d}{i % 60:02d}.000", request_id=f"{prefix}{i}")
        for i in range(n)
    ]


def one_line_error(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith(("error:", "refused:"))]
    assert len(errors) == 1, output
    return errors[0]


# 1. Line endings ------------------------------------------------------------------------------


def _lines(n: int = 5) -> tuple[str, list[str]]:
    header, *body = quoted_csv(API_TOTAL_USAGE_HEADER, rows(n, "r")).rstrip("\n").split("\n")
    return header, body


def _mixed(endings: list[str]) -> bytes:
    header, body = _lines(len(endings) - 1)
    return "".join(line + end for line, end in zip([header, *body], endings, strict=True)).encode()


LINE_ENDING_MIXES = {
    "crlf header, lf rows": ["\r\n"] + ["\n"] * 5,
    "lf header, crlf rows": ["\n"] + ["\r\n"] * 5,
    "every ending in turn": ["\r\n", "\n", "\r", "\r\n", "\n", "\r"],
    "cr only": ["\r"] * 6,
    "crlf only": ["\r\n"] * 6,
    "no final line end": ["\n", "\r\n", "\n", "\r", "\r\n", ""],
}


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("mix", sorted(LINE_ENDING_MIXES))
def test_every_line_ending_mix_reads_every_row(tmp_path: Path, mix: str, gzipped: bool) -> None:
    data = _mixed(LINE_ENDING_MIXES[mix])
    path = tmp_path / ("log.csv.gz" if gzipped else "log.csv")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    db = tmp_path / "w.duckdb"
    code, output = invoke("ingest", path, "--db", db)
    assert code == 0, output
    assert "1 file(s) ingested" in output and "5 events added" in output and "0 rows rejected" in output
    stored = query(db, "SELECT request_id, ts, attributes FROM events ORDER BY request_id")
    assert [r[0] for r in stored] == [f"r{i}" for i in range(5)]
    assert not any("\r" in str(r) for r in stored)


def test_normalising_line_endings_streams_across_chunk_boundaries(tmp_path: Path) -> None:
    # A CRLF split across the reader's chunks must stay one line end, not become two.
    raw = b"a" * (READ_CHUNK - 1) + b"\r\n" + b"b\rc\r\nd\n" + b"e" * READ_CHUNK + b"\r"
    source = tmp_path / "in.csv"
    source.write_bytes(raw)
    copy = normalised_copy(LogInput(source), tmp_path / "out.csv")
    assert copy.read_bytes() == raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def test_mixed_line_endings_across_a_chunk_boundary_through_the_cli(tmp_path: Path) -> None:
    header, body = quoted_csv(API_TOTAL_USAGE_HEADER, rows(3500, "big")).rstrip("\n").split("\n", 1)
    text = header + "\n" + body.replace("\n", "\r\n") + "\r\n"
    # Pad the first row so that one CRLF straddles the first 1 MiB chunk.
    cr = text.rfind("\r", 0, READ_CHUNK)
    text = text.replace('"big0"', '"big0' + "x" * (READ_CHUNK - 1 - cr) + '"', 1)
    assert text.encode()[READ_CHUNK - 1 : READ_CHUNK + 1] == b"\r\n"
    path = tmp_path / "big.csv"
    path.write_bytes(text.encode())
    db = tmp_path / "w.duckdb"
    code, output = invoke("ingest", path, "--db", db)
    assert code == 0, output
    assert events(db) == 3500 and "0 rows rejected" in output


def test_a_file_with_data_but_no_event_is_refused_and_tried_again_later(tmp_path: Path) -> None:
    no_org = [api_row(request_id=f"o{i}", org="") for i in range(3)]
    path = tmp_path / "no-org.csv"
    path.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, no_org))
    db = tmp_path / "w.duckdb"
    code, output = invoke("ingest", path, "--db", db)
    assert code == 2
    line = one_line_error(output)
    assert "no-org.csv" in line and "no event could be read" in line and "line 2" in line
    assert "ORGANIZATION_ID" in line
    assert query(db, "SELECT count(*) FROM files WHERE status = 'ingested'")[0][0] == 0
    # Not remembered as ingested: with --org the same bytes are read again.
    code, output = invoke("ingest", path, "--db", db, "--org", "00D000000000001")
    assert code == 0, output
    assert events(db) == 3
    # A header-only file has no data lines: it is an (empty) ingested file, not a refusal.
    empty = tmp_path / "header-only.csv"
    empty.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, []))
    assert invoke("ingest", empty, "--db", db)[0] == 0


# 2. One bad file or row affects only itself -----------------------------------------------------


def test_hostile_files_next_to_good_ones_refuse_only_themselves(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    good = 0

    def write(name: str, header: list[str], body: list[list[str]], gzipped: bool = False) -> None:
        text = quoted_csv(header, body).encode()
        (logs / name).write_bytes(gzip.compress(text) if gzipped else text)

    # A truncated gzip that sorts first among gzipped files with the same header.
    full = gzip.compress(quoted_csv(API_TOTAL_USAGE_HEADER, rows(3000, "t")).encode())
    (logs / "a-truncated.csv.gz").write_bytes(full[: len(full) // 2])
    for n in range(3):
        write(f"b-good-{n}.csv.gz", API_TOTAL_USAGE_HEADER, rows(20, f"gz{n}-", hour=n), gzipped=True)
        good += 20
    # A column named like DuckDB's filename column (and one like our ordinal), and a bad row in it.
    header = [*API_TOTAL_USAGE_HEADER, "FILENAME", "ORDINAL"]
    body = [[*r, "x.csv", "1"] for r in rows(10, "fn")] + [
        [*api_row(request_id="fn-bad", ts="never", derived=""), "y", "2"]
    ]
    write("c-filename.csv", header, body)
    good += 10
    # An absurd ROWS_PROCESSED: that row is rejected, the others of its file and chunk land.
    header = [*API_TOTAL_USAGE_HEADER, "ROWS_PROCESSED"]
    body = [[*r, "7"] for r in rows(10, "rp", hour=4)] + [
        [*api_row(request_id="rp-huge"), "9000000000000000000"]
    ]
    write("d-rows.csv", header, body)
    write("d-rows-2.csv", header, [[*r, "5"] for r in rows(10, "rq", hour=5)])
    good += 20
    # A far-future timestamp next to good rows.
    write(
        "e-future.csv",
        API_TOTAL_USAGE_HEADER,
        [*rows(5, "f", hour=6), api_row(request_id="f-9999", ts="99991231235959", derived="")],
    )
    good += 5
    # Names DuckDB would take as globs: each must be read as itself, once.
    for name in ("g*.csv", "g?.csv", "g[1].csv", "g1.csv"):
        write(name, API_TOTAL_USAGE_HEADER, rows(4, f"{name}-", hour=7))
        good += 4

    db = tmp_path / "w.duckdb"
    code, output = invoke("ingest", logs, "--db", db)
    assert code == 2, output
    refused = [line for line in output.splitlines() if line.startswith("refused:")]
    assert len(refused) == 1 and "a-truncated.csv.gz" in refused[0] and "gzip" in refused[0], output
    assert events(db) == good
    assert query(db, "SELECT sum(calls) FROM hourly_activity")[0][0] == good
    assert query(db, "SELECT sum(rows_processed) FROM hourly_activity")[0][0] == 120
    rejects = dict(query(db, "SELECT reason, line_no FROM rejects"))
    assert rejects.pop("unparseable TIMESTAMP never") == 12
    huge = next(r for r in rejects if r.startswith("ROWS_PROCESSED 9000000000000000000"))
    assert rejects.pop(huge) == 12 and "out of range" in huge
    future = next(r for r in rejects if r.startswith("TIMESTAMP 99991231235959"))
    assert rejects.pop(future) == 7 and "future" in future
    assert not rejects
    attributes = json.loads(query(db, "SELECT attributes FROM events WHERE request_id = 'fn0'")[0][0])
    assert attributes["FILENAME"] == "x.csv" and attributes["ORDINAL"] == "1"
    # The refused file is tried again next time; the others are not read twice.
    code, output = invoke("ingest", logs, "--db", db)
    assert code == 2 and "11 already ingested" in output and events(db) == good


def test_a_failure_while_committing_one_file_of_a_chunk_refuses_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workbench.store.ingest as ingest_module

    real = ingest_module._hour_floor

    def explode_at_13(value):  # type: ignore[no-untyped-def]
        if value.hour == 13:
            raise OverflowError("date value out of range")
        return real(value)

    monkeypatch.setattr(ingest_module, "_hour_floor", explode_at_13)
    for name, hour in (("a.csv", 10), ("b.csv", 13), ("c.csv", 11)):
        (tmp_path / name).write_text(quoted_csv(API_TOTAL_USAGE_HEADER, rows(5, name, hour=hour)))
    db = tmp_path / "w.duckdb"
    code, output = invoke("ingest", tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv", "--db", db)
    assert code == 2
    line = one_line_error(output)
    assert "b.csv" in line and "OverflowError" in line
    assert events(db) == 10


def test_the_hourly_sum_of_rows_processed_cannot_overflow(tmp_path: Path) -> None:
    con = open_store(tmp_path / "w.duckdb")
    try:
        # Stored the way ingest stores events (a batch of partition files named in the catalog).
        huge = partitions.write_batch(
            con,
            """SELECT 1 AS file_id, 'o' AS org_id, 'API' AS event_type, ts, NULL AS request_id, NULL AS user_id,
                      NULL AS user_name, NULL AS connected_app_id, NULL AS connected_app_name,
                      NULL AS client_name, NULL AS client_ip, NULL AS source_ip, NULL AS api_family,
                      NULL AS api_resource, NULL AS http_method, NULL AS entity_name, NULL AS status_code,
                      9000000000000000000 AS rows_processed, NULL AS user_agent, false AS is_error,
                      NULL AS content_key, NULL AS attributes
                 FROM (VALUES (TIMESTAMP '2025-11-18 10:00'), (TIMESTAMP '2025-11-18 10:30')) v(ts)""",
            partitions.events_folder(con),
        )
        partitions.record(con, huge)
        window = {"org_id": "o", "event_type": "API", "start": "2025-11-18 10:00", "end": "2025-11-18 11:00"}
        for statement in statements("refresh_hourly_activity"):
            con.execute(statement, window)
        assert con.execute("SELECT rows_processed FROM hourly_activity").fetchall() == [(2**63 - 1,)]
    finally:
        con.close()


# 3. Time ----------------------------------------------------------------------------------------


def test_utc_offsets_are_applied_and_impossible_times_are_rejects_with_line_numbers(tmp_path: Path) -> None:
    body = [
        api_row(request_id="minus8", ts="", derived="2025-11-18T10:00:00-08:00"),
        api_row(request_id="plus0530", ts="", derived="2025-11-18T23:30:00.250+0530"),
        api_row(request_id="zulu", ts="", derived="2025-11-18T18:00:00.000Z"),
        api_row(request_id="future", ts="20991231120000.000", derived=""),
        api_row(request_id="old", ts="19980101000000.000", derived=""),
        api_row(request_id="plain", ts="20251118180000", derived=""),
    ]
    path = tmp_path / "offsets.csv"
    path.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, body))
    db = tmp_path / "w.duckdb"
    code, output = invoke("ingest", path, "--db", db)
    assert code == 0, output
    stored = {r[0]: r[1].isoformat() for r in query(db, "SELECT request_id, ts FROM events")}
    assert stored == {
        "minus8": "2025-11-18T18:00:00",
        "plus0530": "2025-11-18T18:00:00.250000",
        "zulu": "2025-11-18T18:00:00",
        "plain": "2025-11-18T18:00:00",
    }
    rejects = query(db, "SELECT line_no, reason FROM rejects ORDER BY line_no")
    assert [r[0] for r in rejects] == [5, 6]
    assert "20991231120000.000 is in the future" in rejects[0][1]
    assert "19980101000000.000 is before 1999" in rejects[1][1]


# 4. Sizes ---------------------------------------------------------------------------------------


def test_a_header_of_100k_columns_is_refused_quickly(tmp_path: Path) -> None:
    header = ["EVENT_TYPE", "TIMESTAMP", *(f"C{i}" for i in range(100_000))]
    path = tmp_path / "wide.csv"
    path.write_text(quoted_csv(header, [["API", "20251118100000", *("" for _ in range(100_000))]]))
    good = tmp_path / "good.csv"
    good.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, rows(3, "g")))
    db = tmp_path / "w.duckdb"
    started = time.perf_counter()
    code, output = invoke("ingest", path, good, "--db", db)
    assert time.perf_counter() - started < 5  # 46 s and 3 GB before; well under a second now
    assert code == 2
    line = one_line_error(output)
    assert "wide.csv" in line and "100,002 columns" in line
    assert events(db) == 3


def test_the_whole_header_line_is_read_up_to_a_bound(tmp_path: Path) -> None:
    # The columns that make it an event log come after the first 64 KB of the header.
    long_names = [f"CUSTOM_FIELD_{i:04d}_" + "x" * 90 for i in range(700)]
    header = [*long_names, *API_TOTAL_USAGE_HEADER]
    wide = tmp_path / "wide-names.csv"
    wide.write_text(quoted_csv(header, [["v"] * 700 + r for r in rows(2, "w")]))
    assert len(wide.read_text().split("\n")[0]) > 64 * 1024
    endless = tmp_path / "endless.csv"
    endless.write_text('"EVENT_TYPE","TIMESTAMP",' + '"C",' * 400_000 + '"END"\n')
    db = tmp_path / "w.duckdb"
    code, output = invoke("ingest", wide, endless, "--db", db)
    assert code == 2
    line = one_line_error(output)
    assert "endless.csv" in line and "longer than 1,048,576 bytes" in line
    assert events(db) == 2


def test_cidr_sweep_is_a_join_over_ipv4_and_ipv6(tmp_path: Path) -> None:
    addresses = ["185.220.101.9", "52.1.2.3", "2a0b:f4c0::1", "10.0.0.1", "::ffff:198.18.0.7"]
    body = [api_row(request_id=f"a{i}", ip=ip) for i, ip in enumerate(addresses)]
    body.append(api_row(request_id="sf", ip="Salesforce.com IP"))
    logs = tmp_path / "a.csv"
    logs.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, body))
    db = tmp_path / "w.duckdb"
    assert invoke("ingest", logs, "--db", db)[0] == 0
    # 20,000 networks that match nothing, then the ones that do (the first listed wins).
    decoys = [f"{ipaddress.ip_address(0x64000000 + i * 256)}/24" for i in range(20_000)]
    iocs = tmp_path / "iocs.txt"
    iocs.write_text(
        "\n".join(
            [*decoys, "185.220.0.0/16", "185.220.101.0/24", "2a0b:f4c0::/32", "198.18.0.0/15", "52.1.2.3"]
        )
        + "\n"
    )
    started = time.perf_counter()
    code, output = invoke("sweep", "--ioc", iocs, "--db", db, "--format", "json")
    assert code == 0, output
    assert time.perf_counter() - started < 30
    hits = {h["value"]: h["indicator"] for h in json.loads(output[output.index("[") :])}
    assert hits == {
        "185.220.101.9": "185.220.0.0/16",
        "2a0b:f4c0::1": "2a0b:f4c0::/32",
        "198.18.0.7": "198.18.0.0/15",
        "52.1.2.3": "52.1.2.3",
    }


# 5. One line where one line is promised -----------------------------------------------------------


def _mmdb(path: Path, record: dict) -> Path:
    writer = MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"], int_type="u32"
    )
    writer.insert_network(IPSet(["185.220.101.0/24"]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def store_with_address(tmp_path: Path) -> Path:
    logs = tmp_path / "a.csv"
    logs.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, [api_row(request_id="x", ip="::ffff:185.220.101.9")]))
    db = tmp_path / "w.duckdb"
    assert invoke("ingest", logs, "--db", db)[0] == 0
    return db


def test_corrupt_or_out_of_range_mmdb_is_a_one_line_error(store_with_address: Path, tmp_path: Path) -> None:
    good = _mmdb(tmp_path / "good.mmdb", {"country": {"iso_code": "DE", "names": {"en": "Germany"}}})
    data = good.read_bytes()
    truncated = tmp_path / "truncated.mmdb"
    truncated.write_bytes(data[: len(data) // 2])
    garbage_tree = tmp_path / "garbage-tree.mmdb"
    marker = data.rfind(b"\xab\xcd\xefMaxMind.com")
    garbage_tree.write_bytes(b"\xff" * marker + data[marker:])
    wrong_shape = _mmdb(tmp_path / "wrong-shape.mmdb", {"country": "DE"})
    out_of_range = _mmdb(
        tmp_path / "out-of-range.mmdb", {"country": {"iso_code": "DE"}, "location": {"latitude": 500.0}}
    )
    for bad, why in (
        (truncated, "not a readable MaxMind database"),
        (garbage_tree, "corrupt"),
        (wrong_shape, "corrupt record"),
        (out_of_range, "latitude"),
    ):
        code, output = invoke("enrich", "--db", store_with_address, "--city", bad)
        assert code == 2, output
        line = one_line_error(output)
        assert bad.name in line and why in line, line
    # The same through ingest when [enrich] names the file.
    config = tmp_path / "workbench.toml"
    config.write_text(f'[enrich]\ncity = "{out_of_range}"\n')
    more = tmp_path / "more.csv"
    more.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, [api_row(request_id="y", ip="185.220.101.10")]))
    code, output = invoke("ingest", more, "--db", store_with_address, "--config", config)
    assert code == 2 and "out-of-range.mmdb" in one_line_error(output)
    assert events(store_with_address) == 2  # the events landed before enrichment failed


def test_a_damaged_or_foreign_database_file_is_a_one_line_error(tmp_path: Path) -> None:
    logs = tmp_path / "a.csv"
    logs.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, rows(50, "d")))
    db = tmp_path / "w.duckdb"
    assert invoke("ingest", logs, "--db", db)[0] == 0
    data = db.read_bytes()
    sqlite_db = tmp_path / "other.sqlite"
    with sqlite3.connect(sqlite_db) as con:
        con.execute("CREATE TABLE t (x)")
    cases = {"sqlite": (sqlite_db, "SQLite")}
    for fraction in (0.9, 0.5, 0.34, 0.01):
        cut = tmp_path / f"cut-{fraction}.duckdb"
        cut.write_bytes(data[: int(len(data) * fraction)])
        cases[f"cut {fraction}"] = (cut, "")
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("hello")
    cases["text"] = (not_duckdb, "not a DuckDB database")
    for name, (path, why) in cases.items():
        for command in (["status"], ["ingest", str(logs)], ["findings"]):
            code, output = invoke(*command, "--db", path)
            assert code == 2, (name, command, output)
            line = one_line_error(output)
            assert path.name in line and why in line, (name, line)


# 6. IPv4-mapped IPv6 ----------------------------------------------------------------------------


def test_ipv4_mapped_addresses_are_stored_plain_enriched_and_matched(
    store_with_address: Path, tmp_path: Path
) -> None:
    more = tmp_path / "more.csv"
    body = [
        api_row(request_id="hex", ip="::FFFF:b9dc:650a"),
        api_row(request_id="long", ip="0:0:0:0:0:ffff:185.220.101.11"),
        api_row(request_id="v6", ip="2a0b:f4c0::1"),
        api_row(request_id="sf", ip="Salesforce.com IP"),
        api_row(request_id="odd", ip="::ffff:999.1.1.1"),
    ]
    more.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, body))
    assert invoke("ingest", more, "--db", store_with_address)[0] == 0
    stored = dict(query(store_with_address, "SELECT request_id, client_ip FROM events"))
    assert stored == {
        "x": "185.220.101.9",
        "hex": "185.220.101.10",
        "long": "185.220.101.11",
        "v6": "2a0b:f4c0::1",
        "sf": "Salesforce.com IP",
        "odd": "::ffff:999.1.1.1",
    }
    city = _mmdb(tmp_path / "city.mmdb", {"country": {"iso_code": "DE", "names": {"en": "Germany"}}})
    assert invoke("enrich", "--db", store_with_address, "--city", city)[0] == 0
    assert query(store_with_address, "SELECT country_code FROM ip_info WHERE ip = '185.220.101.9'") == [
        ("DE",)
    ]
    iocs = tmp_path / "iocs.txt"
    iocs.write_text("::ffff:185.220.101.9\n")
    code, output = invoke("sweep", "--ioc", iocs, "--db", store_with_address, "--format", "json")
    assert code == 0, output
    hits = json.loads(output[output.index("[") :])
    assert [h["value"] for h in hits] == ["185.220.101.9"]


# 7. TIMESTAMP_DERIVED offsets and range (audit follow-up) -----------------------------------------


def test_derived_times_out_of_range_or_with_impossible_offsets_reject_only_their_row(tmp_path: Path) -> None:
    body = [
        api_row(request_id="good1", ts="20251118100000.000", derived=""),
        api_row(request_id="year0", ts="", derived="0001-01-01T00:00:00+14:00"),  # moves to year 0
        api_row(request_id="hour_only", ts="", derived="2025-11-18 12:00:00.5-08"),
        api_row(request_id="plus99", ts="", derived="2025-11-18T12:00:00+99:00"),
        api_row(request_id="minutes99", ts="", derived="2025-11-18T12:00:00+05:99"),
        api_row(request_id="plus14", ts="", derived="2025-11-19T08:00:00+14:00"),
        api_row(request_id="named_zone", ts="", derived="2025-11-18 12:00:00 America/New_York"),
        api_row(request_id="future", ts="", derived="2099-12-31T12:00:00Z"),
        # A usable TIMESTAMP still gives the time when TIMESTAMP_DERIVED's offset is impossible.
        api_row(request_id="fallback", ts="20251118190000.000", derived="2025-11-18T12:00:00-99:00"),
        api_row(request_id="good2", ts="20251118110000.000", derived=""),
    ]
    path = tmp_path / "derived.csv"
    path.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, body))
    db = tmp_path / "w.duckdb"
    code, output = invoke("ingest", path, "--db", db)
    assert code == 0, output
    assert "1 file(s) ingested" in output and "5 rows rejected" in output
    stored = {r[0]: r[1].isoformat() for r in query(db, "SELECT request_id, ts FROM events")}
    assert stored == {
        "good1": "2025-11-18T10:00:00",
        "hour_only": "2025-11-18T20:00:00.500000",
        "plus14": "2025-11-18T18:00:00",
        "fallback": "2025-11-18T19:00:00",
        "good2": "2025-11-18T11:00:00",
    }
    rejects = dict(query(db, "SELECT line_no, reason FROM rejects"))
    assert sorted(rejects) == [3, 5, 6, 8, 9]
    assert rejects[3] == "TIMESTAMP 0001-01-01T00:00:00+14:00 is before 1999-01-01"
    assert "2025-11-18T12:00:00+99:00 has a UTC offset out of range (more than 14:00" in rejects[5]
    assert "2025-11-18T12:00:00+05:99 has a UTC offset out of range" in rejects[6]
    assert rejects[8] == "unparseable TIMESTAMP 2025-11-18 12:00:00 America/New_York"
    assert "2099-12-31T12:00:00Z is in the future" in rejects[9]


# 8. IPv4-mapped IPv6 given by the user (audit follow-up) -------------------------------------------

MAPPED_SPELLINGS = [
    "::ffff:1.2.3.4",
    "::FFFF:102:304",
    "0:0:0:0:0:ffff:1.2.3.5",
    "0::ffff:1.2.3.6",
    "0:0:0:0::ffff:1.2.3.7",
    "::0:0:ffff:1.2.3.8",
    "0000:0::ffff:0102:0309",
    "::0:0:0:0:0:ffff:1.2.3.4",  # not an address (nine groups): kept as given
    "::ffff:999.1.1.1",
    "::ffff:1.2.3.4%eth0",
    "::fffe:1.2.3.4",
    "1::ffff:1.2.3.4",
    "2a0b:f4c0::1",
    "Salesforce.com IP",
]


def test_ingest_and_user_given_addresses_share_one_mapped_rule(tmp_path: Path) -> None:
    from workbench.store.ingest import plain_address

    logs = tmp_path / "spellings.csv"
    body = [api_row(request_id=f"s{i}", ip=ip) for i, ip in enumerate(MAPPED_SPELLINGS)]
    logs.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, body))
    db = tmp_path / "w.duckdb"
    assert invoke("ingest", logs, "--db", db)[0] == 0
    stored = dict(query(db, "SELECT request_id, client_ip FROM events"))
    assert [stored[f"s{i}"] for i in range(len(MAPPED_SPELLINGS))] == [
        plain_address(v) for v in MAPPED_SPELLINGS
    ]
    assert stored["s6"] == "1.2.3.9" and stored["s7"] == "::0:0:0:0:0:ffff:1.2.3.4"


def test_mapped_iocs_and_scopes_match_the_plain_addresses_ingest_stores(tmp_path: Path) -> None:
    logs = tmp_path / "a.csv"
    body = [
        api_row(request_id="a", ip="45.155.205.1"),
        api_row(request_id="b", ip="::ffff:45.155.205.1"),
        api_row(request_id="c", ip="52.2.2.77"),
        api_row(request_id="d", ip="52.2.3.1"),
    ]
    logs.write_text(quoted_csv(API_TOTAL_USAGE_HEADER, body))
    db = tmp_path / "w.duckdb"
    assert invoke("ingest", logs, "--db", db)[0] == 0
    iocs = tmp_path / "iocs.txt"
    iocs.write_text("::ffff:52.2.2.0/120\n::ffff:45.155.205.1/128\n::ffff:0:0/95\n")
    code, output = invoke("sweep", "--ioc", iocs, "--db", db, "--format", "json")
    assert code == 0, output
    hits = {h["value"]: (h["indicator"], h["kind"]) for h in json.loads(output[output.index("[") :])}
    assert hits == {"52.2.2.77": ("52.2.2.0/24", "cidr"), "45.155.205.1": ("45.155.205.1/32", "cidr")}

    def calls(*ips: str) -> int:
        window = ["--start", "2023-07-18", "--end", "2023-07-19"]
        scope = [a for ip in ips for a in ("--ip", ip)]
        code, output = invoke("backcheck", *window, *scope, "--db", db, "--format", "json")
        assert code == 0, output
        return int(json.loads(output[output.index("{") :])["total_calls"])

    assert calls("45.155.205.1") == 2
    assert calls("::ffff:45.155.205.1") == 2
    assert calls("::FFFF:2d9b:cd01") == 2
    assert calls("::ffff:52.2.2.0/120") == 1
    assert calls("::ffff:52.2.0.0/112") == 2
