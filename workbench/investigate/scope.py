"""Who and when a back-check covers: a window plus apps, users and addresses (or CIDRs).

Filters combine with AND across kinds and OR within a kind. The scope becomes a temporary SQL
macro, `in_scope(app, user, ip)`, that every back-check query calls, so the rule is written once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from workbench.store.ingest import plain_address, plain_network


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
