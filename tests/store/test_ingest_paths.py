"""Ingest's two paths store the same thing: Polars' fast path for clean files (fast_read, the
aggregates from memory) and DuckDB's reader with reject tracking for everything else."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.conftest import API_TOTAL_USAGE_HEADER, LOGIN_HEADER, LOGIN_ROW, api_row, quoted_csv, write_log
from workbench.sources.local import ingest_paths
from workbench.store import fast_read
from workbench.store.db import open_store

SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"

# Everything a store holds for its events; file ids are the sequence's and may differ.
_TABLES = {
    "events": "SELECT * EXCLUDE (file_id) FROM events",
    "hourly_activity": "SELECT * FROM hourly_activity",
    "signal_events": "SELECT * FROM signal_events",
    "client_hourly": "SELECT * FROM client_hourly",
    "files": """SELECT path, org_id, event_type, first_ts, last_ts, rows_read, rows_added, rows_duplicate,
                       rows_rejected, bytes_replaced, status, reason FROM files""",
    "rejects": "SELECT line_no, reason, raw FROM rejects",
    "event_files": "SELECT org_id, event_type, day, rows FROM event_files",
}


def _contents(db: Path) -> dict[str, Counter[str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            name: Counter(repr(row) for row in con.execute(sql).fetchall()) for name, sql in _TABLES.items()
        }


class _Paths:
    """Counts the files each path took."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
        self.fast = self.fallback = 0
        real = fast_read.read_clean

        def read_clean(files, *args, **kwargs):  # type: ignore[no-untyped-def]
            read = real(files, *args, **kwargs) if fast else None
            if read is None:
                self.fallback += len(files)
            else:
                self.fast += len(files)
            return read

        monkeypatch.setattr(fast_read, "read_clean", read_clean)


def _ingest(
    folders: list[Path], db: Path, monkeypatch: pytest.MonkeyPatch, fast: bool, org: str | None = None
) -> _Paths:
    with monkeypatch.context() as patch:
        paths = _Paths(patch, fast)
        con = open_store(db)
        try:
            for folder in folders:
                ingest_paths(con, [folder], default_org=org)
        finally:
            con.close()
    return paths


def _plain_sample(target: Path) -> Path:
    """The sample logs of one org (every event type), gunzipped: files the fast path can read."""
    target.mkdir()
    for source in sorted((SAMPLE_LOGS / "acme-00Dr0F3kxdTdhsx").glob("*.csv.gz"))[::3]:
        (target / source.name.removesuffix(".gz")).write_bytes(gzip.decompress(source.read_bytes()))
    return target


def test_the_fast_path_and_duckdbs_path_store_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = _plain_sample(tmp_path / "logs")
    fast = _ingest([logs], tmp_path / "fast.duckdb", monkeypatch, fast=True)
    slow = _ingest([logs], tmp_path / "slow.duckdb", monkeypatch, fast=False)
    assert fast.fast > 20 and fast.fallback == 0 and slow.fast == 0
    stored = _contents(tmp_path / "fast.duckdb")
    assert stored == _contents(tmp_path / "slow.duckdb")
    assert sum(stored["events"].values()) > 1000 and stored["signal_events"] and stored["client_hourly"]


def test_many_chunks_read_ahead_store_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks: each is read while the one before it commits, and rows repeat across chunks.
    import workbench.store.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "FAST_CHUNK_BYTES", 40_000)
    monkeypatch.setattr(ingest_module, "CHUNK_BYTES", 40_000)
    logs = _plain_sample(tmp_path / "logs")
    first = sorted(logs.glob("*ApiTotalUsage.csv"))[0]
    (logs / "again.csv").write_bytes(first.read_bytes())  # the same content: skipped
    # A re-delivery of part of the day, read in a later chunk: every row a duplicate.
    redelivered = first.read_text(encoding="utf-8").splitlines(keepends=True)
    (logs / "zz-redelivered.csv").write_text(
        "".join(redelivered[:1] + redelivered[1:][::2]), encoding="utf-8"
    )
    fast = _ingest([logs], tmp_path / "fast.duckdb", monkeypatch, fast=True)
    _ingest([logs], tmp_path / "slow.duckdb", monkeypatch, fast=False)
    assert fast.fast > 20 and fast.fallback == 0
    stored = _contents(tmp_path / "fast.duckdb")
    assert stored == _contents(tmp_path / "slow.duckdb")
    with duckdb.connect(str(tmp_path / "fast.duckdb"), read_only=True) as con:
        added, duplicate = con.execute(
            "SELECT rows_added, rows_duplicate FROM files WHERE path LIKE '%zz-redelivered.csv'"
        ).fetchone()
    assert added == 0 and duplicate > 0


