"""The back-check and the incident summary as Markdown, JSON and CSV.

Every string that came from a log is escaped (Markdown: text escaped and defanged, ids in literal
code spans, commands shell-quoted in a fence they cannot close) or neutralised (CSV) by
workbench.render, and every document is made inert as a whole before it is returned.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.files import write_atomic
from workbench.investigate.backcheck import Backcheck
from workbench.render import (
    code_block,
    code_span,
    csv_text,
    escape_markdown,
    findings_table,
    inert,
    iso,
    md_table,
)

CONTAINMENT = [
    "Revoke every OAuth access and refresh token of the affected connected app (Setup > Connected Apps "
    "OAuth Usage > Revoke), and block the app until the vendor confirms containment.",
    "Rotate the integration's secrets: the integration user's password and security token, the connected "
    "app's consumer secret, and any credentials found in exported data (AWS keys, Snowflake, passwords).",
    "Re-authorise safely: a fresh token issued to the vendor's declared egress addresses only (Login IP "
    "ranges or a network-restricted profile on the integration user).",
    "Reduce scopes: remove `full`/`api` scopes the integration does not need and the objects it never "
    "reads (User, Case, ContentVersion for a CS platform) from its permission sets.",
    "Re-run the back-check over the vendor's stated exposure window, and the IOC sweep over all history, "
    "after new logs arrive (late hourly files).",
]


def _num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else _num(value)


def _flags(row: dict[str, Any]) -> str:
    return ", ".join(k for k in ("tor", "vpn", "proxy", "hosting") if row.get(k)) or "-"


def _address_row(ip: str, info: dict[str, Any]) -> list[str]:
    place = ", ".join(str(v) for v in (info.get("city"), info.get("country_code")) if v) or "-"
    network = f"AS{info['asn']} {info.get('as_org') or ''}" if info.get("asn") else "-"
    flags = ", ".join(k for k in ("tor", "vpn", "proxy", "hosting") if info.get(f"is_{k}")) or "-"
    return [ip, place, network, flags]


def backcheck_sections(b: Backcheck, level: str = "##") -> list[str]:
    """The back-check as Markdown sections (headings at LEVEL)."""
    s = b.scope
    lines = [
        f"{level} Exposure-window back-check",
        "",
        f"Window {s.start:%Y-%m-%d %H:%M} to {s.end:%Y-%m-%d %H:%M} UTC; scope: {escape_markdown(s.describe())}; "
        f"{b.total_calls:,} API calls.",
        "",
        f"{level}# What was at risk",
        "",
        *[f"- {escape_markdown(x)}" for x in b.at_risk or ["no object touched"]],
        "",
        f"{level}# What was checked",
        "",
        *[f"- {escape_markdown(x)}" for x in b.checked],
        "",
        f"{level}# What changed",
        "",
        *[f"- {escape_markdown(x)}" for x in b.changed],
        "",
        f"{level}# Addresses",
        "",
        *md_table(
            ["ip", "new", "events", "first seen", "last seen", "place", "network", "flags"],
            [
                [
                    r["ip"],
                    "yes" if r["new"] else "no",
                    _num(r["events"]),
                    _when(r["first_seen"]),
                    _when(r["last_seen"]),
                    ", ".join(str(v) for v in (r.get("city"), r.get("country")) if v) or "-",
                    f"AS{r['asn']} {r['as_org']}" if r.get("asn") else "-",
                    _flags(r),
                ]
                for r in b.ips
            ],
        ),
        "",
        f"{level}# Objects",
        "",
        *md_table(
            ["object", "calls", "writes", "rows processed", "first touched in window"],
            [
                [
                    r["object"],
                    _num(r["calls"]),
                    _num(r["writes"]),
                    _num(r["rows_processed"]),
                    "yes" if r["first_touched"] else "no",
                ]
                for r in b.objects
            ],
        ),
        "",
        f"{level}# API use",
        "",
        *md_table(
            ["kind", "family", "method", "calls", "first", "last"],
            [
                [
                    r["kind"],
                    r["api_family"],
                    r["http_method"],
                    _num(r["calls"]),
                    _when(r["first_call"]),
                    _when(r["last_call"]),
                ]
                for r in b.resources
            ],
        ),
        "",
        f"{level}# Bulk API jobs",
        "",
        *md_table(
            ["job", "kind", "object", "first seen", "deleted at", "calls", "addresses"],
            [
                [
                    j["job_id"],
                    j["job_kind"],
                    j["object"] or "-",
                    _when(j["first_seen"]),
                    _when(j["deleted_at"]) or "not deleted",
                    _num(j["calls"]),
                    ", ".join(j["ips"] or []),
                ]
                for j in b.bulk_jobs
            ],
        ),
        "",
        f"{level}# Users and connected apps",
        "",
        *md_table(
            ["app", "user", "events", "event types", "clients"],
            [
                [
                    r["connected_app_name"] or r["connected_app_id"] or "-",
                    r["user_name"] or r["user_id"] or "-",
                    _num(r["events"]),
                    ", ".join(r["event_types"] or []),
                    ", ".join(r["clients"] or []),
                ]
                for r in b.actors
            ],
        ),
        "",
        f"{level}# Errors and authentication failures",
        "",
        *md_table(
            ["event type", "status", "auth failure", "events"],
            [
                [r["event_type"], r["status"], "yes" if r["auth_failure"] else "no", _num(r["events"])]
                for r in b.errors
            ],
        ),
        "",
        f"{level}# IOC hits",
        "",
        *md_table(
            ["indicator", "kind", "first seen", "last seen", "events", "objects", "source"],
            [
                [
                    h["indicator"],
                    h["kind"],
                    _when(h["first_seen"]),
                    _when(h["last_seen"]),
                    _num(h["events"]),
                    ", ".join(h["objects"] or []),
                    h.get("note", ""),
                ]
                for h in b.ioc_hits
            ],
        ),
        "",
        f"{level}# Findings in the window",
        "",
        *findings_table(b.findings),
        "",
        f"{level}# Calls by hour",
        "",
        *md_table(
            ["hour (UTC)", "calls", "errors", "addresses", "objects"],
            [
                [_when(r["hour"]), _num(r["calls"]), _num(r["errors"]), r["ips"], r["objects"]]
                for r in b.calls_by_hour
            ],
        ),
        "",
    ]
    return lines


def backcheck_markdown(b: Backcheck) -> str:
    """A stand-alone back-check document."""
    return inert("\n".join(["# Back-check", "", *backcheck_sections(b)]) + "\n", keep_newlines=True)


def jsonable(value: Any) -> Any:
    """Plain JSON-ready data: timestamps as ISO 8601 UTC, anything else unknown as text."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def backcheck_dict(b: Backcheck) -> dict[str, Any]:
    """The back-check as plain data."""
    s = b.scope
    return jsonable(
        {
            "scope": {"start": s.start, "end": s.end, "apps": s.apps, "users": s.users, "ips": s.ips},
            "total_calls": b.total_calls,
            "at_risk": b.at_risk,
            "checked": b.checked,
            "changed": b.changed,
            "ips": b.ips,
            "objects": b.objects,
            "resources": b.resources,
            "bulk_jobs": b.bulk_jobs,
            "actors": b.actors,
            "errors": b.errors,
            "ioc_hits": b.ioc_hits,
            "findings": b.findings,
            "calls_by_hour": b.calls_by_hour,
            "coverage": b.coverage,
            "baseline": b.baseline,
        }
    )


