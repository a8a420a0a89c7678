"""The back-check and the incident summary as Markdown, JSON and CSV.

Every string that came from a log is escaped (Markdown: text escaped and defanged, ids in literal
code spans, commands shell-quoted in a fence they cannot close) or neutralised (CSV) by
workbench.render, and every document is made inert as a whole before it is returned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from workbench.files import write_atomic
from workbench.investigate.backcheck import NO_ORG_CONTEXT, Backcheck, incident_addresses, incident_end
from workbench.render import (
    code_block,
    code_span,
    csv_text,
    escape_markdown,
    inert,
    iso,
    md_table,
    shell_command,
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


LIST_CAP = 8  # items a sentence names before it says "and N more"


def capped(items: list[str], cap: int = LIST_CAP, empty: str = "none") -> str:
    """'a, b, c and 4 more' (already-rendered ITEMS), or EMPTY."""
    if not items:
        return empty
    shown = ", ".join(items[:cap])
    return shown + (f" and {len(items) - cap} more" if len(items) > cap else "")


def _plain_list(values: list[Any], cap: int = LIST_CAP) -> str:
    return capped([escape_markdown(v) for v in values], cap)


class Literal(str):
    """A table cell shown as a literal code span (ids, request ids), not escaped text."""


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    """md_table, except that Literal cells become code spans (pipes escaped for GFM)."""
    if not rows:
        return ["(none)"]
    lines = ["| " + " | ".join(escape_markdown(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [code_span(c, in_table=True) if isinstance(c, Literal) else escape_markdown(c) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def findings_with_triage(findings: list[dict[str, Any]]) -> list[str]:
    """The findings as a Markdown table with each one's triage status and note, ids literal."""
    return table(
        ["severity", "score", "detector", "entity", "window (UTC)", "explanation", "status", "note", "id"],
        [
            [
                f["severity"],
                f["score"],
                f["detector"],
                f"{f['entity_label']} ({f['entity_type']} {f['entity_id']})",
                f"{f['window_start']:%Y-%m-%d %H:%M} to {f['window_end']:%Y-%m-%d %H:%M}",
                f["explanation"],
                f.get("status") or "new",
                f.get("note") or "-",
                Literal(f["id"]),
            ]
            for f in findings
        ],
    )


def calls_by_hour_table(b: Backcheck) -> list[str]:
    """The back-check's hourly calls as a Markdown table."""
    return md_table(
        ["hour (UTC)", "calls", "errors", "addresses", "objects"],
        [
            [_when(r["hour"]), _num(r["calls"]), _num(r["errors"]), r["ips"], r["objects"]]
            for r in b.calls_by_hour
        ],
    )


def ioc_section(b: Backcheck, level: str) -> list[str]:
    """IOC hits, or say plainly that no IOC file was checked."""
    heading = f"{level}# IOC hits"
    if not b.ioc_checked:
        return [heading, "", "IOC: not checked (no IOC file was given; pass --ioc FILE)."]
    return [
        heading,
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
    ]


