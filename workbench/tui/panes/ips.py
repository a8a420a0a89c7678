"""IPs: every address with country, ASN and flags; the detail of one (the `workbench ip` view)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Static

from workbench import views
from workbench.enrich.service import ip_report
from workbench.render import inert
from workbench.tui.panes.base import Pane
from workbench.tui.screens.raw_events import RawEventsScreen
from workbench.tui.widgets.page_table import PageLayout, PageTable, Styled, lay_out

COLUMNS = ("ip", "country", "city", "network", "flags", "first seen", "last seen", "events", "entities")


class IpsPane(Pane):
    """Addresses, anonymizers first."""

    NAME = "ips"
    TITLE = "IPs"
    KEY = "4"
    FOCUS = "#ips"
    EXPORT = "addresses as CSV"

    def compose(self) -> ComposeResult:
        # A line-API table, its rows laid out in the worker: a DataTable drew its visible cells
        # again each time the pane was shown (about 25 ms in one event-loop step).
        yield PageTable(COLUMNS, id="ips")
        yield Static("Select an address.", id="ip-detail")

    @work(thread=True, exclusive=True, group="ips")
    def load(self) -> None:
        self.fetch(lambda cursor: _laid_out(views.ips(cursor)), lambda found: self.show(*found))

    def show(self, rows: list[dict[str, Any]], layout: PageLayout) -> None:
        table = self.query_one("#ips", PageTable)
        table.set_page(layout)
        enriched = any(r["country"] or r["asn"] for r in rows)
        hint = "" if enriched else " - not enriched: run `workbench enrich --city ... --asn ...` (see README)"
        table.border_title = f"{len(rows)} address(es){hint}"

    @on(PageTable.RowHighlighted, "#ips")
    def highlighted(self, event: PageTable.RowHighlighted) -> None:
        if event.row_key:
            self.detail(event.row_key)

    @on(PageTable.RowSelected, "#ips")
    def open_address(self, event: PageTable.RowSelected) -> None:
        """Enter on an address: every event from it (q or Escape come back here)."""
        if event.row_key:
            self.app.push_screen(RawEventsScreen(self.context, views.EventScope(ip=event.row_key)))

    @work(thread=True, exclusive=True, group="ip-detail")
    def detail(self, ip: str) -> None:
        self.fetch(lambda cursor: ip_report(cursor, ip), self._show_detail)

    def _show_detail(self, report: dict[str, Any]) -> None:
        info = report["info"]
        text = Text(f"{inert(info['ip'])}: {info['kind']}", style="bold")
        text.append("\n" + "; ".join(inert(_activity(a)) for a in report["activity"][:4]))
        text.append("\nobjects: " + ", ".join(inert(o["object"]) for o in report["objects"][:8]))
        text.append(
            "\nstatus: "
            + ", ".join(f"{inert(s['status'])} x{s['events']}" for s in report["status_codes"][:6])
        )
        text.append(f"\nfindings: {len(report['findings'])}")
        self.query_one("#ip-detail", Static).update(text)


def _laid_out(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], PageLayout]:
    """ROWS and the table's layout of them (in the worker: the UI thread only swaps it in)."""
    cells = []
    for r in rows:
        flags = ", ".join(k for k in ("tor", "vpn", "proxy", "hosting") if r.get(f"is_{k}"))
        cells.append(
            [
                r["ip"],
                r["country"] or "",
                r["city"] or "",
                f"AS{r['asn']} {r['as_org'] or ''}" if r["asn"] else "",
                Styled(flags, "bold red" if flags and flags != "hosting" else ""),
                r["first_seen"],
                r["last_seen"],
                r["events"],
                ", ".join(r["entities"] or [])[:80],
            ]
        )
    return rows, lay_out(COLUMNS, cells, keys=[r["ip"] for r in rows])


def _activity(a: dict[str, Any]) -> str:
    """One entity's use of the address: `entity: N calls first..last`."""
    return f"{a['entity']}: {a['calls']:,} calls {a['first_seen']:%Y-%m-%d %H:%M}..{a['last_seen']:%Y-%m-%d %H:%M}"
