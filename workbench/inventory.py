"""The integration inventory, ranked by privilege, and a starter catalog.

Privilege combines what was granted (the org context: token holders and admins among them, a
refresh token valid until revoked, IP relaxation, self-authorisation) with what was observed in
the logs (writes, objects, sensitive objects, bulk, volume). Apps with live tokens and no activity
for 90 days, and apps the catalog does not declare, are posture findings."""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import datetime, timedelta
from typing import Any

import duckdb

from workbench.config import CatalogEntry, Settings
from workbench.findings import Finding
from workbench.render import UNSAFE_CHARACTERS as _UNSAFE
from workbench.store.queries import first_row, load_query, query_frame

DORMANT_DAYS = 90
ADMIN_PROFILES = ("system administrator", "admin")

_WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def privilege_parts(app: dict[str, Any], settings: Settings) -> dict[str, float]:
    """What makes up the privilege score, in points: writes (up to 30), objects (25), sensitive
    objects (20), bulk access (15), volume (10)."""
    objects = app["objects"] or []
    sensitive = [o for o in objects if settings.is_sensitive(o)]
    observed = {
        "writes": 30 * (app["write_share"] or 0),
        "objects": min(25, 3 * len(objects)),
        "sensitive objects": min(20, 5 * len(sensitive)),
        "bulk": 15 if (app["bulk_share"] or 0) > 0 else 0,
        "volume": min(10, math.log10(max(app["calls"] or 0, 1)) * 2),
    }
    return {**observed, **grant_parts(app)}


def grant_parts(app: dict[str, Any]) -> dict[str, float]:
    """What was granted, in points (only where the org context says): token holders (2 each, up
    to 10, and 10 more if an admin holds one), refresh tokens valid until revoked (10), IP
    relaxation (10), users who may self-authorise (5)."""
    parts: dict[str, float] = {}
    tokens = app.get("tokens") or []
    if tokens:
        parts["holders"] = min(10, 2 * len({t["user_id"] or t["user_name"] for t in tokens}))
        parts["admin holder"] = 10 if any(is_admin(t["user_profile"]) for t in tokens) else 0
    policy = app.get("policy")
    if policy:
        parts["until revoked"] = 10 if policy["refresh_valid_until_revoked"] else 0
        parts["IP relaxed"] = 10 if ip_relaxed(policy["ip_relaxation"]) else 0
        parts["self-authorize"] = 5 if policy["admin_approved_only"] is False else 0
    return parts


def is_admin(profile: str | None) -> bool:
    """Whether a token holder's profile is an administrator's (known only when exported)."""
    return bool(profile) and any(word in str(profile).lower() for word in ADMIN_PROFILES)


def ip_relaxed(value: str | None) -> bool:
    """Whether a connected app's IP relaxation lets tokens be used from anywhere."""
    text = (value or "").strip().lower()
    return bool(text) and ("relax" in text or "bypass" in text)


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
        f"{app['calls'] or 0:,} calls +{parts['volume']:.0f}",
    ]
    tokens = app.get("tokens") or []
    if tokens:
        admins = sum(1 for t in tokens if is_admin(t["user_profile"]))
        words.append(f"{app['token_holders']} token holder(s) +{parts['holders']:.0f}")
        words.append(f"{admins} admin holder(s) +{parts['admin holder']:.0f}")
    policy = app.get("policy")
    if policy:
        revoked = policy["refresh_valid_until_revoked"]
        words.append(
            "refresh "
            + ("valid until revoked" if revoked else "expires" if revoked is False else "unknown")
            + f" +{parts['until revoked']:.0f}"
        )
        words.append(f"IP relaxation {policy['ip_relaxation'] or 'unknown'} +{parts['IP relaxed']:.0f}")
        approved = policy["admin_approved_only"]
        words.append(
            (
                "admin-approved only"
                if approved
                else "self-authorize"
                if approved is False
                else "approval unknown"
            )
            + f" +{parts['self-authorize']:.0f}"
        )
    return ", ".join(words)


