"""Hostile strings from logs cannot inject Markdown, break tables or start spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from workbench.render import escape_markdown, neutralise_csv_cell, to_csv, to_json, to_markdown
from workbench.safe_text import strip_control

HOSTILE = "[click](http://evil.test) | `rm` <img src=x> \x1b[31mred\x1b[0m\nnext"


def finding(label: str = HOSTILE) -> dict:
    return {
        "id": "abc123def456", "detector": "new_ip", "category": "geo_identity", "severity": "high", "score": 70,
        "org_id": "00D000000000001", "entity_type": "connected_app", "entity_id": "0H4000000000001",
        "entity_label": label, "window_start": datetime(2025, 11, 19, 2, 5), "window_end": datetime(2025, 11, 19, 3),
        "observed": 10.0, "baseline": 3.0, "explanation": f"called by {label}", "evidence": {"ips": ["1.2.3.4"]},
    }  # fmt: skip


def test_markdown_escapes_links_html_code_and_pipes() -> None:
    text = to_markdown([finding()])
    assert "[click](" not in text and "\\[click\\]" in text  # brackets escaped: no link
    assert "<img" not in text and "\x1b" not in text
    row = next(line for line in text.splitlines() if line.startswith("| high"))
    assert row.count(" | ") == 6  # seven cells, the label's pipe escaped
    assert escape_markdown("a|b") == "a\\|b"


def test_csv_cells_never_start_a_formula() -> None:
    assert neutralise_csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert neutralise_csv_cell("+1") == "'+1" and neutralise_csv_cell("@x") == "'@x"
    assert neutralise_csv_cell("-2") == "'-2" and neutralise_csv_cell("ok") == "ok"
    rows = list(csv.reader(io.StringIO(to_csv([finding("=cmd|' /C calc'!A0")]))))
    assert rows[1][rows[0].index("entity_label")] == "'=cmd|' /C calc'!A0"


def test_json_has_the_contract_fields_and_iso_utc_times() -> None:
    (item,) = json.loads(to_json([finding()]))
    assert item["window_start"] == "2025-11-19T02:05:00.000Z" and item["entity_label"] == HOSTILE


def test_control_characters_are_stripped_for_terminals() -> None:
    assert strip_control("a\x1b[31mb\x07c\nd") == "a\u241b[31mbc d"
