"""The integrations inventory: the connected apps seen in the logs, and a starter catalog.

The inventory service is imported inside the command, not at the top: start-up time (it loads
Polars); `workbench status` and `--help` must not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli import tables
from workbench.cli.common import ConfigOption, DbOption, checked, fail, opened, say, settings, write_file
from workbench.cli.tables import Column, count, joined, minute

commands = typer.Typer()

APP_COLUMNS: list[Column[dict[str, Any]]] = [
    Column("privilege", lambda a: a["privilege"], wrap=False),
    Column("app", lambda a: a["name"], wrap=False),
    Column("id", lambda a: a["connected_app_id"], wrap=False),
    Column("users", lambda a: joined(a["users"])),
    Column("first seen", lambda a: minute(a["first_seen"]), wrap=False),
    Column("last seen", lambda a: minute(a["last_seen"]), wrap=False),
    Column("calls", lambda a: count(a["calls"]), wrap=False),
    Column("objects", lambda a: joined(a["objects"])),
    Column("IPs", lambda a: joined(a["ips"], limit=4)),
    Column("write %", lambda a: f"{100 * (a['write_share'] or 0):.0f}", wrap=False),
    Column("error %", lambda a: f"{100 * (a['error_rate'] or 0):.1f}", wrap=False),
    Column("catalog", lambda a: a["catalog_name"] or "-", wrap=False),
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
) -> None:
    """The connected apps seen in the logs, ranked by privilege; optionally a starter catalog."""
    from workbench.inventory import inventory, starter_catalog
    from workbench.times import day_bound

    configured = settings(config)
    end = checked(lambda: day_bound(until, "--until"))
    with opened(db, read_only=True) as con:
        apps = inventory(con, configured, end)
    tables.show(apps, APP_COLUMNS, title=f"Integrations seen in the logs: {len(apps)}")
    if write_catalog:
        if write_catalog.exists() or write_catalog.is_symlink():
            raise fail(f"{write_catalog} already exists: choose another path or remove it")
        write_file(write_catalog, starter_catalog(apps))
        say(f"wrote a starter catalog for {len(apps)} app(s) to {write_catalog}: review it")
