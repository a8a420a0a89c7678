"""The bottom layer: what a finding is, its severities, categories and triage statuses.

Every other layer imports this module and it imports none of them, so the store can save findings
without knowing any detector.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

CATEGORIES = (
    "volume",
    "temporal",
    "geo_identity",
    "error",
    "behavioral",
    "sequence",
    "ioc",
    "outlier",
    "posture",  # what was granted and left standing (tokens, undeclared apps), not what was done
)
SEVERITIES = ("low", "medium", "high", "critical")
TRIAGE_STATUSES = ("new", "confirmed", "benign", "false_positive")

# Score thresholds of each severity (low below medium's).
MEDIUM, HIGH, CRITICAL = 40, 65, 85

FINDING_SCHEMA: dict[str, Any] = {
    "id": pl.Utf8,
    "detector": pl.Utf8,
    "category": pl.Utf8,
    "severity": pl.Utf8,
    "score": pl.Int64,
    "org_id": pl.Utf8,
    "entity_type": pl.Utf8,
    "entity_id": pl.Utf8,
    "entity_label": pl.Utf8,
    "window_start": pl.Datetime("us"),
    "window_end": pl.Datetime("us"),
    "observed": pl.Float64,
    "baseline": pl.Float64,
    "explanation": pl.Utf8,
    "evidence": pl.Object,
}
FINDING_COLUMNS = list(FINDING_SCHEMA)


def severity_for(score: int) -> str:
    """Severity follows the score, never the detector's name."""
    if score >= CRITICAL:
        return "critical"
    if score >= HIGH:
        return "high"
    if score >= MEDIUM:
        return "medium"
    return "low"


def severity_rank(severity: str) -> int:
    """0 for low up to 3 for critical: severities sort by rank, not alphabetically."""
    return SEVERITIES.index(severity)


def clamp_score(value: float) -> int:
    """Scores are whole numbers in 0-100."""
    return max(0, min(100, round(value)))


def finding_id(detector: str, org_id: str | None, entity_type: str, entity_id: str, start: datetime) -> str:
    """Stable id: the same detector, org, entity and window start give the same id on re-run."""
    key = "|".join([detector, org_id or "", entity_type, entity_id, start.isoformat()])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class Finding:
    """One finding, as DESIGN.md's contract describes it."""

    detector: str
    category: str
    org_id: str | None
    entity_type: str
    entity_id: str
    entity_label: str
    window_start: datetime
    window_end: datetime
    score: float
    explanation: str
    observed: float | None = None
    baseline: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The stable id of this finding."""
        return finding_id(self.detector, self.org_id, self.entity_type, self.entity_id, self.window_start)

    def row(self) -> dict[str, Any]:
        """The finding as a row of the findings frame."""
        score = clamp_score(self.score)
        return {
            "id": self.id,
            "detector": self.detector,
            "category": self.category,
            "severity": severity_for(score),
            "score": score,
            "org_id": self.org_id,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "entity_label": self.entity_label,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "observed": None if self.observed is None else float(self.observed),
            "baseline": None if self.baseline is None else float(self.baseline),
            "explanation": self.explanation,
            "evidence": self.evidence,
        }


def findings_frame(findings: list[Finding]) -> pl.DataFrame:
    """A findings DataFrame (possibly empty) with the contract's columns."""
    return pl.DataFrame([f.row() for f in findings], schema=FINDING_SCHEMA)
