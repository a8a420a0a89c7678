"""Idempotency, dedupe of overlapping files, rejects, refused files, encodings, archives."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

from tests.conftest import API_TOTAL_USAGE_HEADER, api_row, quoted_csv, write_log
from workbench.sources.local import ingest_paths


def count(con, sql: str = "SELECT count(*) FROM events") -> int:
    return con.execute(sql).fetchone()[0]


def day_rows(n: int, hour: int = 10, prefix: str = "r") -> list[list[str]]:
    return [
        api_row(ts=f"20251118{hour:02d}{i // 60 % 60:02d}{i % 60:02d}.000", request_id=f"{prefix}{i}")
        for i in range(n)
    ]


def test_same_file_twice_is_a_no_op(con, tmp_path: Path) -> None:
    path = write_log(tmp_path / "a.csv", API_TOTAL_USAGE_HEADER, day_rows(50))
    first = ingest_paths(con, [path])
    second = ingest_paths(con, [path])
    assert first.rows_added == 50
    assert second.count("skipped") == 1 and second.rows_added == 0
    assert count(con) == 50
    assert count(con, "SELECT sum(calls) FROM hourly_activity") == 50


def test_redelivered_daily_file_adds_only_the_new_rows(con, tmp_path: Path) -> None:
    ingest_paths(con, [write_log(tmp_path / "d1.csv", API_TOTAL_USAGE_HEADER, day_rows(40))])
    # Salesforce re-delivers the day with late events appended: different bytes, same rows.
    redelivered = write_log(
        tmp_path / "d2.csv", API_TOTAL_USAGE_HEADER, day_rows(40) + day_rows(5, 11, "late")
    )
    report = ingest_paths(con, [redelivered])
    assert report.rows_added == 5 and report.rows_duplicate == 40
    assert count(con) == 45
    assert count(con, "SELECT sum(calls) FROM hourly_activity") == 45


def test_hourly_files_overlapping_a_daily_file_in_one_run(con, tmp_path: Path) -> None:
    daily = day_rows(30, 10) + day_rows(30, 11, "b")
    write_log(tmp_path / "daily.csv", API_TOTAL_USAGE_HEADER, daily)
    write_log(tmp_path / "hourly-10-seq1.csv", API_TOTAL_USAGE_HEADER, day_rows(30, 10))
    # A late hourly file (Sequence 2) repeats some rows and adds one.
    write_log(
        tmp_path / "hourly-10-seq2.csv",
        API_TOTAL_USAGE_HEADER,
        [*day_rows(3, 10), api_row(ts="20251118105959.000", request_id="late-1")],
    )
    report = ingest_paths(con, [tmp_path])
    assert report.count("ingested") == 3
    assert count(con) == 61
    assert report.rows_duplicate == 33
    assert count(con, "SELECT sum(calls) FROM hourly_activity") == 61


def test_rows_without_request_id_dedupe_on_content(con, tmp_path: Path) -> None:
    rows = [api_row(request_id="", ts=f"2025111810000{i}.000") for i in range(5)]
    ingest_paths(con, [write_log(tmp_path / "a.csv", API_TOTAL_USAGE_HEADER, rows)])
    ingest_paths(con, [write_log(tmp_path / "b.csv", API_TOTAL_USAGE_HEADER, [*rows, rows[0]])])
    assert count(con) == 5


def test_bad_rows_go_to_rejects_with_line_numbers_and_the_rest_lands(con, tmp_path: Path) -> None:
    good = api_row(request_id="ok1")
    text = quoted_csv(API_TOTAL_USAGE_HEADER, [good])
    text += '"ApiTotalUsage","20230718225959.250","short"\n'  # line 3: too few columns
    text += quoted_csv(
        API_TOTAL_USAGE_HEADER, [api_row(request_id="bad-ts", ts="yesterday", derived="")]
    ).split("\n", 1)[1]
    text += quoted_csv(API_TOTAL_USAGE_HEADER, [api_row(request_id="ok2")]).split("\n", 1)[1]
    path = tmp_path / "mixed.csv"
    path.write_text(text)
    report = ingest_paths(con, [path])
    assert report.count("ingested") == 1
    assert report.rows_added == 2 and report.rows_rejected == 2
    rejects = con.execute("SELECT line_no, reason, raw FROM rejects ORDER BY line_no").fetchall()
    assert [r[0] for r in rejects] == [3, 4]
    assert rejects[0][1] == "too few columns"
    assert rejects[1][1] == "unparseable TIMESTAMP yesterday"
    assert '"bad-ts"' in rejects[1][2]
    assert count(con, "SELECT rows_rejected FROM files") == 2


def test_non_event_log_files_are_refused_and_others_still_ingest(con, tmp_path: Path) -> None:
    write_log(tmp_path / "good.csv", API_TOTAL_USAGE_HEADER, day_rows(3))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "binary.csv").write_bytes(b"\x00\x01\x02PNG\x00" * 10)
    (tmp_path / "error.csv").write_text("<!DOCTYPE html><html><body>Session expired</body></html>")
    (tmp_path / "other.csv").write_text('"Name","Email"\n"a","b"\n')
    full = gzip.compress(quoted_csv(API_TOTAL_USAGE_HEADER, day_rows(2000)).encode())
    (tmp_path / "truncated.csv.gz").write_bytes(full[: len(full) // 2])
    report = ingest_paths(con, [tmp_path])
    reasons = {Path(f.label).name: f.reason for f in report.files if f.status == "refused"}
    assert set(reasons) == {"empty.csv", "binary.csv", "error.csv", "other.csv", "truncated.csv.gz"}
    assert "empty" in reasons["empty.csv"]
    assert "binary" in reasons["binary.csv"]
    assert "HTML" in reasons["error.csv"]
    assert "EVENT_TYPE" in reasons["other.csv"]
    assert "gzip" in reasons["truncated.csv.gz"]
    assert count(con) == 3  # the truncated file landed not at all
    assert count(con, "SELECT count(*) FROM files WHERE status = 'refused'") == 5


def test_non_utf8_bytes_are_replaced_and_counted(con, tmp_path: Path) -> None:
    text = quoted_csv(API_TOTAL_USAGE_HEADER, [api_row(client="Caf\u00e9 sync", request_id="x")])
    raw = text.encode("utf-8").replace("Caf\u00e9".encode(), b"Caf\xe9")  # latin-1 byte
    (tmp_path / "latin.csv").write_bytes(raw)
    report = ingest_paths(con, [tmp_path])
    assert report.count("ingested") == 1 and report.rows_added == 1
    assert report.bytes_replaced == 1
    assert con.execute("SELECT client_name FROM events").fetchone()[0] == "Caf\ufffd sync"


def test_gzip_and_zip_inputs_and_names_carry_no_meaning(con, tmp_path: Path) -> None:
    body = quoted_csv(API_TOTAL_USAGE_HEADER, day_rows(4)).encode()
    (tmp_path / "download.bin").write_bytes(gzip.compress(body))  # gzip without a .gz name
    other = quoted_csv(API_TOTAL_USAGE_HEADER, day_rows(6, 12, "z")).encode()
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:
        archive.writestr("logs/2025-11-18_ApiTotalUsage.csv", other)
        archive.writestr("README.txt", "not a log")
    report = ingest_paths(con, [tmp_path / "download.bin", tmp_path / "export.zip"])
    assert report.count("ingested") == 2, report.files
    assert count(con) == 10
    labels = {f.label for f in report.files}
    assert any(label.endswith("export.zip!logs/2025-11-18_ApiTotalUsage.csv") for label in labels)


def test_folder_is_walked_recursively(con, tmp_path: Path) -> None:
    write_log(tmp_path / "a" / "b" / "c.csv", API_TOTAL_USAGE_HEADER, day_rows(2))
    (tmp_path / "a" / "notes.md").write_text("# not a log")
    report = ingest_paths(con, [tmp_path])
    assert report.count("ingested") == 1 and len(report.files) == 1


def test_missing_path_is_reported(con, tmp_path: Path) -> None:
    report = ingest_paths(con, [tmp_path / "nope"])
    assert report.files[0].status == "refused" and "no such file" in report.files[0].reason
