"""The integrations inventory: the connected apps seen in the logs, and a starter catalog.

The inventory service is imported inside the command, not at the top: start-up time (it loads
Polars); `workbench status` and `--help` must not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli import tables
from workbench.cli.common import (
    ConfigOption,
    DbOption,
    Format,
    FormatOption,
    checked,
    fail,
    opened,
    say,
    settings,
    write_file,
)
from workbench.cli.tables import Column, count, joined, minute

commands = typer.Typer()

APP_COLUMNS: list[Column[dict[str, Any]]] = [
    Column("privilege", lambda a: a["privilege"], right=True, wrap=False),
    Column("org", lambda a: a["org_id"], wrap=False),
    Column("app", lambda a: a["name"], wrap=False),
    Column("id", lambda a: a["connected_app_id"], wrap=False),
    Column("users", lambda a: joined(a["users"], limit=2)),
    Column("last seen", lambda a: minute(a["last_seen"])),
    Column("calls", lambda a: count(a["calls"]), right=True, wrap=False),
    Column("objects", lambda a: joined(a["objects"])),
    Column("IPs", lambda a: joined(a["ips"], limit=4)),
    Column("catalog", lambda a: a["catalog_name"] or "-", wrap=False),
    Column("why (privilege points)", lambda a: a["privilege_why"]),
]


@commands.command()
def integrations(
    db: DbOption = None,
    config: ConfigOption = None,
    write_catalog: Annotated[
        Path | None, typer.Option(help="Write a starter integrations.toml here.")
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only behaviour before this day (draft a catalog from before an incident)."),
    ] = None,
    format: FormatOption = Format.table,
) -> None:
    """The connected apps seen in the logs, ranked by privilege (the score explained: writes,
    objects, sensitive objects, bulk, volume); optionally a starter catalog that leaves out what
    only the findings or anonymizers showed."""
    from workbench.inventory import inventory, only_in_findings, starter_catalog
    from workbench.times import day_bound

    configured = settings(config)
    end = checked(lambda: day_bound(until, "--until"))
    if write_catalog and (write_catalog.exists() or write_catalog.is_symlink()):
        raise fail(f"{write_catalog} already exists: choose another path or remove it")
    with opened(db, read_only=True) as con:
        apps = inventory(con, configured, end)
        left_out = only_in_findings(con, end) if write_catalog else {}
    tables.show(apps, APP_COLUMNS, format, title=f"Integrations seen in the logs: {len(apps)}")
    if write_catalog:
        write_file(write_catalog, starter_catalog(apps, left_out))
        skipped = sum(len(rows) for rows in left_out.values())
        say(
            f"wrote a starter catalog for {len(apps)} app(s) to {write_catalog}"
            + (f" ({skipped} value(s) seen only in findings or from anonymizers left out)" if skipped else "")
            + ": review it",
            stderr=format != Format.table,
        )
