"""Exposure-window back-check: what a scope did in a window, and what was new about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import duckdb

from workbench.investigate.containment import ContainmentError, resolve_app, verify_containment
from workbench.investigate.ioc import Indicator, sweep
from workbench.investigate.scope import Scope, install_scope
from workbench.store.queries import first_row, load_query, query_frame

CLOSING_CAP = 10  # org-context items a closing list names before "+N more"
NO_ORG_CONTEXT = "no org context loaded"


@dataclass
class Backcheck:
    """Every section of a back-check, as rows (lists of dicts) and short lists of sentences."""

    scope: Scope
    calls_by_hour: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    resources: list[dict[str, Any]]
    bulk_jobs: list[dict[str, Any]]
    ips: list[dict[str, Any]]
    actors: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    ioc_hits: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    baseline: list[dict[str, Any]]
    coverage: list[dict[str, Any]]
    ioc_checked: bool = False  # an IOC file was given (no hit then means none, not "not looked")
    at_risk: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    # The org's side (SetupAuditTrail, OauthToken snapshots): what the store holds of it (None: not
    # looked at), the setup changes in the window, the token events of the scope, and containment
    # after the incident window for each scoped app (see org_context_of).
    org_context: dict[str, Any] | None = None
    setup_changes: list[dict[str, Any]] = field(default_factory=list)
    token_events: list[dict[str, Any]] = field(default_factory=list)
    containment: list[dict[str, Any]] = field(default_factory=list)

    @property
    def org_context_loaded(self) -> bool:
        """The store holds any token or connected-app snapshot, setup audit trail or login history."""
        return bool(self.org_context and self.org_context["loaded"])

    @property
    def total_calls(self) -> int:
        """API calls in scope and window."""
        return int(sum(r["calls"] for r in self.calls_by_hour))

    @property
    def new_hours(self) -> list[int]:
        """Hours of the day (UTC) active in the window but not in the same window of the previous
        weeks (empty when there is no earlier activity to compare with)."""
        if not any(week["calls"] for week in self.baseline):
            return []
        before = {h for week in self.baseline for h in (week["hours"] or [])}
        return sorted({r["hour"].hour for r in self.calls_by_hour} - before)


def _coverage(con: duckdb.DuckDBPyConnection, scope: Scope, orgs: set[str]) -> list[dict[str, Any]]:
    """Per org (of the scope) and event type: the window's days with events, and the gaps."""
    rows = [r for r in query_frame(con, "coverage_by_day").to_dicts() if not orgs or r["org_id"] in orgs]
    window_days = [scope.start.date() + timedelta(n) for n in range((scope.end - scope.start).days + 1)]
    window_days = [d for d in window_days if datetime(d.year, d.month, d.day) < scope.end]
    result: dict[tuple[str, str], set[date]] = {}
    for row in rows:
        result.setdefault((row["org_id"], row["event_type"]), set())
        if row["day"] in window_days:
            result[(row["org_id"], row["event_type"])].add(row["day"])
    coverage = []
    for (org, event_type), days in sorted(result.items()):
        gaps = [d for d in window_days if d not in days]
        coverage.append(
            {
                "org_id": org,
                "event_type": event_type,
                "days_with_events": len(days),
                "window_days": len(window_days),
                "days_without_events": gaps,
            }
        )
    return coverage


def _findings_in(
    con: duckdb.DuckDBPyConnection, scope: Scope, entity_ids: set[str], ips: set[str]
) -> list[dict]:
    rows = query_frame(con, "findings_in_window", {"start": scope.start, "end": scope.end}).to_dicts()
    if not (scope.apps or scope.users or scope.ips):
        return rows
    wanted = []
    for row in rows:
        named_ips = set(row.get("ips") or [])
        if (row["entity_id"] or "")[:15] in entity_ids or named_ips & ips:
            wanted.append(row)
    return wanted


