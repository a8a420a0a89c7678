"""Hostile strings from logs cannot inject Markdown, break tables or start spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
import shlex
import tomllib
import unicodedata
from datetime import datetime

from workbench.inventory import toml_string
from workbench.render import (
    UNSAFE_CHARACTERS,
    code_block,
    code_span,
    defang,
    escape_markdown,
    inert,
    neutralise_csv_cell,
    shell_command,
    to_csv,
    to_json,
    to_markdown,
)

HOSTILE = "[click](http://evil.test) | `rm` <img src=x> \x1b[31mred\x1b[0m\nnext"


def finding(label: str = HOSTILE) -> dict:
    return {
        "id": "abc123def456",
        "detector": "new_ip",
        "category": "geo_identity",
        "severity": "high",
        "score": 70,
        "org_id": "00D000000000001",
        "entity_type": "connected_app",
        "entity_id": "0H4000000000001",
        "entity_label": label,
        "window_start": datetime(2025, 11, 19, 2, 5),
        "window_end": datetime(2025, 11, 19, 3),
        "observed": 10.0,
        "baseline": 3.0,
        "explanation": f"called by {label}",
        "evidence": {"ips": ["1.2.3.4"]},
    }


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


def test_inert_covers_every_control_format_and_separator_character() -> None:
    unsafe = {"Cc", "Cf", "Zl", "Zp", "Cs"}
    characters = (chr(c) for c in range(0x110000))
    missed = [
        hex(ord(c))
        for c in characters
        if unicodedata.category(c) in unsafe and not UNSAFE_CHARACTERS.fullmatch(c)
    ]
    assert missed == []
    assert (
        inert("a\x1b]52;c;QQ==\x07b\u202ec\u200bd\x7f\x9b")
        == "a\u241b]52;c;QQ==\u2407b\\u202ec\\u200bd\u2421\\u009b"
    )
    assert inert("line\nnext") == "line\u240anext" and inert("line\nnext", keep_newlines=True) == "line\nnext"
    assert inert(inert("\x1b\u202e")) == inert("\x1b\u202e")  # idempotent


def test_markdown_code_spans_are_literal_and_urls_defanged() -> None:
    assert code_span("abc") == "`abc`" and code_span("a`b") == "``a`b``" and code_span("`x") == "`` `x ``"
    assert code_span("a|b", in_table=True) == "`a\\|b`"
    assert code_block(["x ``` y"]) == ["````", "x ``` y", "````"]
    assert (
        defang("see https://evil.example/a and www.evil.example")
        == "see hxxps://evil[.]example/a and www[.]evil[.]example"
    )
    assert escape_markdown("http://a.b") == "hxxp://a\\[.\\]b"


def test_shell_command_quotes_every_word() -> None:
    line = shell_command("workbench", "backcheck", "--app", "0H4;touch /tmp/x;#", "--user", "a b\x1b")
    assert shlex.split(line) == [
        "workbench",
        "backcheck",
        "--app",
        "0H4;touch /tmp/x;#",
        "--user",
        "a b\u241b",
    ]


def test_toml_strings_round_trip_any_text() -> None:
    for value in ("a\x7fb", 'q"\\x', "\x1b]52;c;QQ==\x07", "\u202eevil\u200b", "tag\U000e0041", "nl\nx\tt"):
        text = toml_string(value)
        assert tomllib.loads(f"k = {text}")["k"] == value and not UNSAFE_CHARACTERS.search(text)
