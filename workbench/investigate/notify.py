"""Alerts for scheduled runs: Slack, a JSON webhook or email, each finding sent once per target.

A delivery that fails is recorded and retried on the next run: a finding is never lost, and a
calm day sends nothing. Secrets in URLs are redacted in the state table and in messages.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import duckdb

from workbench.config import SmtpSettings
from workbench.detect.base import SEVERITIES
from workbench.render import iso, to_json
from workbench.safe_text import strip_control
from workbench.store.queries import load_query

KINDS = ("slack", "webhook", "email")


class NotifyError(Exception):
    """A target that cannot be used; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where alerts go: slack:URL, webhook:URL or email:ADDRESS."""

    kind: str
    address: str

    @property
    def label(self) -> str:
        """The target with the secret part of a URL (Slack's token path, query) redacted."""
        if self.kind == "email":
            return f"email:{self.address}"
        redacted = re.sub(r"^(https?://[^/]+)/.*$", r"\1/...", self.address)
        return f"{self.kind}:{redacted}"


def parse_target(text: str) -> Target:
    """slack:https://hooks.slack.com/..., webhook:https://..., email:someone@example.com."""
    kind, sep, address = text.partition(":")
    if not sep or kind not in KINDS or not address:
        raise NotifyError(
            f"--notify {strip_control(text)!r}: expected slack:URL, webhook:URL or email:ADDRESS"
        )
    if kind in ("slack", "webhook") and not re.match(r"^https?://[^/\s]+", address):
        raise NotifyError(f"--notify {kind}: {Target(kind, address).label} is not an http(s) URL")
    if kind == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
        raise NotifyError(f"--notify email: {strip_control(address)!r} is not an email address")
    return Target(kind, address)


def _slack_escape(value: Any) -> str:
    # Slack's control characters: & < > (a log string must not become a link or mention).
    return strip_control(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines(findings: list[dict[str, Any]]) -> list[str]:
    return [
        f"[{f['severity']} {f['score']}] {f['detector']} on {f['entity_label']} at "
        f"{f['window_start']:%Y-%m-%d %H:%M} UTC: {f['explanation']} (id {f['id']})"
        for f in findings
    ]


def _post_json(url: str, payload: Any) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload, default=iso).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "workbench-alerts"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status >= 300:
            raise NotifyError(f"HTTP {response.status}")


def _send(target: Target, findings: list[dict[str, Any]], smtp: SmtpSettings) -> None:
    if target.kind == "slack":
        text = "\n".join(_slack_escape(line) for line in _lines(findings))
        _post_json(target.address, {"text": f"workbench: {len(findings)} new finding(s)\n{text}"})
    elif target.kind == "webhook":
        _post_json(target.address, {"findings": json.loads(to_json(findings))})
    else:
        message = EmailMessage()
        worst = max(findings, key=lambda f: SEVERITIES.index(f["severity"]))
        message["Subject"] = strip_control(
            f"[workbench] {len(findings)} new finding(s), worst: {worst['severity']} {worst['detector']} "
            f"on {worst['entity_label']}"
        )[:200]
        message["From"] = smtp.sender
        message["To"] = target.address
        message.set_content("\n\n".join(strip_control(line) for line in _lines(findings)) + "\n")
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username:
                client.login(smtp.username, os.environ.get(smtp.password_env or "", ""))
            client.send_message(message)


@dataclass
class Delivery:
    """The outcome for one target."""

    target: str
    sent: int
    error: str | None = None


def notify(
    con: duckdb.DuckDBPyConnection, targets: list[Target], min_severity: str, smtp: SmtpSettings
) -> list[Delivery]:
    """Send every finding at or above MIN_SEVERITY not yet delivered to each target."""
    severities = list(SEVERITIES[SEVERITIES.index(min_severity) :])
    deliveries = []
    for target in targets:
        cursor = con.execute(
            load_query("findings_to_notify"), {"severities": severities, "target": target.label}
        )
        names = [d[0] for d in cursor.description or []]
        pending = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        for f in pending:
            f["evidence"] = json.loads(f["evidence"]) if f["evidence"] else {}
        if not pending:
            deliveries.append(Delivery(target.label, 0))
            continue
        error = None
        try:
            _send(target, pending, smtp)
        except (OSError, urllib.error.URLError, smtplib.SMTPException, NotifyError) as exc:
            error = strip_control(str(exc)).replace(target.address, target.label)[:300]
        now = datetime.now(UTC).replace(tzinfo=None)
        con.executemany(
            """INSERT INTO notifications VALUES (?, ?, ?, 1, ?, ?)
               ON CONFLICT (finding_id, target) DO UPDATE SET status = excluded.status,
                   attempts = notifications.attempts + 1, last_error = excluded.last_error,
                   updated_at = excluded.updated_at""",
            [(f["id"], target.label, "failed" if error else "sent", error, now) for f in pending],
        )
        deliveries.append(Delivery(target.label, 0 if error else len(pending), error))
    return deliveries
