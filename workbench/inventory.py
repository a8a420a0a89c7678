"""The integration inventory seen in the logs, ranked by privilege, and a starter catalog."""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import datetime
from typing import Any

import duckdb

from workbench.config import Settings
from workbench.render import UNSAFE_CHARACTERS as _UNSAFE
from workbench.store.queries import query_frame

_WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def privilege_parts(app: dict[str, Any], settings: Settings) -> dict[str, float]:
    """What makes up the privilege score, in points: writes (up to 30), objects (25), sensitive
    objects (20), bulk access (15), volume (10)."""
    objects = app["objects"] or []
    sensitive = [o for o in objects if settings.is_sensitive(o)]
    return {
        "writes": 30 * (app["write_share"] or 0),
        "objects": min(25, 3 * len(objects)),
        "sensitive objects": min(20, 5 * len(sensitive)),
        "bulk": 15 if (app["bulk_share"] or 0) > 0 else 0,
        "volume": min(10, math.log10(max(app["calls"], 1)) * 2),
    }


def privilege_score(app: dict[str, Any], settings: Settings) -> int:
    """0-100: what a stolen token of this app could reach (writes, objects, sensitive objects,
    bulk access, volume)."""
    return max(0, min(100, round(sum(privilege_parts(app, settings).values()))))


def privilege_explained(app: dict[str, Any], settings: Settings) -> str:
    """The score's parts in words: 'writes 12% +4, 8 objects +24, 3 sensitive +15, bulk +15, 9,120 calls +8'."""
    parts = privilege_parts(app, settings)
    objects = app["objects"] or []
    sensitive = [o for o in objects if settings.is_sensitive(o)]
    words = [
        f"writes {100 * (app['write_share'] or 0):.0f}% +{parts['writes']:.0f}",
        f"{len(objects)} objects +{parts['objects']:.0f}",
        f"{len(sensitive)} sensitive"
        + (f" ({', '.join(sensitive[:4])})" if sensitive else "")
        + f" +{parts['sensitive objects']:.0f}",
        f"bulk {100 * (app['bulk_share'] or 0):.0f}% +{parts['bulk']:.0f}",
        f"{app['calls']:,} calls +{parts['volume']:.0f}",
    ]
    return ", ".join(words)


def inventory(
    con: duckdb.DuckDBPyConnection, settings: Settings, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Every connected app with its observed behaviour (before UNTIL), most privileged first."""
    apps = query_frame(con, "integrations_inventory", {"until": until or datetime(9999, 1, 1)}).to_dicts()
    for app in apps:
        app["privilege"] = privilege_score(app, settings)
        app["privilege_why"] = privilege_explained(app, settings)
        app["sensitive_objects"] = [o for o in app["objects"] or [] if settings.is_sensitive(o)]
        entry = settings.catalog_for(app["connected_app_id"])
        app["catalog_name"] = entry.name if entry else None
    return sorted(apps, key=lambda a: (-a["privilege"], -a["calls"]))


def only_in_findings(
    con: duckdb.DuckDBPyConnection, until: datetime | None = None
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per (org, app id): the addresses, hours and objects a starter catalog must not declare, each
    with its reason (seen only in high or critical findings, or from an anonymizer)."""
    rows = query_frame(con, "integrations_only_in_findings", {"until": until or datetime(9999, 1, 1)})
    result: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows.to_dicts():
        result.setdefault((row["org_id"], row["connected_app_id"]), []).append(row)
    return result


def toml_string(value: object) -> str:
    """VALUE as a TOML basic string that loads back to exactly VALUE: quote and backslash escaped,
    and every control, bidi or invisible character (which TOML forbids raw, or which would hide
    in an editor) written as \\uXXXX / \\UXXXXXXXX. Lone surrogates cannot be written in TOML at
    all and become U+FFFD."""
    text = "" if value is None else str(value)

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        if 0xD800 <= code <= 0xDFFF:
            return "\\ufffd"
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    return '"' + _UNSAFE.sub(escape, text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def _hours_window(hours: list[int]) -> str:
    """The smallest window (possibly wrapping midnight) covering the active hours."""
    if not hours:
        return "00:00-24:00"
    active = sorted(set(hours))
    if len(active) == 24:
        return "00:00-24:00"
    gaps = [((active[(i + 1) % len(active)] - h) % 24, h) for i, h in enumerate(active)]
    _, last_before_gap = max(gaps)
    start = active[(active.index(last_before_gap) + 1) % len(active)]
    end = (last_before_gap + 1) % 24
    return f"{start:02d}:00-{end if end else 24:02d}:00"


def starter_catalog(
    apps: list[dict[str, Any]], left_out: dict[tuple[str, str], list[dict[str, Any]]] | None = None
) -> str:
    """integrations.toml text declaring what each app was observed to do: review, then use it.
    LEFT_OUT (see only_in_findings) is commented out with its reason, never declared."""
    left_out = left_out or {}
    lines = [
        "# Starter integration catalog written by `workbench integrations --write-catalog`.",
        "# Every value below is what the logs showed, not what was agreed: review each entry with",
        "# the integration's owner, then point workbench.toml at this file ([detect] integrations = ...).",
        "# Addresses, hours and objects seen only in high or critical findings, or from anonymizers, are",
        "# left out and listed in comments: declaring them would teach the detectors the incident.",
        "",
    ]
    for app in apps:
        skipped = left_out.get((app["org_id"], app["connected_app_id"]), [])
        skip = {(r["kind"], r["value"]) for r in skipped}
        hours = [h for h in app["active_hours"] or [] if ("hour", str(h)) not in skip]
        ips = [ip for ip in app["ips"] or [] if _is_ip(ip) and ("ip", ip) not in skip]
        objects = [o for o in app["objects"] or [] if ("object", o) not in skip]
        weekdays = [_WEEKDAY_NAMES[d - 1] for d in app["active_weekdays"] or []]
        lines += [
            "[[integration]]",
            f"name = {toml_string(str(app['name'] or app['connected_app_id']))}",
            f"connected_app_id = {toml_string(app['connected_app_id'])}",
            'owner = ""',
            'purpose = ""',
            f"# users seen: {', '.join(toml_string(u) for u in (app['users'] or [])[:5])}",
            f"expected_hours = {toml_string(_hours_window(hours))}  # UTC",
            f"expected_weekdays = [{', '.join(toml_string(d) for d in weekdays)}]",
            f"egress_cidrs = [{', '.join(toml_string(ip + '/32') for ip in ips)}]",
            f"allowed_objects = [{', '.join(toml_string(o) for o in objects)}]",
            *(
                f"# left out: {row['kind']} "
                + (f"{int(row['value']):02d}:00 UTC" if row["kind"] == "hour" else toml_string(row["value"]))
                + f" ({row['reason']})"
                for row in skipped
            ),
            f"expected_daily_calls = {round(app['p90_daily_calls'] or 0)}",
            'bursty_days = []  # e.g. ["month_end", 15]',
            "",
        ]
    return "\n".join(lines)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
