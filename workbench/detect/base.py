"""What every detector shares: the context it reads, how a finding is built and scored."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

import polars as pl

from workbench.config import CatalogEntry, Settings

CATEGORIES = ("volume", "temporal", "geo_identity", "error", "behavioral", "sequence", "ioc", "outlier")
SEVERITIES = ("low", "medium", "high", "critical")
FINDING_COLUMNS = [
    "id", "detector", "category", "severity", "score", "org_id", "entity_type", "entity_id",
    "entity_label", "window_start", "window_end", "observed", "baseline", "explanation", "evidence",
]  # fmt: skip
FINDING_SCHEMA: dict[str, Any] = {
    "id": pl.Utf8, "detector": pl.Utf8, "category": pl.Utf8, "severity": pl.Utf8, "score": pl.Int64,
    "org_id": pl.Utf8, "entity_type": pl.Utf8, "entity_id": pl.Utf8, "entity_label": pl.Utf8,
    "window_start": pl.Datetime("us"), "window_end": pl.Datetime("us"), "observed": pl.Float64,
    "baseline": pl.Float64, "explanation": pl.Utf8, "evidence": pl.Object,
}  # fmt: skip


def severity_for(score: int) -> str:
    """Severity follows the score, never the detector's name."""
    if score >= 85:
        return "critical"
    if score >= 65:
        return "high"
    if score >= 40:
        return "medium"
    return "low"


def ratio_score(ratio: float, base: float = 30.0) -> float:
    """Score for 'observed is RATIO times the baseline': 2x -> 50, 4x -> 70, 8x -> 90."""
    return base + 20.0 * math.log2(max(ratio, 1.0))


