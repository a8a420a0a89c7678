"""Local log files: expand folders and zip archives into inputs and hand them to ingest.

A folder may mix event logs with org-context exports (OauthToken, ConnectedApplication,
SetupAuditTrail, LoginHistory): `ingest_folder` tells them apart by their headers, loads the event
logs first (so an export can take the store's only org id) and then the exports."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from workbench.store.ingest import IngestReport, ProgressCallback, ingest_inputs
from workbench.store.inputs import ZIP_MAGIC, LogInput, MissingInput
from workbench.store.org_context import OrgContextResult, load_export, sniff

LOG_SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")


def _has_log_suffix(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(LOG_SUFFIXES)


def discover(paths: list[Path]) -> Iterator[LogInput | MissingInput]:
    """Files named directly are always tried (names carry no meaning); folders are walked for
    .csv, .csv.gz and .zip files; zip archives are opened into their members."""
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file() and _has_log_suffix(p)):
                yield from _expand(child)
        elif path.is_file():
            yield from _expand(path)
        else:
            yield MissingInput(str(path), "no such file or folder")


def _expand(path: Path) -> Iterator[LogInput | MissingInput]:
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        yield MissingInput(str(path), f"cannot read: {exc.strerror or exc}")
        return
    if magic != ZIP_MAGIC:
        yield LogInput(path)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i.filename for i in archive.infolist() if not i.is_dir()]
    except zipfile.BadZipFile as exc:
        yield MissingInput(str(path), f"corrupt zip archive ({exc})")
        return
    for member in sorted(members):
        if member.lower().endswith((".csv", ".csv.gz", ".gz")):
            yield LogInput(path, member)


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    default_org: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest every log file found under PATHS; refusals are reported, never raised."""
    return ingest_inputs(con, list(discover(paths)), default_org=default_org, on_progress=on_progress)


@dataclass
class FolderReport:
    """What `ingest` did: the event logs' report and one result per org-context export."""

    events: IngestReport
    context: list[OrgContextResult] = field(default_factory=list)

    def context_count(self, status: str) -> int:
        """Org-context files with this status (loaded, skipped, refused)."""
        return sum(1 for r in self.context if r.status == status)


def ingest_folder(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    default_org: str | None = None,
    as_of: datetime | None = None,
    on_progress: ProgressCallback | None = None,
) -> FolderReport:
    """Ingest every event log and org-context export found under PATHS; refusals are reported,
    never raised. AS_OF is the snapshot time of token and connected-app exports (default: each
    file's modification time)."""
    found = list(discover(paths))
    exports: list[tuple[LogInput, tuple[str, str]]] = []
    logs: list[LogInput | MissingInput] = []
    for item in found:
        recognised = sniff(item) if isinstance(item, LogInput) else None
        if recognised and isinstance(item, LogInput):
            exports.append((item, recognised))
        else:
            logs.append(item)
    events = ingest_inputs(con, logs, default_org=default_org, on_progress=on_progress)
    context = [load_export(con, item, recognised, default_org, as_of) for item, recognised in exports]
    return FolderReport(events, context)
