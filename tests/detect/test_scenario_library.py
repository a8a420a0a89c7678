"""The scenario library keeps its promises: labels on disk match, every labelled entity is in the
store in its window with the rows its scenario plants, runs are deterministic per seed."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.sample.scenarios import ATTACKS, BENIGN, Label, generate_scenarios, load_labels

SEED, SCALE, DAYS = 5, 0.1, 20
runner = CliRunner()


def _generate(folder: Path, *, seed: int = SEED, attacks: bool = True, benign: bool = True) -> list[Label]:
    return generate_scenarios(folder, seed=seed, scale=SCALE, days=DAYS, attacks=attacks, benign=benign)


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _headers(folder: Path) -> set[str]:
    return {p.read_text().split("\n", 1)[0] for p in folder.rglob("*.csv")}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Label], duckdb.DuckDBPyConnection]:
    folder = tmp_path_factory.mktemp("scenarios")
    logs, db = folder / "logs", folder / "store.duckdb"
    labels = _generate(logs)
    result = runner.invoke(app, ["ingest", str(logs), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "0 refused" in result.output and "0 rows rejected" in result.output
    return logs, labels, duckdb.connect(str(db), read_only=True)


def test_labels_file_matches_the_return_value(
    library: tuple[Path, list[Label], duckdb.DuckDBPyConnection],
) -> None:
    logs, labels, _ = library
    assert load_labels(logs / "labels.json") == labels
    raw = json.loads((logs / "labels.json").read_text())
    assert raw[0]["start"] == labels[0].start.isoformat()
    assert sorted({label.scenario for label in labels}) == sorted([*ATTACKS, *BENIGN])
    for label in labels:
        assert label.kind == ("attack" if label.scenario in ATTACKS else "benign")
        assert label.entity_type == "connected_app" and len(label.entity_id) == 15
        assert label.entity_id.startswith("0H4")
        assert label.start < label.end
    first_day = date(2025, 11, 21) - timedelta(days=DAYS - 1)
    for label in labels:
        if label.kind == "attack":
            assert (label.start.date() - first_day).days >= 8, label  # eight days of history before


def test_files_are_laid_out_like_the_generator(
    library: tuple[Path, list[Label], duckdb.DuckDBPyConnection],
) -> None:
    logs, _, _ = library
    names = {p.name.split("_", 1)[1] for p in logs.rglob("*.csv")}
    assert names == {"ApiTotalUsage.csv", "Login.csv", "BulkApi2.csv"}
    sample = next(logs.rglob("*_ApiTotalUsage.csv")).read_text().splitlines()
    header, row = sample[0].split(","), sample[1]
    assert header[0] == '"EVENT_TYPE"' and all(h.startswith('"') and h.endswith('"') for h in header)
    assert row.startswith('"ApiTotalUsage",') and row.count('"') == 2 * len(header)


def test_every_labelled_entity_is_in_the_store_in_its_window(
    library: tuple[Path, list[Label], duckdb.DuckDBPyConnection],
) -> None:
    _, labels, con = library
    for label in labels:
        (calls,) = con.execute(
            "SELECT count(*) FROM events WHERE org_id = ? AND left(connected_app_id, 15) = ? "
            "AND ts >= ? - INTERVAL 1 HOUR AND ts <= ? + INTERVAL 1 HOUR",
            [label.org_id, label.entity_id, label.start, label.end],
        ).fetchone()  # type: ignore[misc]
        assert calls > 0, label
        if label.ips:
            (from_ips,) = con.execute(
                "SELECT count(*) FROM events WHERE org_id = ? AND effective_ip(client_ip, source_ip) IN "
                "(SELECT unnest(?::VARCHAR[])) AND ts BETWEEN ? - INTERVAL 1 HOUR AND ? + INTERVAL 1 HOUR",
                [label.org_id, list(label.ips), label.start, label.end],
            ).fetchone()  # type: ignore[misc]
            assert from_ips > 0, label


def _one(labels: list[Label], scenario: str) -> Label:
    return next(label for label in labels if label.scenario == scenario)


def test_scenarios_plant_the_rows_the_queries_read(
    library: tuple[Path, list[Label], duckdb.DuckDBPyConnection],
) -> None:
    _, labels, con = library
    window = "org_id = ? AND ts BETWEEN ? - INTERVAL 1 HOUR AND ? + INTERVAL 1 HOUR"

    probe = _one(labels, "probe_401_then_access")
    (failures, successes) = con.execute(
        f"SELECT count(*) FILTER (WHERE is_error), count(*) FILTER (WHERE NOT is_error) FROM events "
        f"WHERE event_type = 'Login' AND source_ip = ? AND {window}",
        [probe.ips[0], probe.org_id, probe.start, probe.end],
    ).fetchone()  # type: ignore[misc]
    assert failures >= 20 and successes >= 1

    export = _one(labels, "recon_export_known_app")
    (deletes, results) = con.execute(
        f"SELECT count(*) FILTER (WHERE http_method = 'DELETE'), count(*) FILTER (WHERE api_resource LIKE "
        f"'%/results') FROM events WHERE api_family = 'Bulk' AND left(connected_app_id, 15) = ? AND {window}",
        [export.entity_id, export.org_id, export.start, export.end],
    ).fetchone()  # type: ignore[misc]
    assert deletes >= 1 and results >= 1
    (earlier_deletes,) = con.execute(
        "SELECT count(*) FROM events WHERE http_method = 'DELETE' AND left(connected_app_id, 15) = ? AND ts < ?",
        [export.entity_id, export.start],
    ).fetchone()  # type: ignore[misc]
    assert earlier_deletes == 0

    creep = _one(labels, "error_creep")
    (rate,) = con.execute(
        "SELECT avg(is_error::INT) FROM events WHERE left(connected_app_id, 15) = ? AND ts >= ? - INTERVAL 1 DAY "
        "AND ts < ?",
        [creep.entity_id, creep.end, creep.end],
    ).fetchone()  # type: ignore[misc]
    assert rate > 0.1

    stolen = _one(labels, "stolen_token_night_anonymizer")
    (recon,) = con.execute(
        f"SELECT count(*) FROM events WHERE left(connected_app_id, 15) = ? AND {window} "
        "AND regexp_matches(api_resource, '/sobjects/?$|/describe/?$|/limits/?$')",
        [stolen.entity_id, stolen.org_id, stolen.start, stolen.end],
    ).fetchone()  # type: ignore[misc]
    assert recon >= 3


def test_a_run_without_attacks_has_only_benign_labels(tmp_path: Path) -> None:
    labels = _generate(tmp_path / "calm", attacks=False)
    assert {label.kind for label in labels} == {"benign"}
    assert sorted({label.scenario for label in labels}) == sorted(BENIGN)
    assert _generate(tmp_path / "plain", attacks=False, benign=False) == []
    assert list((tmp_path / "plain").rglob("*_ApiTotalUsage.csv"))


def test_same_seed_same_bytes_other_seed_other_org(tmp_path: Path) -> None:
    _generate(tmp_path / "a", attacks=False)
    _generate(tmp_path / "b", attacks=False)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    other = _generate(tmp_path / "c", attacks=False, seed=SEED + 1)
    same = load_labels(tmp_path / "a" / "labels.json")
    assert {label.entity_id for label in other}.isdisjoint({label.entity_id for label in same})
    assert _headers(tmp_path / "a") != _headers(tmp_path / "c")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) != sorted(
        p.name for p in (tmp_path / "c").iterdir()
    )