def run_backcheck(
    con: duckdb.DuckDBPyConnection, scope: Scope, indicators: list[Indicator] | None = None
) -> Backcheck:
    """Run every back-check section for SCOPE (read-only)."""
    install_scope(con, scope)
    window = {"start": scope.start, "end": scope.end}
    ips = query_frame(con, "backcheck_ips", window).to_dicts()
    actors = query_frame(con, "backcheck_actors", window).to_dicts()
    weeks = [scope.start - timedelta(days=7 * k) for k in range(1, 5)]
    baseline = query_frame(con, "backcheck_baseline", {**window, "week_starts": weeks}).to_dicts()
    orgs = (
        set(query_frame(con, "backcheck_orgs", window)["org_id"].to_list())
        if scope.apps or scope.users or scope.ips
        else set()
    )
    entity_ids = {(a["connected_app_id"] or "")[:15] for a in actors} | {
        (a["user_id"] or "")[:15] for a in actors
    }
    hits = sweep(con, indicators, scope.start, scope.end) if indicators else []
    scoped_ips = {r["ip"] for r in ips}
    if scope.apps or scope.users or scope.ips:
        hits = [
            h for h in hits if set(h.get("ips") or []) & scoped_ips or set(h.get("apps") or []) & entity_ids
        ]
    result = Backcheck(
        scope=scope,
        calls_by_hour=query_frame(con, "backcheck_calls_by_hour", window).to_dicts(),
        objects=query_frame(con, "backcheck_objects", window).to_dicts(),
        resources=query_frame(con, "backcheck_resources", window).to_dicts(),
        bulk_jobs=query_frame(con, "backcheck_bulk_jobs", window).to_dicts(),
        ips=ips,
        actors=actors,
        errors=query_frame(con, "backcheck_errors", window).to_dicts(),
        ioc_hits=hits,
        findings=_findings_in(con, scope, entity_ids - {""}, scoped_ips),
        baseline=baseline,
        coverage=_coverage(con, scope, orgs),
        ioc_checked=bool(indicators),
    )
    org_context_of(con, result, orgs)
    clients = query_frame(con, "backcheck_clients", window).to_dicts()
    _summarise(result, clients)
    return result