def backcheck_sections(b: Backcheck, level: str = "##", hourly: bool = True) -> list[str]:
    """The back-check as Markdown sections (headings at LEVEL); HOURLY includes calls by hour
    (a report moves it to an appendix)."""
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
        *setup_changes_section(b, level),
        *token_events_section(b, level),
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
        *table(
            ["job", "kind", "object", "first seen", "deleted at", "calls", "rows", "addresses"],
            [
                [
                    Literal(j["job_id"]),
                    j["job_kind"],
                    j["object"] or "-",
                    _when(j["first_seen"]),
                    _when(j["deleted_at"]) or "not deleted",
                    _num(j["calls"]),
                    _num(j.get("rows_processed")),
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
        *ioc_section(b, level),
        "",
        f"{level}# Findings in the window",
        "",
        *findings_with_triage(b.findings),
        "",
    ]
    if hourly:
        lines += [f"{level}# Calls by hour", "", *calls_by_hour_table(b), ""]
    return lines


TABLE_CAP = 50  # rows an org-context table shows before "+N more"


def _capped_table(headers: list[str], rows: list[list[Any]], what: str) -> list[str]:
    lines = table(headers, rows[:TABLE_CAP])
    if len(rows) > TABLE_CAP:
        lines += ["", f"+{len(rows) - TABLE_CAP} more {what} (all of them in --format json)."]
    return lines


def _no_org_context() -> list[str]:
    return [
        f"{NO_ORG_CONTEXT.capitalize()} (no OauthToken, ConnectedApplication, SetupAuditTrail or LoginHistory "
        "rows in the store): `workbench fetch --org-context`, or `workbench ingest` of the exports with "
        "`--as-of`, fills it.",
        "",
    ]


def setup_changes_table(b: Backcheck) -> list[str]:
    """The setup changes in the window as a Markdown table, those naming a scoped app marked."""
    return _capped_table(
        ["time (UTC)", "who", "action", "section", "display", "delegate user", "names a scoped app"],
        [
            [
                _when(c["created_date"]),
                c["created_by"] or "-",
                c["action"] or "-",
                c["section"] or "-",
                c["display"] or "-",
                c["delegate_user"] or "-",
                f"yes: {c['names_app']}" if c.get("names_app") else "-",
            ]
            for c in b.setup_changes
        ],
        "setup changes",
    )


def setup_changes_section(b: Backcheck, level: str) -> list[str]:
    """The SetupAuditTrail rows of the window, or why there are none to show."""
    lines = [f"{level}# Setup changes in the window", ""]
    summary = b.org_context
    if summary is None:
        return []
    if not summary["loaded"]:
        return lines + _no_org_context()
    if not summary["setup_rows"]:
        return [*lines, "No SetupAuditTrail loaded: the org's setup changes were not checked.", ""]
    span = f"The audit trail loaded covers {_when(summary['setup_first'])} to {_when(summary['setup_last'])} UTC."
    if not b.setup_changes:
        return [*lines, f"None in the window. {span}", ""]
    return [*lines, span, "", *setup_changes_table(b), ""]


def token_events_section(b: Backcheck, level: str) -> list[str]:
    """The scope's tokens created, last used and revoked in the window, or why none are shown."""
    lines = [f"{level}# Token events", ""]
    summary = b.org_context
    if summary is None:
        return []
    if not summary["loaded"]:
        return lines + _no_org_context()
    if not summary["token_snapshots"]:
        return [*lines, "No OauthToken snapshot loaded: token events were not checked.", ""]
    span = (
        f"{summary['token_snapshots']} OauthToken snapshot(s) from {_when(summary['token_first'])} to "
        f"{_when(summary['token_last'])} UTC; revoked means held by one snapshot and gone from the org's next."
    )
    rows = [
        [
            e["event"],
            _when(e["at"]),
            e["app_name"] or "-",
            e["user"],
            Literal(e["token_id"] or "-"),
            _when(e["created_date"]) or "-",
            _when(e["last_used_date"]) or "never",
            _num(e["use_count"]),
            e["note"] or "-",
        ]
        for e in b.token_events
    ]
    headers = ["event", "when (UTC)", "app", "user", "token", "created", "last used", "use count", "note"]
    return [*lines, span, "", *_capped_table(headers, rows, "token events"), ""]


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
            "ioc_checked": b.ioc_checked,
            "org_context": b.org_context,
            # Not an empty list when the store holds no org context: null, and org_context says why.
            "setup_changes": b.setup_changes if b.org_context_loaded else None,
            "token_events": b.token_events if b.org_context_loaded else None,
            "containment": b.containment,
        }
    )


@dataclass
class Incident:
    """What a report says happened: the incident's part of the back-check, apart from routine traffic.

    Incident addresses are the ones new to the scope in the window, plus those the findings name."""

    subjects: list[tuple[str, str, str]]  # (kind, label, id): the connected apps or users in scope
    orgs: list[str]
    addresses: list[str]
    first: datetime | None
    last: datetime | None
    objects: list[dict[str, Any]]  # object, calls, reads, data_writes, rows_processed (incident addresses)
    exports: list[dict[str, Any]]  # bulk query jobs from the incident addresses
    deleted_jobs: list[dict[str, Any]]
    routine_addresses: list[str]
    new_objects: list[str]
    routine_objects: list[str]
    new_hours: list[int]
    routine_hours: list[int]
    incident_calls: int
    routine_calls: int
    selection: str = ""  # which findings the report covers, and which it left out
    left_out: list[dict[str, Any]] = field(default_factory=list)


def _subject(kind: str, label: str, ident: str) -> str:
    return (
        f"{kind} {escape_markdown(label)} ({code_span(ident)})"
        if label != ident
        else f"{kind} {code_span(ident)}"
    )


