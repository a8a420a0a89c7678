"""Who and when a back-check covers: a window plus apps, users and addresses (or CIDRs).

Filters combine with AND across kinds and OR within a kind. The scope becomes a temporary SQL
macro, `in_scope(app, user, ip)`, that every back-check query calls, so the rule is written once.
"""

from __future__ import annotations

import difflib
import ipaddress
from dataclasses import dataclass, field, replace
from datetime import datetime

import duckdb

from workbench.store.ingest import plain_address, plain_network
from workbench.store.queries import query_frame


class ScopeError(Exception):
    """A scope that cannot be used (bad address, empty window); the message says which."""


@dataclass
class Scope:
    """A back-check's window and entities (empty lists mean everything in the org)."""

    start: datetime
    end: datetime
    apps: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)  # addresses or CIDRs

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ScopeError(f"the window is empty: {self.start} is not before {self.end}")
        # In the form ingest stores: an IPv4-mapped address or network becomes plain IPv4.
        plain = []
        for value in self.ips:
            try:
                network = plain_network(value)
            except ValueError:
                raise ScopeError(f"--ip {value!r} is not an address or CIDR") from None
            plain.append(str(network) if "/" in value else plain_address(value))
        self.ips = plain

    def describe(self) -> str:
        """'app 0H4..., ip 185.220.101.0/24' or 'the whole store'."""
        parts = (
            [f"app {a}" for a in self.apps]
            + [f"user {u}" for u in self.users]
            + [f"ip {i}" for i in self.ips]
        )
        return ", ".join(parts) or "the whole store"


def _nearest(value: str, candidates: list[str]) -> str:
    """'; did you mean a, b or c?' from the candidates closest to VALUE, or ''."""
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=3, cutoff=0.5)
    close += [c for c in lowered if value.lower() and value.lower() in c and c not in close][: 3 - len(close)]
    if not close:
        return ""
    names = [repr(lowered[c]) for c in close]
    return (
        "; did you mean " + (", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]) + "?"
    )


def _resolve_named(
    kind: str, option: str, values: list[str], known: list[tuple[str, str | None]], orgs: dict[str, str]
) -> list[str]:
    """Each value as ids: an id (15 or 18 characters) the store holds, or a name that is unique
    (case-insensitive); anything else is a ScopeError naming the nearest matches."""
    ids = {i for i, _ in known}
    by_name: dict[str, set[str]] = {}
    for i, name in known:
        if name:
            by_name.setdefault(name.lower(), set()).add(i)
    resolved: list[str] = []
    for value in values:
        if value[:15] in ids:
            resolved.append(value[:15])
            continue
        matches = by_name.get(value.lower(), set())
        if len(matches) == 1:
            resolved.append(next(iter(matches)))
            continue
        if matches:
            raise ScopeError(
                f"{option} {value!r} names {len(matches)} {kind}s: "
                + ", ".join(f"{i} (org {orgs.get(i, '?')})" for i in sorted(matches))
                + "; give the id"
            )
        candidates = sorted({name for _, name in known if name} | ids)
        raise ScopeError(f"{option} {value!r} matches no {kind} in the store{_nearest(value, candidates)}")
    return resolved


def resolve_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> Scope:
    """SCOPE with app and user names turned into ids; an app, user or address that matches nothing
    in the store is a ScopeError (which suggests the nearest matches), never an empty answer."""
    rows = query_frame(con, "scope_candidates").to_dicts()
    known = {
        kind: [(r["id"], r["name"]) for r in rows if r["kind"] == kind] for kind in ("app", "user", "ip")
    }
    orgs = {r["id"]: r["org_id"] for r in rows if r["org_id"]}
    apps = _resolve_named("connected app", "--app", scope.apps, known["app"], orgs)
    users = _resolve_named("user", "--user", scope.users, known["user"], orgs)
    addresses = [ip for ip, _ in known["ip"]]
    for value in scope.ips:
        network = ipaddress.ip_network(value, strict=False)
        if not any(_inside(ip, network) for ip in addresses):
            raise ScopeError(f"--ip {value!r} matches no address in the store{_nearest(value, addresses)}")
    return replace(scope, apps=list(dict.fromkeys(apps)), users=list(dict.fromkeys(users)))


def _inside(ip: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        address = ipaddress.ip_address(plain_address(ip))
    except ValueError:
        return False
    return address.version == network.version and address in network


def _literal_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::VARCHAR[]"


def install_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """Create the `in_scope(app, user, ip)` macro for this scope on this connection.

    An app's scope also covers rows that carry only its integration users (logins, bulk job logs),
    and a CIDR is expanded into the addresses of the store that fall in it."""
    apps = [a[:15] for a in scope.apps]
    users = [u[:15] for u in scope.users]
    app_users: list[str] = []
    if apps:
        app_users = [
            r[0]
            for r in con.execute(
                """SELECT user_id FROM api_activity WHERE user_id IS NOT NULL GROUP BY user_id
                   HAVING sum(calls) FILTER (WHERE list_contains(?, left(connected_app_id, 15)))
                          >= 0.95 * sum(calls)""",
                [apps],
            ).fetchall()
        ]
    if scope.users:
        named = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT user_id FROM hourly_activity WHERE list_contains(?, user_name)",
                [scope.users],
            ).fetchall()
        ]
        users += named
    addresses: list[str] = []
    if scope.ips:
        networks = [ipaddress.ip_network(v, strict=False) for v in scope.ips]
        for (ip,) in con.execute("SELECT DISTINCT ip FROM hourly_activity WHERE ip IS NOT NULL").fetchall():
            try:
                address = ipaddress.ip_address(plain_address(ip))  # mapped ones from an older ingest
            except ValueError:
                continue
            if any(address.version == n.version and address in n for n in networks):
                addresses.append(ip)
        addresses = addresses or ["(none)"]
    con.execute(
        f"""CREATE OR REPLACE TEMP MACRO in_scope(app, usr, addr) AS (
              (len({_literal_list(apps)}) = 0
                 OR list_contains({_literal_list(apps)}, left(app, 15))
                 OR (app IS NULL AND list_contains({_literal_list(app_users)}, left(usr, 15))))
              AND (len({_literal_list(users)}) = 0 OR list_contains({_literal_list(users)}, left(usr, 15)))
              AND (len({_literal_list(addresses)}) = 0 OR list_contains({_literal_list(addresses)}, addr)))"""
    )
