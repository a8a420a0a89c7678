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
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


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


def md_table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    """Markdown table lines; every cell escaped, so log text cannot add columns or links."""
    if not rows:
        return ["(none)"]
    lines = ["| " + " | ".join(escape_markdown(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(escape_markdown(c) for c in row) + " |" for row in rows]
    return lines


def findings_table(findings: list[dict[str, Any]]) -> list[str]:
    """The findings as a Markdown table."""
    rows = [
        [f["severity"], f["score"], f["detector"], f"{f['entity_label']} ({f['entity_type']} {f['entity_id']})",
         f"{f['window_start']:%Y-%m-%d %H:%M} to {f['window_end']:%Y-%m-%d %H:%M}", f["explanation"], f["id"]]
        for f in findings
    ]  # fmt: skip
    return md_table(["severity", "score", "detector", "entity", "window (UTC)", "explanation", "id"], rows)


def to_markdown(findings: list[dict[str, Any]], title: str = "Findings") -> str:
    """A Markdown document with the findings table."""
    lines = [f"# {escape_markdown(title)}", "", f"{len(findings)} finding(s).", ""]
    if findings:
        lines += findings_table(findings)
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
