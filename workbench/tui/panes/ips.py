"""IPs: every address with country, ASN and flags; the detail of one (the `workbench ip` view)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from workbench import views
from workbench.enrich.service import ip_report
from workbench.render import inert
from workbench.tui.panes.base import Pane
from workbench.tui.screens.raw_events import RawEventsScreen
from workbench.tui.widgets.table import WorkbenchTable, literal


class IpsPane(Pane):
    """Addresses, anonymizers first."""

    NAME = "ips"
    TITLE = "IPs"
    KEY = "4"
    FOCUS = "#ips"
    EXPORT = "addresses as CSV"

    def compose(self) -> ComposeResult:
        table = WorkbenchTable(id="ips")
        table.add_columns(
            "ip", "country", "city", "network", "flags", "first seen", "last seen", "events", "entities"
        )
        yield table
        yield Static("Select an address.", id="ip-detail")

    @work(thread=True, exclusive=True, group="ips")
    def load(self) -> None:
        self.fetch(views.ips, self.show)

    def show(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one("#ips", WorkbenchTable)
        table.clear()
        enriched = any(r["country"] or r["asn"] for r in rows)
        for r in rows:
            flags = ", ".join(k for k in ("tor", "vpn", "proxy", "hosting") if r.get(f"is_{k}"))
            network = f"AS{r['asn']} {r['as_org'] or ''}" if r["asn"] else ""
            table.add_row(
                literal(r["ip"]),
                literal(r["country"] or ""),
                literal(r["city"] or ""),
                literal(network),
                literal(flags, "bold red" if flags and flags != "hosting" else ""),
                literal(r["first_seen"]),
                literal(r["last_seen"]),
                literal(r["events"]),
                literal(", ".join(r["entities"] or [])[:80]),
                key=r["ip"],
            )
        hint = "" if enriched else " - not enriched: run `workbench enrich --city ... --asn ...` (see README)"
        table.border_title = f"{len(rows)} address(es){hint}"

    @on(DataTable.RowHighlighted, "#ips")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.detail(str(event.row_key.value))

    @on(DataTable.RowSelected, "#ips")
    def open_address(self, event: DataTable.RowSelected) -> None:
        """Enter on an address: every event from it (q or Escape come back here)."""
        if event.row_key.value:
            self.app.push_screen(RawEventsScreen(self.context, views.EventScope(ip=str(event.row_key.value))))

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


def _activity(a: dict[str, Any]) -> str:
    """One entity's use of the address: `entity: N calls first..last`."""
    return f"{a['entity']}: {a['calls']:,} calls {a['first_seen']:%Y-%m-%d %H:%M}..{a['last_seen']:%Y-%m-%d %H:%M}"
