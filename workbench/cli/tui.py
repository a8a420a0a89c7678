"""The interactive front end: tui, and demo (build a demo store, then open it).

Textual and the services are imported inside each command, not at the top: start-up time.
Textual alone takes longer to import than `workbench status` takes to run, and the demo's build
loads the whole detector suite; the types stay named for mypy under TYPE_CHECKING.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli.common import (
    EXIT_BUSY,
    ConfigOption,
    DbOption,
    checked,
    fail,
    opened,
    progress,
    say,
    say_enriched,
    settings,
)
from workbench.cli.ingest import print_status
from workbench.render import shell_command
from workbench.store.db import resolve_db_path

if TYPE_CHECKING:
    from workbench.config import Settings

commands = typer.Typer()


@commands.command()
def tui(db: DbOption = None, config: ConfigOption = None) -> None:
    """Open the investigation workbench (Textual) on the store."""
    from workbench.tui import settings as tui_settings

    configured = settings(config)
    if db is None and not resolve_db_path(None).exists():
        remembered = tui_settings.load().get("db")
        db = Path(remembered) if isinstance(remembered, str) and Path(remembered).exists() else None
    run_tui(resolve_db_path(db), configured)


@commands.command()
def demo(
    db: Annotated[Path, typer.Option("--db", help="Demo database to build.")] = Path("demo.duckdb"),
    open_tui: Annotated[bool, typer.Option("--tui/--no-tui", help="Open the TUI after building.")] = True,
) -> None:
    """Build demo.duckdb from sample_logs/ (generated if absent), scan it, and open the TUI
    (on a terminal; otherwise print what it holds)."""
    from workbench.demo import build_demo
    from workbench.enrich.sources import SourceError
    from workbench.sample.demo import sample_logs

    sample = sample_logs()
    if sample.generated:
        say(f"no sample_logs/ shipped here; generated it into {sample.folder}", stderr=True)
    configured = settings(None)
    with opened(db) as con:
        with progress("building the demo") as update:
            built = checked(lambda: build_demo(con, sample, configured, update), SourceError)
        say_enriched(built.enrichment)
        added, skipped = built.ingest.rows_added, built.ingest.count("skipped")
        exports = sum(r.context_count("loaded") for r in built.org_context)
        say(
            f"demo database: {db} ({added:,} events added, {skipped} files already there; "
            f"{exports} org-context export(s) loaded from {sample.org_context.name}/)"
        )
        print_status(con)
        say(
            f"scan, {built.scan.days.describe()}: {built.scan.findings.height} finding(s), {built.serious} "
            "high or critical (the planted incident: sample_logs/README.md)"
        )
    if open_tui and sys.stdin.isatty() and sys.stdout.isatty():
        run_tui(db, configured)  # after the build let go of the store: the TUI reads it shared
        return
    tui_command = shell_command("uv", "run", "workbench", "tui", "--db", db)
    say(f"Next: {tui_command}   or   {shell_command('uv', 'run', 'workbench', 'scan', '--db', db)}")


def run_tui(db: Path, configured: Settings) -> None:
    """Run the TUI; if it stopped on an error (Textual has printed it), exit 1 with one line."""
    from workbench.store.db import DatabaseBusy, StoreError
    from workbench.tui.app import run

    try:
        code = run(db, configured)
    except DatabaseBusy as exc:
        raise fail(str(exc), EXIT_BUSY) from None
    except StoreError as exc:
        raise fail(str(exc)) from None
    if code:
        raise fail("the TUI stopped on an unexpected error (shown above)", code)