def _summary(findings: list[dict[str, Any]], b: Backcheck | None) -> list[str]:
    """Three sentences with numbers: what happened, what was touched, what to do."""
    if not findings and b is None:
        return ["No finding was selected and no back-check was run: there is nothing to report."]
    serious = [f for f in findings if f["severity"] in ("high", "critical")]
    entities = Counter(f["entity_label"] for f in serious or findings)
    first = min((f["window_start"] for f in findings), default=None)
    last = max((f["window_end"] for f in findings), default=None)
    families = sorted({f["category"] for f in serious})
    who = ", ".join(f"{name} ({n} findings)" for name, n in entities.most_common(3)) or "no entity"
    sentence1 = (
        f"Between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC the workbench raised {len(findings)} findings "
        f"({len(serious)} high or critical, in {len(families)} families: {', '.join(families) or 'none'}) on {who}."
        if first and last
        else "No finding falls in the selected window."
    )
    if b is not None:
        new_ips = [r["ip"] for r in b.ips if r["new"]]
        new_objects = [r["object"] for r in b.objects if r["first_touched"]]
        rows = sum(r["rows_processed"] or 0 for r in b.objects if r["first_touched"])
        sentence2 = (
            f"In the back-checked window the scope made {b.total_calls:,} API calls from {len(b.ips)} addresses "
            f"({len(new_ips)} never seen before: {', '.join(new_ips[:4]) or 'none'}) and touched {len(new_objects)} "
            f"objects for the first time ({', '.join(new_objects[:4]) or 'none'}; {rows:,} rows processed)."
        )
    else:
        sentence2 = "No back-check was run: run one over the exposure window before drawing conclusions."
    sentence3 = (
        "Treat the integration's token as compromised: revoke and rotate as the checklist says, then re-run "
        "the back-check."
        if serious
        else "Nothing high or critical: review the findings and close them if benign."
    )
    return [sentence1, sentence2, sentence3]


