"""The style bar DESIGN.md sets: ruff clean, formatted, mypy clean on the package, and the
layering contracts (import-linter, in pyproject.toml) kept."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_and_format() -> None:
    lint = run("ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout
    formatted = run("ruff", "format", "--check", ".")
    assert formatted.returncode == 0, formatted.stdout


def test_mypy_on_the_package() -> None:
    typed = run("mypy", "workbench")
    assert typed.returncode == 0, typed.stdout


def test_import_contracts_are_kept() -> None:
    """The one-way data flow: the layers, Textual only in the TUI, Typer only in the CLI, no domain
    module importing a front end, the store importing no source or detector."""
    lint_imports = Path(sysconfig.get_path("scripts")) / "lint-imports"
    checked = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
