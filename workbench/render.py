"""Findings as JSON, Markdown and CSV. Strings from logs are hostile: Markdown is escaped so a
CLIENT_NAME cannot inject links or break tables; CSV cells cannot start a formula."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any

from workbench.safe_text import strip_control

CONTRACT_FIELDS = [
    "id", "detector", "category", "severity", "score", "org_id", "entity_type", "entity_id", "entity_label",
    "window_start", "window_end", "observed", "baseline", "explanation", "evidence",
]  # fmt: skip
TRIAGE_FIELDS = ["status", "note", "suppressed"]
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def iso(value: Any) -> Any:
    """UTC timestamps as ISO 8601 with Z; other values unchanged."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds") + "Z"
    return value


def to_json(findings: list[dict[str, Any]], with_triage: bool = False) -> str:
    """A JSON array of finding objects with exactly the contract's fields (plus triage ones)."""
    fields = CONTRACT_FIELDS + (TRIAGE_FIELDS if with_triage else [])
    return json.dumps([{k: iso(f.get(k)) for k in fields} for f in findings], indent=2, default=str)


def escape_markdown(value: Any) -> str:
    """Text that renders literally in Markdown: no links, HTML, code spans or table breaks."""
    text = strip_control(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def to_markdown(findings: list[dict[str, Any]], title: str = "Findings") -> str:
    """A Markdown table of findings, every cell escaped."""
    lines = [f"# {escape_markdown(title)}", "", f"{len(findings)} finding(s).", ""]
    if not findings:
        return "\n".join(lines) + "\n"
    lines += [
        "| severity | score | detector | entity | window (UTC) | explanation | id |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in findings:
        window = f"{f['window_start']:%Y-%m-%d %H:%M} to {f['window_end']:%Y-%m-%d %H:%M}"
        cells = [f["severity"], f["score"], f["detector"], f"{f['entity_label']} ({f['entity_type']} {f['entity_id']})",
                 window, f["explanation"], f["id"]]  # fmt: skip
        lines.append("| " + " | ".join(escape_markdown(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def neutralise_csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(iso(value))
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def to_csv(findings: list[dict[str, Any]], with_triage: bool = False) -> str:
    """Findings as CSV (evidence as a JSON string)."""
    fields = CONTRACT_FIELDS + (TRIAGE_FIELDS if with_triage else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for f in findings:
        row = [
            json.dumps(f.get(k), default=str, sort_keys=True) if k == "evidence" else f.get(k) for k in fields
        ]
        writer.writerow([neutralise_csv_cell(v) for v in row])
    return buffer.getvalue()
