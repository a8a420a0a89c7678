"""Verify containment of a connected app after a moment T (when its tokens were revoked):

1. Were all tokens of the app created before T revoked? (absent from the latest token snapshot
   taken after T)
2. Has any activity from the app's old addresses or old tokens appeared after T? (events,
   LoginHistory, and the LastUsedDate of old tokens)
3. Are new tokens in place, and for whom? (tokens created after T in that snapshot)

Each answer is pass, fail or unknown (the store cannot tell), with its evidence; the verdict is
fail if any answer fails, else unknown if any is unknown, else pass.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from workbench.config import Settings
from workbench.store.queries import first_row, load_query, query_frame

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
EVIDENCE_LIMIT = 20


class ContainmentError(ValueError):
    """The app is not known to the store; the message suggests what is."""


@dataclass
class Check:
    """One question, its answer and the evidence for it."""

    question: str
    answer: str
    evidence: list[str] = field(default_factory=list)


@dataclass
class Containment:
    """The three checks for one app after SINCE, and the verdict."""

    app: str
    app_ids: list[str]
    app_names: list[str]
    since: datetime
    checks: list[Check]

    @property
    def verdict(self) -> str:
        """fail if any check fails, else unknown if any is unknown, else pass."""
        answers = {c.answer for c in self.checks}
        return FAIL if FAIL in answers else UNKNOWN if UNKNOWN in answers else PASS

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "app": self.app,
            "app_ids": self.app_ids,
            "app_names": self.app_names,
            "since": self.since.isoformat() + "Z",
            "verdict": self.verdict,
            "checks": [
                {"question": c.question, "answer": c.answer, "evidence": c.evidence} for c in self.checks
            ],
        }


def _key(value: object) -> str:
    return str(value or "").strip().lower()


@dataclass(frozen=True)
class ResolvedApp:
    """What the store knows an app by: its 15-character ids, its names (lower case), and the
    orgs (15-character ids) it is looked for in; no orgs means every org."""

    ids: list[str]
    names: list[str]
    orgs: list[str]

    def holds(self, org_id: str | None) -> bool:
        """Whether a row of ORG_ID belongs to the app's orgs (a row without an org may)."""
        return not self.orgs or org_id is None or org_id[:15] in self.orgs


def resolve_app(con: duckdb.DuckDBPyConnection, app: str, org: str | None = None) -> ResolvedApp:
    """The ids and names the store knows APP by: an id (15 or 18 characters) or a name, from the
    logs, connected apps, tokens or logins. An id belongs to one org, so a name it shares with an
    app of another org (the same vendor in two client orgs) does not pull that one in; a name is
    looked for in every org unless ORG is given."""
    known = con.execute(load_query("containment_app_names")).fetchall()
    wanted = app.strip()
    as_id = wanted[:15] if len(wanted) in (15, 18) else None
    orgs = {org[:15]} if org else {o for o, i, _ in known if o and as_id and i == as_id}
    if orgs:
        known = [(o, i, n) for o, i, n in known if o is None or o in orgs]
    hits = [(i, n) for _, i, n in known if (as_id and i == as_id) or _key(n) == _key(wanted)]
    if not hits:
        names = sorted({str(n) for _, _, n in known if n})
        close = [n for n in names if _key(wanted) in _key(n) or _key(n) in _key(wanted)] or names
        where = f" in org {org}" if org else ""
        raise ContainmentError(
            f"--app {wanted!r}: no such connected app in the store{where}; known: {', '.join(close[:8]) or 'none'}"
        )
    ids: set[str] = {i for i, _ in hits if i}
    keys: set[str] = {_key(n) for _, n in hits if n}
    # An id names the app; its other names (from the logs or the connected app) belong to it too.
    keys |= {_key(n) for _, i, n in known if i and i in ids and n}
    ids |= {i for _, i, n in known if i and _key(n) in keys}
    return ResolvedApp(sorted(ids), sorted(keys), sorted(orgs))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


def _token_line(token: dict[str, Any]) -> str:
    return (
        f"token {token['token_id'] or '?'} of {token['user_name'] or token['user_id'] or '?'}: created "
        f"{_when(token['created_date'])}, last used {_when(token['last_used_date'])}, "
        f"use count {token['use_count'] if token['use_count'] is not None else '?'}"
    )


def _is_declared(settings: Settings | None, app_ids: list[str], ip: str) -> bool:
    if settings is None:
        return False
    for app_id in app_ids:
        entry = settings.catalog_for(app_id)
        if entry and entry.egress_allows(ip):
            return True
    return False


def _in_networks(ip: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in n for n in networks if n.version == address.version)


def verify_containment(
    con: duckdb.DuckDBPyConnection,
    app: str,
    since: datetime,
    incident_ips: list[str] | None = None,
    settings: Settings | None = None,
    org: str | None = None,
) -> Containment:
    """The three containment checks for APP after SINCE (naive UTC), in ORG or the org its id
    belongs to (a name alone: every org). The old addresses are INCIDENT_IPS (addresses or CIDRs)
    when given, else every address the app was seen from before SINCE that its catalog entry does
    not declare as egress."""
    for value in incident_ips or []:
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise ContainmentError(f"--ip {value!r} is not an address or CIDR") from None
    resolved = resolve_app(con, app, org)
    app_ids, names = resolved.ids, resolved.names
    all_tokens = query_frame(con, "containment_tokens").to_dicts()
    tokens = [t for t in all_tokens if _key(t["app_name"]) in names and resolved.holds(t["org_id"])]
    coverage = first_row(con.execute(load_query("containment_coverage")))
    last_event, last_login, _ = coverage if coverage else (None, None, None)
    snapshots = [
        taken
        for taken, org15 in con.execute(load_query("containment_token_snapshots")).fetchall()
        if resolved.holds(org15)
    ]
    snapshots = sorted(set(snapshots))
    after = [s for s in snapshots if s > since]
    latest = after[-1] if after else None
    in_latest = [t for t in tokens if latest is not None and t["taken_at"] == latest]
    before_tokens = {
        t["token_id"] or _token_line(t): t for t in tokens if t["created_date"] and t["created_date"] < since
    }

    checks = [
        _old_tokens_revoked(since, latest, snapshots, in_latest, before_tokens),
        _no_old_activity(
            con, since, resolved, tokens, incident_ips, settings, (last_event, last_login, latest)
        ),
        _new_tokens(since, latest, in_latest),
    ]
    return Containment(app, app_ids, names, since, checks)


