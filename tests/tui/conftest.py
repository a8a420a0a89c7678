"""The TUI tests' stores: the demo store, built once for the whole package, and a copy per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import copy_store
from workbench.cli import app as cli


@pytest.fixture(scope="package")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("tui") / "demo.duckdb"
    result = CliRunner().invoke(cli, ["demo", "--db", str(db)])  # not a terminal: builds, scans, prints
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def db(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the demo store of the test's own, and TUI settings kept in its own folder."""
    monkeypatch.setenv("WORKBENCH_TUI_SETTINGS", str(tmp_path / "tui.json"))
    copy = tmp_path / "demo.duckdb"
    copy_store(demo_db, copy)
    return copy