def incident_report(
    title: str,
    findings: list[dict[str, Any]],
    backcheck: Backcheck | None,
    ip_info: dict[str, dict[str, Any]],
    commands: list[str],
    generated: datetime,
    queries_used: list[str] | None = None,
) -> str:
    """The incident summary: an executive can read the top, an engineer the rest. COMMANDS are
    command lines already quoted by workbench.render.shell_command."""
    queries_used = queries_used or []
    timeline = sorted(findings, key=lambda f: f["window_start"])
    request_ids = [r for f in findings for r in (f.get("evidence") or {}).get("request_ids", [])][:20]
    named_ips = sorted({ip for f in findings for ip in (f.get("evidence") or {}).get("ips", [])})
    affected: dict[tuple[str, str], list[str]] = {}
    for f in findings:
        affected.setdefault((f["entity_type"], f["entity_label"]), []).append(f["detector"])
    lines = [
        f"# {escape_markdown(title)}",
        "",
        f"Generated {generated:%Y-%m-%d %H:%M} UTC by workbench from local Event Monitoring logs.",
        "",
        "## Summary",
        "",
        *(escape_markdown(s) for s in _summary(findings, backcheck)),
        "",
        "## Timeline (UTC)",
        "",
        *[
            f"- {f['window_start']:%Y-%m-%d %H:%M} {escape_markdown(f['entity_label'])}: "
            f"{escape_markdown(f['detector'])} ({f['severity']}) {escape_markdown(f['explanation'])}"
            for f in timeline
        ],
        "",
        "## Findings",
        "",
        *findings_table(findings),
        "",
        "## Affected integrations, users and objects",
        "",
        *md_table(
            ["entity type", "entity", "detectors"],
            [[t, label, ", ".join(sorted(set(d)))] for (t, label), d in sorted(affected.items())],
        ),
        "",
    ]
    if backcheck is not None:
        lines += backcheck_sections(backcheck)
    lines += [
        "## Addresses named by the findings",
        "",
        *md_table(
            ["ip", "place", "network", "flags"], [_address_row(ip, ip_info.get(ip, {})) for ip in named_ips]
        ),
        "",
        "## Data coverage and gaps",
        "",
        *(
            [f"- {escape_markdown(x)}" for x in backcheck.checked]
            if backcheck
            else ["- no back-check was run"]
        ),
        "",
        "## Containment checklist (token abuse)",
        "",
        *[f"- [ ] {x}" for x in CONTAINMENT],
        "",
        "## Evidence",
        "",
        "Sample request ids (REQUEST_ID in the event logs):",
        "",
        *[f"- {code_span(r)}" for r in request_ids],
        "",
        "## Appendix: how this report was produced",
        "",
        "Run these against the same database to reproduce it (every value is shell-quoted):",
        "",
        *code_block(commands),
        "",
        "Queries used (in queries/): " + escape_markdown(", ".join(queries_used)),
        "",
    ]
    return inert("\n".join(lines) + "\n", keep_newlines=True)


def csv_table(rows: list[dict[str, Any]]) -> str:
    """One table as CSV text: cells neutralised, lists and dicts as JSON."""
    headers = list(rows[0]) if rows else ["none"]
    return csv_text(headers, [[jsonable(v) for v in row.values()] for row in rows])


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """One table as a CSV file, written whole (workbench.files.write_atomic)."""
    write_atomic(path, csv_table(rows))