def _old_tokens_revoked(
    since: datetime,
    latest: datetime | None,
    snapshots: list[datetime],
    in_latest: list[dict[str, Any]],
    before_tokens: dict[str, dict[str, Any]],
) -> Check:
    question = f"Were all tokens of the app created before {_when(since)} revoked?"
    if latest is None:
        seen = (
            f"the latest token snapshot is from {_when(snapshots[-1])}" if snapshots else "no token snapshot"
        )
        return Check(
            question,
            UNKNOWN,
            [
                f"no OauthToken snapshot taken after {_when(since)} ({seen}): fetch --org-context or ingest an export"
            ],
        )
    live = [t for t in in_latest if t["created_date"] is None or t["created_date"] < since]
    if live:
        return Check(
            question,
            FAIL,
            [f"still live in the snapshot of {_when(latest)}: " + _token_line(t) for t in live][
                :EVIDENCE_LIMIT
            ],
        )
    return Check(
        question,
        PASS,
        [
            f"the snapshot of {_when(latest)} holds no token of the app created before {_when(since)}",
            f"{len(before_tokens)} such token(s) were in earlier snapshots and are gone",
            *(_token_line(t) for t in list(before_tokens.values())[:EVIDENCE_LIMIT]),
        ],
    )


def _no_old_activity(
    con: duckdb.DuckDBPyConnection,
    since: datetime,
    app: ResolvedApp,
    tokens: list[dict[str, Any]],
    incident_ips: list[str] | None,
    settings: Settings | None,
    coverage: tuple[datetime | None, datetime | None, datetime | None],
) -> Check:
    question = f"Has any activity from the app's old addresses or tokens appeared after {_when(since)}?"
    addresses = query_frame(
        con, "containment_app_addresses", {"app_ids": app.ids or [""], "since": since, "orgs": app.orgs}
    ).to_dicts()
    logins = con.execute(
        load_query("containment_app_logins"), {"names": app.names, "orgs": app.orgs}
    ).fetchall()
    if incident_ips:
        networks = [ipaddress.ip_network(ip.strip(), strict=False) for ip in incident_ips]

        def is_old(ip: str | None) -> bool:
            return bool(ip) and _in_networks(str(ip), networks)

        basis = f"the incident's addresses given ({', '.join(incident_ips[:6])})"
    else:
        before = {a["ip"] for a in addresses if not a["after"]} | {
            str(r[1]) for r in logins if r[0] < since and r[1]
        }
        old = {ip for ip in before if not _is_declared(settings, app.ids, ip)}

        def is_old(ip: str | None) -> bool:
            return ip in old

        basis = f"{len(old)} address(es) the app used before {_when(since)} that its catalog entry does not declare"
    evidence = [f"old addresses: {basis}"]
    failed: list[str] = []
    for a in addresses:
        if a["after"] and is_old(a["ip"]):
            failed.append(
                f"{a['ip']}: {a['calls']:,} call(s) in the logs ({', '.join(a['event_types'])}) "
                f"from {_when(a['first_ts'])} to {_when(a['last_ts'])}"
            )
    for when, ip, user_name, user_id, status in logins:
        if when >= since and is_old(ip):
            failed.append(f"{ip}: login of {user_name or user_id} at {_when(when)} ({status})")
    for token in tokens:
        created, used = token["created_date"], token["last_used_date"]
        if created and created < since and used and used >= since:
            failed.append(f"old token used after {_when(since)}: " + _token_line(token))
    failed = list(dict.fromkeys(failed))
    if failed:
        return Check(question, FAIL, evidence + failed[:EVIDENCE_LIMIT])
    last_event, last_login, latest_snapshot = coverage
    covered = [
        f"{what} to {_when(when)}"
        for what, when in (
            ("events", last_event),
            ("LoginHistory", last_login),
            ("token snapshots", latest_snapshot),
        )
        if when and when > since
    ]
    if not covered:
        return Check(
            question,
            UNKNOWN,
            [*evidence, f"the store holds no events, logins or token snapshot after {_when(since)}"],
        )
    return Check(question, PASS, [*evidence, "none seen; the store covers " + ", ".join(covered)])


def _new_tokens(since: datetime, latest: datetime | None, in_latest: list[dict[str, Any]]) -> Check:
    question = f"Are new tokens in place (created after {_when(since)}), and for whom?"
    if latest is None:
        return Check(question, UNKNOWN, [f"no OauthToken snapshot taken after {_when(since)}"])
    new = [t for t in in_latest if t["created_date"] and t["created_date"] >= since]
    if not new:
        return Check(
            question,
            FAIL,
            [f"the snapshot of {_when(latest)} holds no token of the app created after {_when(since)}"],
        )
    holders = sorted({str(t["user_name"] or t["user_id"]) for t in new})
    return Check(
        question,
        PASS,
        [
            f"{len(new)} new token(s) for {', '.join(holders)}",
            *(_token_line(t) for t in new[:EVIDENCE_LIMIT]),
        ],
    )
