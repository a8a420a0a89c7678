"""The style bar DESIGN.md sets: ruff clean, formatted, and mypy clean on the package."""

from __future__ import annotations

import subprocess
import sys
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
