"""Every output the tool writes, and the rules that keep hostile strings inert in it.

Strings from a log, an .mmdb, an IOC file or the Salesforce API are hostile. `inert` is the one
sanitiser every writer uses (tables, CSV, Markdown, the TUI, notifications): control, bidi and
invisible characters become visible placeholders, so an OSC 52 or ANSI sequence reads as text and
never acts. Markdown also escapes and defangs it, CSV cells cannot start a formula, and every
command line the tool prints goes through `shell_command`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from datetime import datetime
from typing import Any

CONTRACT_FIELDS = [
    "id",
    "detector",
    "category",
    "severity",
    "score",
    "org_id",
    "entity_type",
    "entity_id",
    "entity_label",
    "window_start",
    "window_end",
    "observed",
    "baseline",
    "explanation",
    "evidence",
    "incident_id",
]
TRIAGE_FIELDS = ["status", "note", "suppressed"]

# Every character a terminal, an editor or a renderer may act on or hide instead of showing:
# C0 and C1 controls and DEL (Unicode Cc), format characters such as the bidi overrides and
# isolates, zero-width characters, the BOM and the tag characters (Cf), the line and paragraph
# separators (Zl, Zp) and lone surrogates (Cs, which cannot even be encoded for output).
# tests/test_render.py checks this list against unicodedata.
UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
# What GitHub-flavoured Markdown turns into a link by itself: a scheme URL or a www. host.
_URL = re.compile(r"(?i)\b(?:(https?|ftp)://|(?=www\.))([^\s/?#]*)")


def _placeholder(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ESC shows as ␛, BEL as ␇
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def inert(value: object, keep_newlines: bool = False) -> str:
    """The value as text that cannot act on a terminal or hide what it says: every control,
    bidi or invisible character replaced by a visible placeholder (ESC as ␛, U+202E as \\u202e).
    KEEP_NEWLINES keeps line feeds, for whole documents whose lines are the tool's own."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if keep_newlines:
        return "\n".join(UNSAFE_CHARACTERS.sub(_placeholder, line) for line in text.split("\n"))
    return UNSAFE_CHARACTERS.sub(_placeholder, text)


def shell_command(*words: object) -> str:
    """A command line the user can paste: every word made inert, then shell-quoted, so a value
    such as `0H4;touch /tmp/x;#` stays one literal argument."""
    return " ".join(shlex.quote(inert(w)) for w in words)


def iso(value: Any) -> Any:
    """UTC timestamps as ISO 8601 with Z; other values unchanged."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds") + "Z"
    return value


def to_json(findings: list[dict[str, Any]], with_triage: bool = False) -> str:
    """A JSON array of finding objects with exactly the contract's fields (plus triage ones).
    Non-ASCII is escaped (\\uXXXX), so no control or bidi character reaches the output raw."""
    fields = CONTRACT_FIELDS + (TRIAGE_FIELDS if with_triage else [])
    return json.dumps(
        [{k: iso(f.get(k)) for k in fields} for f in findings], indent=2, default=str, ensure_ascii=True
    )


def defang(text: str) -> str:
    """URLs that no Markdown renderer links: `https://evil.example` -> `hxxps://evil[.]example`."""

    def repl(match: re.Match[str]) -> str:
        scheme, host = match.group(1), match.group(2)
        prefix = scheme.lower().replace("t", "x", 2) + "://" if scheme else ""
        return prefix + host.replace(".", "[.]")

    return _URL.sub(repl, text)


def escape_markdown(value: Any) -> str:
    """Text that renders literally in Markdown: no links, HTML, code spans or table breaks."""
    text = defang(inert(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def code_span(value: Any, in_table: bool = False) -> str:
    """A literal code span: the value exactly (made inert), fenced by more backticks than any run
    inside it, so nothing needs a backslash. IN_TABLE escapes pipes, which GFM reads before spans."""
    text = inert(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # A space pads a value that starts or ends with a backtick (or is wrapped in spaces, which
    # CommonMark would strip); renderers remove exactly one space on each side.
    if text[:1] == "`" or text[-1:] == "`" or (text[:1] == " " and text[-1:] == " " and text.strip()):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}" if text else "` `"


def code_block(lines: list[str]) -> list[str]:
    """A fenced code block whose fence no line inside can close."""
    body = [inert(line) for line in lines]
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *body, fence]


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
        [
            f["severity"],
            f["score"],
            f["detector"],
            f"{f['entity_label']} ({f['entity_type']} {f['entity_id']})",
            f"{f['window_start']:%Y-%m-%d %H:%M} to {f['window_end']:%Y-%m-%d %H:%M}",
            f["explanation"],
            f["id"],
        ]
        for f in findings
    ]
    return md_table(["severity", "score", "detector", "entity", "window (UTC)", "explanation", "id"], rows)


def to_markdown(findings: list[dict[str, Any]], title: str = "Findings") -> str:
    """A Markdown document with the findings table."""
    lines = [f"# {escape_markdown(title)}", "", f"{len(findings)} finding(s).", ""]
    if findings:
        lines += findings_table(findings)
    return inert("\n".join(lines) + "\n", keep_newlines=True)


def neutralise_csv_cell(value: Any) -> str:
    """A CSV cell that is inert text and that a spreadsheet will not run as a formula."""
    text = inert(iso(value))
    if text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def csv_text(headers: list[str], rows: list[list[Any]]) -> str:
    """CSV (LF line ends) with every cell neutralised; lists and dicts as JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise_csv_cell(h) for h in headers])
    for row in rows:
        cells = [json.dumps(v, default=str, sort_keys=True) if isinstance(v, list | dict) else v for v in row]
        writer.writerow([neutralise_csv_cell(c) for c in cells])
    return buffer.getvalue()


def to_csv(findings: list[dict[str, Any]], with_triage: bool = False) -> str:
    """Findings as CSV (evidence as a JSON string)."""
    fields = CONTRACT_FIELDS + (TRIAGE_FIELDS if with_triage else [])
    rows = [
        [json.dumps(f.get(k), default=str, sort_keys=True) if k == "evidence" else f.get(k) for k in fields]
        for f in findings
    ]
    return csv_text(fields, rows)
