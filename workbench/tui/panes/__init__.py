"""The workbench's tabs. `PANES` is the one list of them: the app builds its tabs, the `go.*`
bindings and the palette's `go:` entries from it, in this order."""

from __future__ import annotations

from workbench.tui.panes.anomalies import AnomaliesPane
from workbench.tui.panes.base import Pane
from workbench.tui.panes.exposure import ExposurePane
from workbench.tui.panes.ips import IpsPane
from workbench.tui.panes.overview import OverviewPane
from workbench.tui.panes.queries import QueriesPane
from workbench.tui.panes.report import ReportPane
from workbench.tui.panes.timeline import TimelinePane

PANES: tuple[type[Pane], ...] = (
    OverviewPane,
    AnomaliesPane,
    TimelinePane,
    IpsPane,
    ExposurePane,
    QueriesPane,
    ReportPane,
)

__all__ = ["PANES", "Pane"]