def verdict(incident: Incident, b: Backcheck) -> list[str]:
    """The opening paragraph: who, where, when, from where, what was read, exported, deleted, written."""
    who = capped([_subject(*x) for x in incident.subjects], empty="the whole store")
    orgs = capped([code_span(o) for o in incident.orgs], empty="an unknown org")
    org_word = "org" if len(incident.orgs) <= 1 else "orgs"
    window = (
        f"between {incident.first:%Y-%m-%d %H:%M} and {incident.last:%Y-%m-%d %H:%M} UTC"
        if incident.first and incident.last
        else f"in the window {b.scope.start:%Y-%m-%d %H:%M} to {b.scope.end:%Y-%m-%d %H:%M} UTC"
    )
    if not incident.addresses:
        return [
            f"**Verdict.** {who[:1].upper() + who[1:]} in {org_word} {orgs}: no address new to the scope was "
            f"used {window}, so no activity can be told apart from routine traffic by its origin. "
            f"{_written(incident)} IOC: {_ioc_words(b)}"
        ]
    reads = [
        f"{escape_markdown(o['object'])} ({o['rows_processed']:,} rows, {o['reads']:,} read calls)"
        for o in incident.objects
        if o["reads"] or o["rows_processed"]
    ]
    exports = [
        f"{escape_markdown(j['object'] or 'an unknown object')} ({j['rows_processed']:,} rows, bulk query job "
        f"{code_span(j['job_id'])})"
        for j in incident.exports
    ]
    deleted = [code_span(j["job_id"]) for j in incident.deleted_jobs]
    sentences = [
        f"**Verdict.** {who[:1].upper() + who[1:]} in {org_word} {orgs} was used {window} from "
        f"{len(incident.addresses)} address(es) it had not used before: {_plain_list(incident.addresses)} "
        f"({incident.incident_calls:,} calls).",
        f"From them it read {capped(reads, empty='no object')}.",
        f"It exported {capped(exports)} in bulk." if exports else "No bulk export came from them.",
        f"{len(deleted)} bulk job(s) were deleted: {capped(deleted)}."
        if deleted
        else "No bulk job was deleted.",
        _written(incident),
        f"IOC: {_ioc_words(b)}",
    ]
    return [" ".join(sentences)]


def _written(incident: Incident) -> str:
    writes = [o for o in incident.objects if o["data_writes"]]
    if not writes:
        return (
            "Nothing was written from the incident's addresses (creating or deleting a bulk job is not "
            "counted as a write of data)."
            if incident.addresses
            else "No data write is attributed to an incident address."
        )
    named = capped([f"{escape_markdown(o['object'])} ({o['data_writes']:,} calls)" for o in writes])
    return f"Data was written from the incident's addresses: {named}."


def _ioc_words(b: Backcheck) -> str:
    if not b.ioc_checked:
        return "not checked (no IOC file was given)."
    if not b.ioc_hits:
        return "checked, no indicator matched."
    return f"{len(b.ioc_hits)} indicator(s) matched: {_plain_list([h['indicator'] for h in b.ioc_hits])}."


def incident_and_routine(incident: Incident) -> list[str]:
    """What is new in the window beside what the scope did before it."""
    hours = [f"{h:02d}:00" for h in incident.new_hours]
    routine_hours = [f"{h:02d}:00" for h in incident.routine_hours]
    return [
        "## Incident activity and routine traffic",
        "",
        "New in the window (the incident) beside what the scope already did before it (routine):",
        "",
        *md_table(
            ["", "incident (new in the window)", "routine (seen before the window)"],
            [
                ["addresses", capped(incident.addresses), capped(incident.routine_addresses)],
                ["objects", capped(incident.new_objects), capped(incident.routine_objects)],
                ["hours (UTC)", capped(hours, 24), capped(routine_hours, 24)],
                ["calls", f"{incident.incident_calls:,}", f"{incident.routine_calls:,}"],
            ],
        ),
        "",
        "What the incident's addresses did, per object (creating or deleting a bulk job is not a data write):",
        "",
        *md_table(
            ["object", "calls", "reads", "data writes", "rows processed"],
            [
                [
                    o["object"],
                    _num(o["calls"]),
                    _num(o["reads"]),
                    _num(o["data_writes"]),
                    _num(o["rows_processed"]),
                ]
                for o in incident.objects
            ],
        ),
        "",
    ]