def test_both_paths_agree_on_overlapping_redelivered_and_mapped_address_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rows(hour: int, prefix: str, n: int) -> list[list[str]]:
        return [
            api_row(
                ts=f"20251118{hour:02d}{i // 60:02d}{i % 60:02d}.{i:03d}",
                request_id=f"{prefix}{i}",
                client="c/1",
            )
            for i in range(n)
        ]

    first, second = tmp_path / "first", tmp_path / "second"
    write_log(first / "daily.csv", API_TOTAL_USAGE_HEADER, rows(10, "a", 40) + rows(11, "b", 40))
    # Mapped addresses in both spellings, and a Login with 'Salesforce.com IP' and its SOURCE_IP.
    mapped = [api_row(ts="20251118120000.000", request_id="m1", ip="::ffff:185.220.101.9")]
    mapped.append(api_row(ts="20251118120001.000", request_id="m2", ip="::ffff:b9dc:6509"))
    write_log(first / "mapped.csv", API_TOTAL_USAGE_HEADER, mapped)
    write_log(first / "login.csv", LOGIN_HEADER, [LOGIN_ROW])
    # In the next run: an hourly file repeating part of the day with one late row, and the day
    # re-delivered with a row appended in an hour nothing else touched.
    write_log(second / "hourly.csv", API_TOTAL_USAGE_HEADER, rows(10, "a", 10) + rows(10, "late", 1))
    write_log(second / "redelivered.csv", API_TOTAL_USAGE_HEADER, rows(10, "a", 40) + rows(15, "new", 3))
    fast = _ingest([first, second], tmp_path / "fast.duckdb", monkeypatch, fast=True)
    _ingest([first, second], tmp_path / "slow.duckdb", monkeypatch, fast=False)
    assert fast.fast == 5 and fast.fallback == 0
    stored = _contents(tmp_path / "fast.duckdb")
    assert stored == _contents(tmp_path / "slow.duckdb")
    assert sum(stored["events"].values()) == 80 + 2 + 1 + 1 + 3
    addresses = {row for row in stored["events"] if "185.220.101.9" in row}
    assert len(addresses) == 2


@pytest.mark.parametrize(
    ("broken", "trusted"),
    [
        pytest.param(lambda text: text.replace(',"200",', ",", 1), False, id="short row"),
        pytest.param(lambda text: text.replace('"200"', '"200","extra"', 1), False, id="long row"),
        pytest.param(
            lambda text: text.replace('"200"', ' "200" ', 1), False, id="spaces around a quoted value"
        ),
        pytest.param(lambda text: text.replace('"200"', "200", 1), False, id="unquoted value"),
        pytest.param(lambda text: text.replace("\n", "\n\n", 2), False, id="blank line"),
        pytest.param(lambda text: text.replace('"200"', '"1.5"', 1), False, id="decimal status"),
        pytest.param(lambda text: text.replace("10:00:01.001Z", "02:00:01.001-08:00"), False, id="offset"),
        pytest.param(
            lambda text: text.replace("10:00:02.002Z", "10:00:02"), False, id="derived without zone"
        ),
        pytest.param(lambda text: text.replace('"4rBN-no-id"', '""', 1), False, id="no request id"),
        pytest.param(lambda text: text.replace('"REST"', '""', 1), True, id="empty value"),
        pytest.param(
            lambda text: text.replace('"/v58.0/query"', '"a ""quoted"", value"', 1), True, id="quotes"
        ),
        pytest.param(
            lambda text: text.replace('"/v58.0/query"', '"two\nlines"', 1), True, id="newline inside"
        ),
    ],
)
def test_a_file_the_fast_path_cannot_trust_is_stored_as_duckdbs_reader_stores_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken, trusted: bool
) -> None:
    rows = [api_row(ts=f"2025111810000{i}.00{i}", request_id=f"r{i}") for i in range(6)]
    rows[5][2] = "4rBN-no-id"
    text = broken(quoted_csv(API_TOTAL_USAGE_HEADER, rows))
    for name in ("fast", "slow"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "api.csv").write_text(text, encoding="utf-8")
    fast = _ingest([tmp_path / "fast"], tmp_path / "fast.duckdb", monkeypatch, fast=True)
    _ingest([tmp_path / "slow"], tmp_path / "slow.duckdb", monkeypatch, fast=False)
    assert fast.fast == trusted  # or refused by the fast path's checks and read by DuckDB's
    stored = _contents(tmp_path / "fast.duckdb")
    assert {k: v for k, v in stored.items() if k != "files"} == {
        k: v for k, v in _contents(tmp_path / "slow.duckdb").items() if k != "files"
    }
    assert sum(stored["events"].values()) >= 4


def test_a_short_row_keeps_its_line_number_in_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [api_row(ts=f"2025111810000{i}.000", request_id=f"r{i}") for i in range(5)]
    text = quoted_csv(API_TOTAL_USAGE_HEADER, rows).splitlines()
    text[3] = text[3].rsplit(",", 2)[0]  # line 4 loses its last two values
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "api.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    paths = _ingest([tmp_path / "logs"], tmp_path / "w.duckdb", monkeypatch, fast=True)
    assert paths.fast == 0 and paths.fallback == 1
    stored = _contents(tmp_path / "w.duckdb")
    assert [eval(row)[:2] for row in stored["rejects"]] == [(4, "too few columns")]
    assert sum(stored["events"].values()) == 4


def test_a_file_larger_than_a_fast_chunk_takes_duckdbs_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polars holds a whole file in memory; DuckDB's reader does not need to.
    import workbench.store.ingest as ingest_module

    rows = [api_row(ts=f"202511181000{i:02d}.000", request_id=f"r{i}") for i in range(50)]
    write_log(tmp_path / "logs" / "big.csv", API_TOTAL_USAGE_HEADER, rows)
    write_log(tmp_path / "logs" / "small.csv", API_TOTAL_USAGE_HEADER, rows[:1])
    monkeypatch.setattr(ingest_module, "FAST_CHUNK_BYTES", (tmp_path / "logs" / "big.csv").stat().st_size - 1)
    paths = _ingest([tmp_path / "logs"], tmp_path / "w.duckdb", monkeypatch, fast=True)
    assert paths.fast == 1 and paths.fallback == 0  # small.csv; big.csv never offered to Polars
    assert sum(_contents(tmp_path / "w.duckdb")["events"].values()) == 50
