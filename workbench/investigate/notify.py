"""Alerts for scheduled runs: Slack, a JSON webhook or email, each finding sent once per target.

A delivery that fails is recorded and retried on the next run: a finding is never lost, and a
calm day sends nothing. A target URL is a secret (Slack's path, `user:pass@`, `?token=`): only its
scheme and host are ever printed or stored (Target.label), and errors are redacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import duckdb

from workbench.config import SmtpSettings
from workbench.detect.base import SEVERITIES
from workbench.render import inert, iso, to_json
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
        """The target as printed and stored: for a URL only its scheme and host (credentials,
        path, query and fragment all redacted) and a short fingerprint that tells apart two
        targets on one host (a webhook service's channels), never any part of the secret."""
        if self.kind == "email":
            return f"email:{inert(self.address)}"
        return (
            f"{self.kind}:{redact_url(self.address)} #{hashlib.sha256(self.address.encode()).hexdigest()[:8]}"
        )

    def redact(self, text: str) -> str:
        """TEXT (an error message) with every part of the target's secret replaced by `…`."""
        if self.kind == "email":
            return inert(text)
        parts = urlsplit(self.address)
        secrets = [self.address, parts.netloc.rpartition("@")[0], parts.path, parts.query, parts.fragment]
        for secret in sorted((s for s in secrets if len(s) > 1), key=len, reverse=True):
            text = text.replace(secret, "…")
        return inert(text)


def redact_url(url: str) -> str:
    """scheme://host[:port] and `/…` for whatever followed (user:password@ is dropped)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unparsable URL)"
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return inert(f"{parts.scheme}://{host}{port}{rest}")


def parse_target(text: str) -> Target:
    """slack:https://hooks.slack.com/..., webhook:https://..., email:someone@example.com. Error
    messages never repeat the value, which may hold a secret."""
    kind, sep, address = text.partition(":")
    if not sep or kind not in KINDS or not address:
        raise NotifyError(f"--notify {inert(kind)!r}: expected slack:URL, webhook:URL or email:ADDRESS")
    if kind in ("slack", "webhook"):
        try:
            parts = urlsplit(address)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:
            valid = False
        # A space or control character would make urllib fail later with the whole URL in the error.
        if not valid or re.search(r"[\s\x00-\x1f\x7f]", address):
            raise NotifyError(f"--notify {kind}: {redact_url(address)} is not a valid http(s) URL")
    if kind == "email" and not re.fullmatch(r"[^@\s/:]+@[^@\s/:]+", address):
        raise NotifyError("--notify email: expected an address like soc@example.com")
    return Target(kind, address)


def _slack_escape(value: Any) -> str:
    # Slack's control characters: & < > (a log string must not become a link or mention).
    return inert(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines(findings: list[dict[str, Any]]) -> list[str]:
    return [
        f"[{f['severity']} {f['score']}] {f['detector']} on {f['entity_label']} at "
        f"{f['window_start']:%Y-%m-%d %H:%M} UTC: {f['explanation']} (id {f['id']})"
        for f in findings
    ]


def _inert_data(value: Any) -> Any:
    # A webhook's receiver often pastes these strings into a chat or a ticket: make them inert,
    # not only JSON-escaped.
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, list):
        return [_inert_data(v) for v in value]
    if isinstance(value, dict):
        return {inert(k): _inert_data(v) for k, v in value.items()}
    return value


def _post_json(url: str, payload: Any) -> None:
    import urllib.request  # here, not at the top: with ssl it adds to every scan's start-up

    request = urllib.request.Request(
        url,
        data=json.dumps(payload, default=iso).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "workbench-alerts"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status >= 300:
            raise NotifyError(f"HTTP {response.status}")


def _send(target: Target, findings: list[dict[str, Any]], smtp: SmtpSettings) -> None:
    if target.kind == "slack":
        text = "\n".join(_slack_escape(line) for line in _lines(findings))
        _post_json(target.address, {"text": f"workbench: {len(findings)} new finding(s)\n{text}"})
    elif target.kind == "webhook":
        _post_json(target.address, {"findings": _inert_data(json.loads(to_json(findings)))})
    else:
        import smtplib  # here, not at the top: with ssl it adds to every scan's start-up
        from email.message import EmailMessage

        message = EmailMessage()
        worst = max(findings, key=lambda f: SEVERITIES.index(f["severity"]))
        message["Subject"] = inert(
            f"[workbench] {len(findings)} new finding(s), worst: {worst['severity']} {worst['detector']} "
            f"on {worst['entity_label']}"
        )[:200]
        message["From"] = smtp.sender
        message["To"] = target.address
        message.set_content("\n\n".join(inert(line) for line in _lines(findings)) + "\n")
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
        except Exception as exc:
            # Any failure is recorded and retried next run, never a traceback: tracebacks and some
            # messages (http.client.InvalidURL) quote the whole URL, so the text is redacted too.
            error = target.redact(f"{type(exc).__name__}: {exc}")[:300]
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