def _summary(findings: list[dict[str, Any]], b: Backcheck | None) -> list[str]:
    """Three sentences with numbers: what happened, what was touched, what to do."""
    if not findings and b is None:
        return ["No finding was selected and no back-check was run: there is nothing to report."]
    serious = [f for f in findings if f["severity"] in ("high", "critical")]
    entities = Counter(f["entity_label"] for f in serious or findings)
    first = min((f["window_start"] for f in findings), default=None)
    last = max((f["window_end"] for f in findings), default=None)
    families = sorted({f["category"] for f in serious})
    who = capped([f"{name} ({n} findings)" for name, n in entities.most_common()], 3, "no entity")
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
            f"({len(new_ips)} never seen before: {capped(new_ips, 4)}) and touched {len(new_objects)} "
            f"objects for the first time ({capped(new_objects, 4)}; {rows:,} rows processed)."
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


def _left_out_lines(incident: Incident | None) -> list[str]:
    if incident is None or not incident.selection:
        return []
    lines = ["## Findings covered", "", escape_markdown(incident.selection), ""]
    if incident.left_out:
        lines += [
            "Left out of this report (not selected), with their triage status:",
            "",
            *table(
                ["severity", "detector", "entity", "window start (UTC)", "status", "note", "id"],
                [
                    [
                        f["severity"],
                        f["detector"],
                        f["entity_label"],
                        _when(f["window_start"]),
                        f.get("status") or "new",
                        f.get("note") or "-",
                        Literal(f["id"]),
                    ]
                    for f in incident.left_out
                ],
            ),
            "",
        ]
    return lines


ORG_CONTEXT_QUERIES = [
    "backcheck_org_context",
    "backcheck_setup_changes",
    "backcheck_token_snapshots",
    "containment_tokens",
    "containment_app_addresses",
    "containment_app_logins",
]


def containment_plan(b: Backcheck) -> list[dict[str, Any]]:
    """Per scoped app: the app, T and why, and the old addresses verify-containment is run with
    (the back-check's containment answers; without org context, what they would be asked with)."""
    if b.containment:
        return b.containment
    since, basis = incident_end(b)
    addresses = incident_addresses(b)
    return [
        {"app_id": a, "app": a, "since": since, "since_basis": basis, "old_addresses": addresses}
        for a in b.scope.apps
    ]


def containment_commands(b: Backcheck, db_args: list[str]) -> list[str]:
    """The verify-containment command line of each scoped app, shell-quoted."""
    return [
        shell_command(
            "workbench",
            "verify-containment",
            "--app",
            plan["app_id"],
            "--since",
            f"{plan['since']:%Y-%m-%dT%H:%M}",
            *(word for ip in plan["old_addresses"] for word in ("--ip", ip)),
            "--format",
            "markdown",
            *db_args,
        )
        for plan in containment_plan(b)
    ]


def with_containment_commands(commands: list[str], b: Backcheck, db_args: list[str]) -> list[str]:
    """COMMANDS with the verify-containment lines after the back-check's (or at the end)."""
    extra = containment_commands(b, db_args)
    at = next((i + 1 for i, c in enumerate(commands) if c.startswith("workbench backcheck ")), len(commands))
    return [*commands[:at], *extra, *commands[at:]]


def _check_lines(answer: dict[str, Any]) -> list[str]:
    if answer.get("error"):
        return [f"- could not be checked: {escape_markdown(answer['error'])}"]
    lines = []
    for check in answer["checks"]:
        lines.append(f"- **{check['answer'].upper()}**: {escape_markdown(check['question'])}")
        lines += [f"  - {escape_markdown(e)}" for e in check["evidence"]]
    return lines