def _summarise(result: Backcheck, clients: list[dict[str, Any]]) -> None:
    """The three closing lists: what was at risk, what was checked, what changed."""
    for obj in result.objects:
        if obj["calls"] or obj["rows_processed"]:
            reads = obj["calls"] - obj["writes"]
            result.at_risk.append(
                f"{obj['object']}: {obj['rows_processed']:,} rows processed, {reads:,} read and {obj['writes']:,} "
                f"write calls" + (" (first time in the window)" if obj["first_touched"] else "")
            )
    for cov in result.coverage:
        gaps = cov["days_without_events"]
        gap_text = f"; no events on {', '.join(d.isoformat() for d in gaps[:6])}" if gaps else "; no gaps"
        if len(gaps) > 6:
            gap_text += f" (+{len(gaps) - 6} more)"
        result.checked.append(
            f"{cov['event_type']} ({cov['org_id']}): {cov['days_with_events']} of {cov['window_days']} days{gap_text}"
        )
    if not result.coverage:
        result.checked.append("no event logs cover this window")
    new_ips = [r for r in result.ips if r["new"]]
    for r in new_ips:
        where = ", ".join(str(v) for v in (r.get("city"), r.get("country")) if v)
        flags = [k for k in ("tor", "vpn", "proxy", "hosting") if r.get(k)]
        detail = "; ".join(
            p for p in (where, f"AS{r['asn']} {r['as_org']}" if r.get("asn") else "", ", ".join(flags)) if p
        )
        result.changed.append(
            f"new address {r['ip']}" + (f" ({detail})" if detail else "") + f": {r['events']:,} events"
        )
    for job in result.bulk_jobs:
        if job["deleted_at"]:
            minutes = (job["deleted_at"] - job["first_seen"]).total_seconds() / 60
            result.changed.append(
                f"bulk {job['job_kind']} job {job['job_id']} on {job['object'] or 'an unknown object'} deleted "
                f"{minutes:.1f} minutes after it first appeared ({job['first_seen']:%Y-%m-%d %H:%M} UTC)"
            )
    for obj in result.objects:
        if obj["first_touched"]:
            result.changed.append(
                f"new object {obj['object']}: {obj['calls']:,} calls, {obj['rows_processed']:,} rows"
            )
    unusual = result.new_hours
    if unusual:
        result.changed.append(
            "active at hours not used in the same window of the previous 4 weeks: "
            + ", ".join(f"{h:02d}:00" for h in unusual)
            + " UTC"
        )
    seen_before = {c["client"] for c in clients if not c["in_window"]}
    for c in clients:
        if c["in_window"] and c["client"] not in seen_before:
            result.changed.append(f"new client {c['client']!r}: {c['events']:,} events")
    baseline_calls = [week["calls"] or 0 for week in result.baseline]
    if baseline_calls:
        ordered = sorted(baseline_calls)
        median = ordered[len(ordered) // 2]
        result.changed.append(
            f"{result.total_calls:,} API calls in the window against a median of {median:,} in the same window "
            f"of the previous {len(baseline_calls)} weeks"
        )
    _summarise_org_context(result)
    if not result.changed:
        result.changed.append("nothing new compared with the scope's history")


# The org's side -----------------------------------------------------------------------------------


def _minute(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def _key(value: object) -> str:
    return str(value or "").strip().lower()


def _token_key(token: dict[str, Any]) -> str:
    """A token's identity across snapshots: its Id, else app, holder and creation time."""
    return str(token["token_id"] or f"{token['app_name']}|{token['user_id']}|{token['created_date']}")


def _holder(token: dict[str, Any]) -> str:
    return str(token["user_name"] or token["user_id"] or "?")


def _org_context_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the store holds of the org context; loaded is False when it holds none of it."""
    try:
        row = first_row(con.execute(load_query("backcheck_org_context")))
    except duckdb.CatalogException:  # a store from before the org-context tables
        row = None
    names = [
        "setup_rows",
        "setup_first",
        "setup_last",
        "token_snapshots",
        "token_first",
        "token_last",
        "app_snapshots",
        "logins",
    ]
    summary: dict[str, Any] = dict(zip(names, row, strict=True)) if row else dict.fromkeys(names)
    for name in ("setup_rows", "token_snapshots", "app_snapshots", "logins"):
        summary[name] = int(summary[name] or 0)
    summary["loaded"] = any(summary[n] for n in ("setup_rows", "token_snapshots", "app_snapshots", "logins"))
    summary["note"] = None if summary["loaded"] else NO_ORG_CONTEXT
    return summary


def _scoped_apps(con: duckdb.DuckDBPyConnection, scope: Scope) -> list[dict[str, Any]]:
    """Each scoped app: its id, a label, and the ids and names (lower case) tokens and setup
    changes may name it by (as verify-containment resolves them)."""
    known = con.execute(load_query("containment_app_names")).fetchall()
    apps = []
    for app in scope.apps:
        try:
            resolved = resolve_app(con, app)
            ids, names = resolved.ids, resolved.names
        except ContainmentError:
            ids, names = [app[:15]], []
        label = next((str(n) for _, i, n in known if i == app[:15] and n), app)
        apps.append({"app_id": app[:15], "label": label, "ids": ids, "names": names})
    return apps


def _revocations(
    tokens: list[dict[str, Any]], snapshots: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], datetime, datetime]]:
    """(token, last snapshot holding it, next snapshot of its org without it), oldest first."""
    by_snapshot: dict[int, dict[str, dict[str, Any]]] = {}
    for token in tokens:
        by_snapshot.setdefault(token["snapshot_id"], {})[_token_key(token)] = token
    by_org: dict[str, list[dict[str, Any]]] = {}
    for snapshot in snapshots:
        by_org.setdefault(str(snapshot["org_id"] or ""), []).append(snapshot)
    gone = []
    for ordered in by_org.values():
        for before, after in pairwise(ordered):
            held, kept = by_snapshot.get(before["snapshot_id"], {}), by_snapshot.get(after["snapshot_id"], {})
            gone += [(t, before["taken_at"], after["taken_at"]) for k, t in held.items() if k not in kept]
    return sorted(gone, key=lambda g: (g[2], _token_key(g[0])))


def _token_fields(token: dict[str, Any]) -> dict[str, Any]:
    return {
        "org_id": token["org_id"],
        "app_name": token["app_name"],
        "user": _holder(token),
        "user_id": token["user_id"],
        "token_id": token["token_id"],
        "created_date": token["created_date"],
        "last_used_date": token["last_used_date"],
        "use_count": token["use_count"],
    }


def _token_events(
    scope: Scope,
    tokens: list[dict[str, Any]],
    snapshots: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The scope's tokens created in the window, last used in it, and revoked in it (held by one
    snapshot, gone from the org's next one, the two around or inside the window), by time."""
    events: list[dict[str, Any]] = []
    created: set[str] = set()
    used: set[tuple[str, datetime]] = set()
    for token in tokens:
        key = _token_key(token)
        when, last = token["created_date"], token["last_used_date"]
        if when and scope.start <= when < scope.end and key not in created:
            created.add(key)
            events.append({"event": "created", "at": when, **_token_fields(token), "note": ""})
        if last and scope.start <= last < scope.end and (key, last) not in used:
            used.add((key, last))
            note = f"seen in the snapshot of {_minute(token['taken_at'])}"
            events.append({"event": "last used", "at": last, **_token_fields(token), "note": note})
    for token, before, after in _revocations(tokens, snapshots):
        if before < scope.end and after > scope.start:
            note = f"in the snapshot of {_minute(before)}, gone from the one of {_minute(after)}"
            events.append({"event": "revoked", "at": after, **_token_fields(token), "note": note})
    order = {"created": 0, "last used": 1, "revoked": 2}
    return sorted(events, key=lambda e: (e["at"], order[e["event"]], str(e["token_id"])))


def _names_app(change: dict[str, Any], apps: list[dict[str, Any]]) -> str | None:
    """The label of the first scoped app the change's display or action names, by name or id."""
    text = " ".join(str(change.get(k) or "") for k in ("display", "action"))
    lowered = text.lower()
    for app in apps:
        if any(i and i in text for i in app["ids"]) or any(
            len(n) >= 3 and n in lowered for n in app["names"]
        ):
            return str(app["label"])
    return None


def incident_end(result: Backcheck) -> tuple[datetime, str]:
    """The end of the incident window, and what it is: the last call from the incident's
    addresses (new to the scope in the window, or named by a finding), else the last finding's
    end, else the window's end."""
    named = {ip for f in result.findings for ip in (f.get("ips") or [])}
    seen = [r["last_seen"] for r in result.ips if (r["new"] or r["ip"] in named) and r["last_seen"]]
    if seen:
        # The minute after the last call: that call is the incident's, not activity after it.
        last = max(seen).replace(second=0, microsecond=0) + timedelta(minutes=1)
        return last, "the end of the incident window (the minute after the last call from its addresses)"
    ends = [f["window_end"] for f in result.findings if f.get("window_end")]
    if ends:
        return _minute_up(max(ends)), "the end of the incident window (the end of its last finding)"
    return _minute_up(result.scope.end), "the end of the back-checked window"


def _minute_up(value: datetime) -> datetime:
    """VALUE, or the next whole minute: T is printed to the minute in the command that reproduces it."""
    whole = value.replace(second=0, microsecond=0)
    return whole if whole == value else whole + timedelta(minutes=1)


def incident_addresses(result: Backcheck) -> list[str]:
    """The addresses new to the scope in the window, or named by a finding in it and used by the scope."""
    named = {ip for f in result.findings for ip in (f.get("ips") or [])}
    return [r["ip"] for r in result.ips if r["new"] or r["ip"] in named]


def _containment(
    con: duckdb.DuckDBPyConnection,
    result: Backcheck,
    apps: list[dict[str, Any]],
    tokens: list[dict[str, Any]],
    snapshots: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """verify-containment for each scoped app, with T the end of the incident window, or the last
    snapshot still holding the app's tokens when they were seen revoked after it."""
    end, end_basis = incident_end(result)
    addresses = incident_addresses(result)
    answers = []
    for app in apps:
        mine = [t for t in tokens if _key(t["app_name"]) in app["names"]]
        later = [g for g in _revocations(mine, snapshots) if g[2] > end]
        since, basis = end, end_basis
        if later:
            _, before, after = later[-1]
            gone = sum(1 for g in later if g[2] == after)
            if before > end:
                since = _minute_up(before)
                basis = (
                    f"the last token snapshot that still held the app's tokens revoked after the incident "
                    f"window ({gone} token(s) gone from the snapshot of {_minute(after)}); the incident window "
                    f"ended {_minute(end)}"
                )
            else:
                basis += (
                    f"; the app's tokens were seen revoked between the snapshots of {_minute(before)} "
                    f"and {_minute(after)}"
                )
        entry: dict[str, Any] = {
            "app_id": app["app_id"],
            "app": app["label"],
            "since": since,
            "since_basis": basis,
            "old_addresses": addresses,
        }
        try:
            checked = verify_containment(con, app["app_id"], since, addresses or None)
        except ContainmentError as exc:
            answers.append({**entry, "verdict": "unknown", "checks": [], "error": str(exc)})
            continue
        answers.append(
            {
                **entry,
                "verdict": checked.verdict,
                "checks": [
                    {"question": c.question, "answer": c.answer, "evidence": c.evidence}
                    for c in checked.checks
                ],
                "error": None,
            }
        )
    return answers


def org_context_of(con: duckdb.DuckDBPyConnection, result: Backcheck, orgs: set[str]) -> None:
    """Fill RESULT's org-context sections: the setup changes in the window (those naming a scoped
    app marked), the scope's token events, and containment after the incident for each scoped app.
    With no org context in the store they stay empty and org_context says so."""
    result.org_context = _org_context_summary(con)
    if not result.org_context["loaded"]:
        return
    scope = result.scope
    apps = _scoped_apps(con, scope)

    def in_orgs(row: dict[str, Any]) -> bool:
        return not orgs or row["org_id"] is None or row["org_id"] in orgs

    window = {"start": scope.start, "end": scope.end}
    changes = [r for r in query_frame(con, "backcheck_setup_changes", window).to_dicts() if in_orgs(r)]
    for change in changes:
        change["names_app"] = _names_app(change, apps)
    result.setup_changes = changes
    all_tokens = [t for t in query_frame(con, "containment_tokens").to_dicts() if in_orgs(t)]
    snapshots = [s for s in query_frame(con, "backcheck_token_snapshots").to_dicts() if in_orgs(s)]
    app_names = {n for app in apps for n in app["names"]}
    users = {u[:15] for u in scope.users}
    scoped = [
        t
        for t in all_tokens
        if (not scope.apps or _key(t["app_name"]) in app_names)
        and (not users or str(t["user_id"] or "")[:15] in users)
    ]
    result.token_events = _token_events(scope, scoped, snapshots)
    if apps:
        result.containment = _containment(con, result, apps, all_tokens, snapshots)


def _capped(items: list[str], what: str, cap: int = CLOSING_CAP) -> list[str]:
    return items[:cap] + ([f"+{len(items) - cap} more {what}"] if len(items) > cap else [])


def setup_change_line(change: dict[str, Any]) -> str:
    """One setup change in words: when, who, what, and the scoped app it names."""
    what = change["display"] or change["action"] or "?"
    section = f" [{change['section']}]" if change["section"] else ""
    delegate = f" (delegate {change['delegate_user']})" if change["delegate_user"] else ""
    named = f" (names scoped app {change['names_app']})" if change.get("names_app") else ""
    return (
        f"setup change {_minute(change['created_date'])} by {change['created_by'] or '?'}{delegate}: "
        f"{what}{section}{named}"
    )


def token_event_line(event: dict[str, Any]) -> str:
    """One token event in words."""
    subject = f"token {event['token_id'] or '?'} of {event['app_name'] or '?'} held by {event['user']}"
    if event["event"] == "created":
        return f"{subject} created {_minute(event['at'])}"
    if event["event"] == "revoked":
        return f"{subject} revoked ({event['note']})"
    return f"{subject} last used {_minute(event['at'])} (use count {event['use_count']})"


def _summarise_org_context(result: Backcheck) -> None:
    """The org context in the closing lists: whether it was available, the setup changes and the
    token creations and revocations under changed, the tokens used in the window under checked."""
    summary = result.org_context
    if summary is None:
        return
    if not summary["loaded"]:
        result.checked.append(
            f"org context: {NO_ORG_CONTEXT} (no OauthToken, ConnectedApplication, SetupAuditTrail or "
            "LoginHistory rows), so setup changes and token events were not checked; fill it with "
            "workbench fetch --org-context, or workbench ingest the exports with --as-of"
        )
        return
    trail = (
        f"SetupAuditTrail {summary['setup_rows']:,} rows from {_minute(summary['setup_first'])} to "
        f"{_minute(summary['setup_last'])}"
        if summary["setup_rows"]
        else "no SetupAuditTrail loaded"
    )
    tokens = (
        f"{summary['token_snapshots']} OauthToken snapshot(s) from {_minute(summary['token_first'])} to "
        f"{_minute(summary['token_last'])}"
        if summary["token_snapshots"]
        else "no OauthToken snapshot loaded"
    )
    result.checked.append(
        f"org context: available ({trail}; {tokens}; {summary['logins']:,} LoginHistory rows)"
    )
    if summary["setup_rows"]:
        marked = sum(1 for c in result.setup_changes if c.get("names_app"))
        result.checked.append(
            f"setup changes in the window: {len(result.setup_changes)}"
            + (f", {marked} naming a scoped app" if result.scope.apps else "")
        )
    used = [e for e in result.token_events if e["event"] == "last used"]
    if summary["token_snapshots"]:
        result.checked.append(f"tokens of the scope last used in the window: {len(used)}")
        result.checked += _capped([token_event_line(e) for e in used], "tokens used in the window")
    # Those naming a scoped app first: a cap must not hide them.
    changes = sorted(result.setup_changes, key=lambda c: c.get("names_app") is None)
    result.changed += _capped([setup_change_line(c) for c in changes], "setup changes")
    for kind in ("created", "revoked"):
        events = [e for e in result.token_events if e["event"] == kind]
        result.changed += _capped([token_event_line(e) for e in events], f"tokens {kind}")
