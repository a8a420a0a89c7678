"""The demo's data: sample_logs/ as shipped in the repository, or generated the same way where an
installed workbench does not have it (see sample_logs/README.md for what it holds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.config import EnrichConfig
from workbench.sample.enrichment import write_sample_enrichment
from workbench.sample.generator import generate
from workbench.sample.org_context import snapshot_time, write_org_context

# The folder the repository ships, beside the package.
SHIPPED = Path(__file__).resolve().parents[2] / "sample_logs"
# The arguments that produced sample_logs/ (see sample_logs/README.md).
SAMPLE_ARGS: dict[str, Any] = {"days": 35, "orgs": 2, "scale": 0.3, "seed": 7, "gzip_files": True}


@dataclass(frozen=True)
class SampleLogs:
    """Where the sample is: one folder of logs per org, and the synthetic enrichment sources."""

    folder: Path
    generated: bool  # written now, because no shipped copy was found

    @property
    def enrichment(self) -> Path:
        return self.folder / "enrichment"

    @property
    def log_folders(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.is_dir() and p != self.enrichment)

    @property
    def org_context(self) -> Path:
        """The org's exports, beside the logs (not inside them: an export's snapshot time comes
        from its folder's name through --as-of, never from a file's modification time)."""
        return self.folder.parent / "sample_org_context"

    def snapshots(self) -> list[tuple[Path, str, datetime]]:
        """Each snapshot folder with its org id and time, oldest first."""
        found = []
        for org in sorted(p for p in self.org_context.glob("*-*") if p.is_dir()):
            for folder in org.iterdir():
                when = snapshot_time(folder)
                if when is not None:
                    found.append((folder, org.name.rsplit("-", 1)[1], when))
        return sorted(found, key=lambda item: item[2])

    def enrich_config(self) -> EnrichConfig:
        """The sample's enrichment sources (offline .mmdb files, Tor list, network labels)."""
        folder = self.enrichment
        return EnrichConfig(
            city=folder / "city.mmdb",
            asn=folder / "asn.mmdb",
            anon=folder / "anonymous-ip.mmdb",
            tor_exits=folder / "tor-exits.txt",
            networks=folder / "networks.txt",
        )


def sample_logs(shipped: Path = SHIPPED, fallback: Path | None = None) -> SampleLogs:
    """The shipped sample_logs/, or the same sample generated into FALLBACK (default
    ./sample_logs) when no shipped copy holds logs."""
    if any(shipped.rglob("*.csv.gz")):
        return SampleLogs(shipped, generated=False)
    folder = fallback or Path.cwd() / "sample_logs"
    generate(folder, **SAMPLE_ARGS)
    write_sample_enrichment(folder / "enrichment")
    sample = SampleLogs(folder, generated=True)
    write_org_context(sample.org_context, seed=SAMPLE_ARGS["seed"])
    return sample