def confidence(history_days: int, full: int = 14) -> float:
    """How much history backs a baseline: thin history scales the score down, never to zero."""
    return 0.6 + 0.4 * min(1.0, history_days / full)


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

    def row(self) -> dict[str, Any]:
        """The finding as a row of the findings frame."""
        score = clamp_score(self.score)
        return {
            "id": finding_id(self.detector, self.org_id, self.entity_type, self.entity_id, self.window_start),
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


def fmt(value: float) -> str:
    """Numbers in explanations: 5,100 or 3.2."""
    if value is None:
        return "n/a"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def moment(value: object) -> datetime:
    """A timestamp read back from a frame (Polars types its scalars loosely)."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a timestamp, got {value!r}")
    return value


def number(value: object) -> float:
    """A number read back from a frame; null counts as 0."""
    if value is None:
        return 0.0
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def day_start(day: date) -> datetime:
    """Midnight UTC of DAY."""
    return datetime(day.year, day.month, day.day)


@dataclass
class DetectorContext:
    """What a detector may read. Frames come from the aggregates; raw rows only through
    `raw(query_name)`, a named query that returns just the rows a detector needs."""

    activity: pl.DataFrame  # API activity per hour x app x user x ip x object (see queries/)
    auth: pl.DataFrame  # calls and auth failures per org x hour x user x ip, every event type
    settings: Settings
    window_start: datetime  # findings start in [window_start, window_end)
    window_end: datetime
    raw: Callable[..., pl.DataFrame]  # raw(query_name, params) -> rows
    prior: list[Finding] = field(default_factory=list)  # findings of detectors run earlier
    ip_info: pl.DataFrame = field(default_factory=pl.DataFrame)  # empty until `enrich` has run

    def params(self, detector: str) -> dict[str, Any]:
        """A detector's settings."""
        return self.settings.detector(detector)

    def in_window(self, moment: datetime | date) -> bool:
        """Whether a moment (or a day's start) falls in the scan window."""
        if isinstance(moment, date) and not isinstance(moment, datetime):
            moment = day_start(moment)
        return self.window_start <= moment < self.window_end

    @cached_property
    def entity_activity(self) -> pl.DataFrame:
        """Activity keyed by the entity it belongs to: the connected app when there is one, else
        the user (people and apps without an id). An integration user acting through its app is
        judged as the app, so the two are not flagged twice for the same thing."""
        frame = self.activity.with_columns(
            entity_type=pl.when(pl.col("connected_app_id").is_not_null())
            .then(pl.lit("connected_app"))
            .otherwise(pl.lit("user")),
            entity_id=pl.coalesce("connected_app_id", "user_id", pl.lit("unknown")),
            day=pl.col("hour").dt.date(),
            hour_of_day=pl.col("hour").dt.hour(),
        )
        labels = frame.group_by("org_id", "entity_type", "entity_id").agg(
            entity_label=pl.coalesce(
                pl.col("connected_app_name").drop_nulls().first(),
                pl.col("client_name").drop_nulls().first(),
                pl.col("user_name").drop_nulls().first(),
                pl.col("entity_id").first(),
            )
        )
        return frame.join(labels, on=["org_id", "entity_type", "entity_id"], how="left")

    @cached_property
    def daily(self) -> pl.DataFrame:
        """Per entity and day: calls, errors, rows, distinct IPs and objects (active days only)."""
        return (
            self.entity_activity.group_by("org_id", "entity_type", "entity_id", "entity_label", "day")
            .agg(
                calls=pl.col("calls").sum(),
                errors=pl.col("errors").sum(),
                rows=pl.col("rows_processed").sum(),
                ips=pl.col("ip").n_unique(),
                objects=pl.col("entity_name").drop_nulls().n_unique(),
                writes=pl.col("calls")
                .filter(pl.col("http_method").is_in(["POST", "PATCH", "PUT", "DELETE"]))
                .sum(),
                bulk=pl.col("calls").filter(pl.col("api_family") == "Bulk").sum(),
                first_ts=pl.col("first_ts").min(),
                last_ts=pl.col("last_ts").max(),
            )
            .sort("org_id", "entity_type", "entity_id", "day")
        )

    @cached_property
    def entity_first_day(self) -> dict[tuple[str, str, str], date]:
        """The first day each entity was seen."""
        frame = self.daily.group_by("org_id", "entity_type", "entity_id").agg(first=pl.col("day").min())
        return {
            (r["org_id"], r["entity_type"], r["entity_id"]): r["first"] for r in frame.iter_rows(named=True)
        }

    @cached_property
    def app_of_user(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(org, user id 15) -> (app id, app label) where a user acts through exactly one app."""
        frame = (
            self.entity_activity.filter(pl.col("entity_type") == "connected_app")
            .group_by("org_id", "user_id")
            .agg(apps=pl.col("entity_id").unique(), label=pl.col("entity_label").first())
            .filter(pl.col("apps").list.len() == 1)
        )
        return {(r["org_id"], r["user_id"]): (r["apps"][0], r["label"]) for r in frame.iter_rows(named=True)}

    def actor(self, org_id: str, user_id: str | None, fallback_label: str | None) -> tuple[str, str, str]:
        """(entity type, id, label) for rows that carry only a user id (Login, BulkApi2)."""
        user15 = (user_id or "")[:15]
        mapped = self.app_of_user.get((org_id, user15))
        if mapped:
            return "connected_app", mapped[0], mapped[1]
        return "user", user15 or "unknown", fallback_label or user15 or "unknown"

    def catalog(self, entity_type: str, entity_id: str) -> CatalogEntry | None:
        """The declared catalog entry for an entity, if any."""
        if entity_type == "connected_app":
            return self.settings.catalog_for(entity_id)
        return self.settings.catalog_for(None, entity_id)

    def window_days(self) -> list[date]:
        """Every day the scan window touches."""
        days, day = [], self.window_start.date()
        while day_start(day) < self.window_end:
            days.append(day)
            day += timedelta(days=1)
        return days


def per_entity(frame: pl.DataFrame) -> list[tuple[tuple[str, str, str, str], pl.DataFrame]]:
    """The frame split per (org, entity type, entity id, entity label), in order."""
    keys = ["org_id", "entity_type", "entity_id", "entity_label"]
    return [
        (tuple(key), group)  # type: ignore[misc]
        for key, group in frame.partition_by(keys, as_dict=True, maintain_order=True).items()
    ]


def is_month_end(day: date) -> bool:
    """The last two days of a month or the first: when billing and finance jobs burst."""
    return (day + timedelta(days=2)).month != day.month or day.day == 1


def declared_bursty(entry: CatalogEntry | None, day: date) -> bool:
    """Whether the catalog declares DAY a known burst day for this integration."""
    if not entry:
        return False
    return any(
        (b == "month_end" and is_month_end(day)) or (isinstance(b, int) and b == day.day)
        for b in entry.bursty_days
    )
