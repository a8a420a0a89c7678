"""Build the demo store: ingest the sample logs, enrich their addresses offline, scan every day.

A service of its own (beside investigate, inventory and console) because it runs the whole flow,
sources -> store -> enrich -> detect, that no lower layer may import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from workbench.config import Settings
from workbench.detect.scan import ScanResult, judged_days, run_scan
from workbench.enrich.service import EnrichReport, enrich_store
from workbench.sample.demo import SampleLogs
from workbench.sources.local import FolderReport, ingest_folder, ingest_paths
from workbench.store.ingest import IngestReport


@dataclass
class DemoBuild:
    """What building the demo did: the ingest, the enrichment and the scan of every day."""

    ingest: IngestReport
    org_context: list[FolderReport]
    enrichment: EnrichReport
    scan: ScanResult

    @property
    def serious(self) -> int:
        """Findings at high or critical."""
        frame = self.scan.findings
        return frame.filter(frame["severity"].is_in(["high", "critical"])).height


def build_demo(
    con: duckdb.DuckDBPyConnection,
    sample: SampleLogs,
    settings: Settings,
    on_progress: Callable[[int, int], None] | None = None,
) -> DemoBuild:
    """Ingest SAMPLE's logs and its org-context snapshots (each at its time) into the store (a
    no-op when already there), enrich it, scan every day."""
    ingested = ingest_paths(con, sample.log_folders, on_progress=on_progress)
    context = [ingest_folder(con, [folder], org, as_of) for folder, org, as_of in sample.snapshots()]
    enriched = enrich_store(con, sample.enrich_config())
    scanned = run_scan(con, settings, judged_days(con, all_days=True))
    return DemoBuild(ingested, context, enriched, scanned)