def what_we_changed(b: Backcheck, db_args: list[str]) -> list[str]:
    """What was changed in the org after the incident, and how the store shows it: verify-containment's
    three answers for each scoped app, and the setup changes during the window."""
    lines = ["## What we changed, and how we know", ""]
    if not b.org_context_loaded:
        return [
            *lines,
            f"{NO_ORG_CONTEXT.capitalize()}: the store holds no OauthToken, ConnectedApplication, "
            "SetupAuditTrail or LoginHistory rows, so this report cannot show which tokens were revoked "
            "or reissued, whether the old ones went quiet, or what changed in the org's setup. Load the "
            "org context (from the API, or the CSV exports timed with `--as-of` when they were taken), "
            "then run this report again:",
            "",
            *code_block(
                [
                    shell_command("workbench", "fetch", "--org-context", *db_args),
                    shell_command("workbench", "ingest", "EXPORTS", "--as-of", "YYYY-MM-DDTHH:MM", *db_args),
                ]
            ),
            "",
        ]
    if not b.containment:
        lines += [
            "The report's scope names no connected app, so containment was not verified; run "
            "`workbench verify-containment --app APP --since T` for the app.",
            "",
        ]
    for answer in b.containment:
        label = (
            f"{escape_markdown(answer['app'])} ({code_span(answer['app_id'])})"
            if answer["app"] != answer["app_id"]
            else code_span(answer["app_id"])
        )
        old = answer["old_addresses"]
        basis = (
            f"the incident's addresses ({_plain_list(old)})"
            if old
            else "every address the app used before T (no incident address was found)"
        )
        lines += [
            f"### {label}: {answer['verdict'].upper()}",
            "",
            f"From `workbench verify-containment` with T = {answer['since']:%Y-%m-%d %H:%M} UTC, "
            f"{escape_markdown(answer['since_basis'])}; old addresses: {basis}.",
            "",
            *_check_lines(answer),
            "",
        ]
    window = f"{b.scope.start:%Y-%m-%d %H:%M} to {b.scope.end:%Y-%m-%d %H:%M} UTC"
    lines += [f"### Setup changes during the window ({window})", ""]
    summary = b.org_context or {}
    if not summary.get("setup_rows"):
        lines += ["No SetupAuditTrail loaded: the org's setup changes were not checked.", ""]
    elif not b.setup_changes:
        lines += [
            f"None. The audit trail loaded covers {_when(summary['setup_first'])} to "
            f"{_when(summary['setup_last'])} UTC.",
            "",
        ]
    else:
        lines += [*setup_changes_table(b), ""]
    return lines