def inventory(
    con: duckdb.DuckDBPyConnection, settings: Settings, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Every connected app, observed in the logs (before UNTIL) or known from the org context
    (connected apps, tokens, login history), with what it was granted; most privileged first."""
    apps = query_frame(con, "integrations_inventory", {"until": until or datetime(9999, 1, 1)}).to_dicts()
    apps = with_org_context(con, apps)
    for app in apps:
        app["privilege"] = privilege_score(app, settings)
        app["privilege_why"] = privilege_explained(app, settings)
        app["sensitive_objects"] = [o for o in app["objects"] or [] if settings.is_sensitive(o)]
        entry = catalog_entry(settings, app)
        app["catalog_name"] = entry.name if entry else None
    return sorted(apps, key=lambda a: (-a["privilege"], -(a["calls"] or 0)))


def catalog_entry(settings: Settings, app: dict[str, Any]) -> CatalogEntry | None:
    """The catalog's entry for an app: by id, else (an app known only by name) by name."""
    entry = settings.catalog_for(app["connected_app_id"]) if app["connected_app_id"] else None
    if entry is None and app.get("name"):
        name = str(app["name"]).strip().lower()
        entry = next((e for e in settings.catalog if e.name.strip().lower() == name), None)
    return entry


def _name_key(value: object) -> str:
    return str(value or "").strip().lower()


def _unobserved(org_id: str | None, app_id: str | None, name: str | None) -> dict[str, Any]:
    """An app the logs never showed (known from the org context only): no observed use."""
    return {
        "org_id": org_id,
        "connected_app_id": app_id,
        "name": name,
        "users": [],
        "user_ids": [],
        "clients": [],
        "first_seen": None,
        "last_seen": None,
        "calls": 0,
        "active_days": 0,
        "objects": [],
        "ips": [],
        "write_share": 0.0,
        "error_rate": 0.0,
        "bulk_share": 0.0,
        "p90_daily_calls": 0.0,
        "active_hours": [],
        "active_weekdays": [],
    }


def with_org_context(con: duckdb.DuckDBPyConnection, apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """APPS (observed) joined with the latest connected-app and token snapshots and login history
    (by app id on 15 characters, else by name); apps only the org context knows are added."""
    policies = query_frame(con, "org_apps_latest").to_dicts()
    tokens = query_frame(con, "org_tokens_latest").to_dicts()
    logins = {
        _name_key(r["application"]): r for r in query_frame(con, "org_logins_by_application").to_dicts()
    }
    by_id = {str(p["app_id"])[:15]: p for p in policies if p["app_id"]}
    by_name = {_name_key(p["name"]): p for p in policies}
    for app in apps:  # the logs may give no name: the org's connected app of the same id does
        declared = by_id.get(str(app["connected_app_id"] or "")[:15])
        if declared and not app["name"]:
            app["name"] = declared["name"]
    merged = list(apps)
    known = {_name_key(a["name"]) for a in apps} | {str(a["connected_app_id"])[:15] for a in apps}
    for declared in policies:
        if str(declared["app_id"] or "")[:15] not in known and _name_key(declared["name"]) not in known:
            merged.append(_unobserved(declared["org_id"], declared["app_id"], declared["name"]))
            known.add(_name_key(declared["name"]))
    for name in sorted({_name_key(t["app_name"]) for t in tokens} - known):
        first = next(t for t in tokens if _name_key(t["app_name"]) == name)
        merged.append(_unobserved(first["org_id"], None, first["app_name"]))
        known.add(name)
    for app in merged:
        policy: dict[str, Any] | None = by_id.get(str(app["connected_app_id"] or "")[:15]) or by_name.get(
            _name_key(app["name"])
        )
        app["policy"] = policy
        names = {_name_key(app["name"])} | ({_name_key(policy["name"])} if policy else set())
        app["tokens"] = [t for t in tokens if _name_key(t["app_name"]) in names]
        app["token_holders"] = len({t["user_id"] or t["user_name"] for t in app["tokens"]})
        app["admin_holders"] = sorted(
            {str(t["user_name"] or t["user_id"]) for t in app["tokens"] if is_admin(t["user_profile"])}
        )
        app["logins"] = next((logins[n] for n in names if n in logins), None)
        used = [t["last_used_date"] for t in app["tokens"] if t["last_used_date"]]
        seen = [app["last_seen"], app["logins"]["last_login"] if app["logins"] else None, *used]
        app["last_activity"] = max((s for s in seen if s), default=None)
    return merged


def reference_time(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """'Now' for posture: the latest org snapshot (an offline store is judged as of its data)."""
    row = first_row(con.execute(load_query("org_context_reference_time")))
    return row[0] if row else None


def app_entity(app: dict[str, Any]) -> str:
    """The entity id findings use for an app: its id, else (known by name only) its name."""
    return str(app["connected_app_id"] or app["name"] or "")


def posture_findings(
    apps: list[dict[str, Any]], settings: Settings, now: datetime | None, dormant_days: int = DORMANT_DAYS
) -> list[Finding]:
    """Posture: apps with live tokens and no activity for DORMANT_DAYS (before NOW), and apps
    the catalog does not declare."""
    findings: list[Finding] = []
    if now is None:
        return findings
    for app in apps:
        entity = app_entity(app)
        label = str(app["name"] or entity)
        tokens = app["tokens"]
        evidence: dict[str, Any] = {
            "connected_apps": [entity],
            "users": sorted({str(t["user_name"] or t["user_id"]) for t in tokens})[:20],
        }
        last = app["last_activity"]
        if tokens and (last is None or last < now - timedelta(days=dormant_days)):
            idle = (now - last).days if last else None
            policy = app["policy"] or {}
            score = (
                45
                + (10 if policy.get("refresh_valid_until_revoked") else 0)
                + (10 if app["admin_holders"] else 0)
            )
            findings.append(
                Finding(
                    detector="dormant_app_tokens",
                    category="posture",
                    org_id=app["org_id"],
                    entity_type="connected_app",
                    entity_id=entity,
                    entity_label=label,
                    window_start=last or now - timedelta(days=dormant_days),
                    window_end=now,
                    score=score,
                    observed=float(len(tokens)),
                    baseline=float(dormant_days),
                    explanation=(
                        f"{label} holds {len(tokens)} live token(s) for {app['token_holders']} user(s) "
                        + (f"but has not been used for {idle} days" if idle is not None else "never used")
                        + f" (posture: revoke what is not needed; {dormant_days}-day threshold)"
                    ),
                    evidence={**evidence, "counts": {"tokens": len(tokens), "idle_days": idle}},
                )
            )
        if catalog_entry(settings, app) is None:
            why = (
                "the catalog does not declare it"
                if settings.catalog
                else "no integration catalog is configured"
            )
            findings.append(
                Finding(
                    detector="undeclared_app",
                    category="posture",
                    org_id=app["org_id"],
                    entity_type="connected_app",
                    entity_id=entity,
                    entity_label=label,
                    window_start=app["first_seen"] or now,
                    window_end=now,
                    score=30 + (10 if tokens else 0) + min(20, app["privilege"] // 5),
                    observed=float(app["privilege"]),
                    explanation=(
                        f"{label} (privilege {app['privilege']}, {len(tokens)} token(s)) has no owner or purpose "
                        f"on record: {why}"
                    ),
                    evidence=evidence,
                )
            )
    return findings


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
