"""The integrations inventory: the connected apps seen in the logs or known from the org context
(tokens, connected-app policies, login history), posture findings, and a starter catalog.

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
    Column(
        "tokens", lambda a: f"{len(a['tokens'])} / {a['token_holders']} holder(s)" if a["tokens"] else "-"
    ),
    Column("admins", lambda a: joined(a["admin_holders"], limit=2) or "-"),
    Column("catalog", lambda a: a["catalog_name"] or "-", wrap=False),
    Column("why (privilege points)", lambda a: a["privilege_why"]),
]

TOKEN_COLUMNS: list[Column[dict[str, Any]]] = [
    Column("app", lambda t: t["app_name"], wrap=False),
    Column("holder", lambda t: t["user_name"] or t["user_id"]),
    Column("profile", lambda t: t["user_profile"] or "-"),
    Column("created", lambda t: minute(t["created_date"])),
    Column("last used", lambda t: minute(t["last_used_date"])),
    Column("use count", lambda t: count(t["use_count"]), right=True),
]

POSTURE_COLUMNS: list[Column[dict[str, Any]]] = [
    Column("severity", lambda f: f["severity"], wrap=False),
    Column("detector", lambda f: f["detector"], wrap=False),
    Column("app", lambda f: f["entity_label"], wrap=False),
    Column("explanation", lambda f: f["explanation"]),
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
    from workbench.inventory import (
        app_entity,
        inventory,
        only_in_findings,
        posture_findings,
        reference_time,
        starter_catalog,
    )
    from workbench.times import day_bound

    configured = settings(config)
    end = checked(lambda: day_bound(until, "--until"))
    if write_catalog and (write_catalog.exists() or write_catalog.is_symlink()):
        raise fail(f"{write_catalog} already exists: choose another path or remove it")
    with opened(db, read_only=True) as con:
        apps = inventory(con, configured, end)
        left_out = only_in_findings(con, end) if write_catalog else {}
        now = reference_time(con)
    posture = [f.row() for f in posture_findings(apps, configured, now)]
    for app in apps:  # JSON and CSV carry each app's posture findings in its record
        app["posture"] = [f["explanation"] for f in posture if f["entity_id"] == app_entity(app)]
    tables.show(apps, APP_COLUMNS, format, title=f"Integrations: {len(apps)}")
    if format in (Format.table, Format.markdown):
        held = [t for app in apps for t in app["tokens"]]
        if held:
            tables.show(held, TOKEN_COLUMNS, format, title=f"OAuth tokens (latest snapshot): {len(held)}")
        if posture:
            tables.show(posture, POSTURE_COLUMNS, format, title=f"Posture findings: {len(posture)}")
    if write_catalog:
        write_file(write_catalog, starter_catalog(apps, left_out))
        skipped = sum(len(rows) for rows in left_out.values())
        say(
            f"wrote a starter catalog for {len(apps)} app(s) to {write_catalog}"
            + (f" ({skipped} value(s) seen only in findings or from anonymizers left out)" if skipped else "")
            + ": review it",
            stderr=format != Format.table,
        )