def incident_report(
    title: str,
    findings: list[dict[str, Any]],
    backcheck: Backcheck | None,
    ip_info: dict[str, dict[str, Any]],
    commands: list[str],
    generated: datetime,
    queries_used: list[str] | None = None,
    incident: Incident | None = None,
    db_args: list[str] | None = None,
) -> str:
    """The incident summary: an executive can read the top, an engineer the rest. COMMANDS are
    command lines already quoted by workbench.render.shell_command; DB_ARGS (`--db FILE`) go
    into the commands this adds (verify-containment, and those that fill the org context)."""
    queries_used = queries_used or []
    db_args = db_args or []
    if backcheck is not None:
        commands = with_containment_commands(commands, backcheck, db_args)
        queries_used = [*queries_used, *ORG_CONTEXT_QUERIES]
    timeline = sorted(findings, key=lambda f: f["window_start"])
    request_ids = [r for f in findings for r in (f.get("evidence") or {}).get("request_ids", [])]
    named_ips = sorted({ip for f in findings for ip in (f.get("evidence") or {}).get("ips", [])})
    affected: dict[tuple[str, str], list[str]] = {}
    for f in findings:
        affected.setdefault((f["entity_type"], f["entity_label"]), []).append(f["detector"])
    lines = [
        f"# {escape_markdown(title)}",
        "",
        f"Generated {generated:%Y-%m-%d %H:%M} UTC by workbench from local Event Monitoring logs.",
        "",
    ]
    if incident is not None and backcheck is not None:
        lines += ["## Verdict", "", *verdict(incident, backcheck), ""]
    lines += [
        "## Summary",
        "",
        *(escape_markdown(s) for s in _summary(findings, backcheck)),
        "",
        *_left_out_lines(incident),
    ]
    if incident is not None:
        lines += incident_and_routine(incident)
    lines += [
        "## Timeline (UTC)",
        "",
        *[
            f"- {f['window_start']:%Y-%m-%d %H:%M} {escape_markdown(f['entity_label'])}: "
            f"{escape_markdown(f['detector'])} ({f['severity']}, {escape_markdown(f.get('status') or 'new')}) "
            f"{escape_markdown(f['explanation'])}"
            for f in timeline
        ],
        "",
        "## Findings",
        "",
        *findings_with_triage(findings),
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
        lines += backcheck_sections(backcheck, hourly=False)
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
        *(what_we_changed(backcheck, db_args) if backcheck is not None else []),
        "## Evidence",
        "",
        "Sample request ids (REQUEST_ID in the event logs):",
        "",
        *[f"- {code_span(r)}" for r in request_ids[:20]],
        *([f"- and {len(request_ids) - 20} more"] if len(request_ids) > 20 else []),
        "",
    ]
    if backcheck is not None:
        lines += ["## Appendix: calls by hour", "", *calls_by_hour_table(backcheck), ""]
    lines += [
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


@dataclass
class Audit:
    """What an org with no finding to report gets instead: what was looked at, and how."""

    threshold: str
    below: dict[str, int]  # findings under the threshold, by severity
    apps: list[dict[str, Any]] | None  # the inventory, most privileged first (None: not given)
    coverage: list[dict[str, Any]]  # org, event type, first day, last day, days, missing days
    detectors: list[str]
    last_judged: str | None
    ioc: Backcheck | None = None
    dismissed: list[dict[str, Any]] = field(default_factory=list)  # at or above it, triaged benign


def _days(days: list[date]) -> str:
    return capped([d.isoformat() for d in days], 6, "no gaps")


def audit_report(title: str, audit: Audit, commands: list[str], generated: datetime) -> str:
    """The report of an org with nothing at or above the threshold: inventory, coverage, detectors."""
    below = ", ".join(f"{n} {sev}" for sev, n in audit.below.items() if n) or "none"
    uncatalogued = [a for a in audit.apps or [] if not a.get("catalog_name")]
    lines = [
        f"# {escape_markdown(title)}",
        "",
        f"Generated {generated:%Y-%m-%d %H:%M} UTC by workbench from local Event Monitoring logs.",
        "",
        "## Verdict",
        "",
        f"**No finding at or above {audit.threshold}"
        + (
            f" that is not dismissed ({len(audit.dismissed)} triaged benign or false positive)"
            if audit.dismissed
            else ""
        )
        + f".** This is an audit report: what the logs cover, "
        f"which integrations they show and how privileged each is, and what was checked. Findings below "
        f"{audit.threshold}: {below}.",
        "",
        "## Integrations, most privileged first",
        "",
    ]
    if audit.apps is None:
        lines += ["(not computed here: run `workbench integrations`)", ""]
    else:
        lines += [
            *table(
                [
                    "privilege",
                    "why",
                    "org",
                    "app",
                    "id",
                    "calls",
                    "objects",
                    "sensitive",
                    "write %",
                    "catalog",
                ],
                [
                    [
                        a["privilege"],
                        a.get("privilege_why", ""),
                        Literal(a["org_id"]),
                        a["name"] or "-",
                        Literal(a["connected_app_id"]),
                        _num(a["calls"]),
                        capped(a["objects"] or [], 6),
                        capped(a.get("sensitive_objects") or [], 6),
                        f"{100 * (a['write_share'] or 0):.0f}",
                        a.get("catalog_name") or "not in the catalog",
                    ]
                    for a in audit.apps
                ],
            ),
            "",
        ]
    lines += [
        "## Catalog gaps",
        "",
        (
            "Apps seen in the logs but not declared in the integration catalog: "
            + capped(
                [
                    f"{escape_markdown(a['name'] or '-')} ({code_span(a['connected_app_id'])})"
                    for a in uncatalogued
                ]
            )
            + "."
            if uncatalogued
            else (
                "Every app seen in the logs is in the catalog."
                if audit.apps
                else "No app was seen in the logs."
            )
        ),
        "",
        "## Coverage and gaps",
        "",
        *table(
            ["org", "event type", "first day", "last day", "days with events", "days without events"],
            [
                [
                    Literal(c["org_id"]),
                    c["event_type"],
                    _when(c["first_day"]),
                    _when(c["last_day"]),
                    _num(c["days"]),
                    _days(c["missing"]),
                ]
                for c in audit.coverage
            ],
        ),
        "",
        "## Detection",
        "",
        f"Detectors run ({len(audit.detectors)}): {escape_markdown(', '.join(audit.detectors))}.",
        "",
        (
            f"Days judged: up to {escape_markdown(audit.last_judged)} (UTC), the last day `workbench scan` judged."
            if audit.last_judged
            else "Days judged: none (`workbench scan` has not run on this store)."
        ),
        "",
        f"No finding at or above {audit.threshold} was raised"
        + (" that is not dismissed; the dismissed ones:" if audit.dismissed else "."),
        "",
    ]
    if audit.dismissed:
        lines += [
            *findings_with_triage(audit.dismissed),
            "",
        ]
    if audit.ioc is not None:
        lines += [*ioc_section(audit.ioc, "#"), ""]
    else:
        lines += ["## IOC hits", "", "IOC: not checked (no IOC file was given; pass --ioc FILE).", ""]
    lines += [
        "## Appendix: how this report was produced",
        "",
        "Run these against the same database to reproduce it (every value is shell-quoted):",
        "",
        *code_block(commands),
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
