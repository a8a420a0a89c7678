"""What every detector shares: its declaration, the context it reads, how findings are built."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from workbench.config import CatalogEntry, ConfigError, Settings
from workbench.detect import scoring
from workbench.detect.profiles import ENTITY, Profiles, entity_activity
from workbench.findings import (
    CATEGORIES,
    FINDING_COLUMNS,
    FINDING_SCHEMA,
    SEVERITIES,
    Finding,
    finding_id,
    findings_frame,
    severity_for,
)

__all__ = [
    "CATEGORIES",
    "FINDING_COLUMNS",
    "FINDING_SCHEMA",
    "SEVERITIES",
    "Detector",
    "DetectorContext",
    "Finding",
    "NoParams",
    "finding_id",
    "findings_frame",
    "severity_for",
]


@dataclass(frozen=True)
class NoParams:
    """A detector without settings."""


@dataclass(frozen=True)
class Detector:
    """A detector, declared once in its family module: what it is called, what it finds, its
    typed parameters (a frozen dataclass with defaults, overridable in workbench.toml)."""

    name: str
    family: str
    run: Callable[[DetectorContext, Any], list[Finding]]
    description: str
    params: type = NoParams
    reads_prior: bool = False
    """It reads the other detectors' findings (`DetectorContext.prior`), so it runs after them."""

    def parameters(self, overrides: dict[str, Any]) -> Any:
        """The parameters with the settings file's overrides, checked by name and type."""
        fields = {f.name: f for f in dataclasses.fields(self.params)}
        unknown = sorted(set(overrides) - set(fields))
        if unknown:
            known = ", ".join(fields) or "none"
            raise ConfigError(
                f"[detect.{self.name}]: unknown setting(s) {', '.join(unknown)}; settings: {known}"
            )
        values = {}
        for key, value in overrides.items():
            default = getattr(self.params(), key)
            wanted = type(default)
            if wanted is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, wanted) or isinstance(value, bool) != isinstance(default, bool):
                raise ConfigError(
                    f"[detect.{self.name}] {key} = {value!r}: expected {wanted.__name__} like {default!r}"
                )
            values[key] = value
        return self.params(**values)


@dataclass
class DetectorContext:
    """What a detector may read. Frames come from the aggregates and the profiles built from
    them; raw rows only through `raw(query_name)`, a named query that returns just the rows a
    detector needs."""

    activity: pl.DataFrame  # API activity per hour x app x user x ip x object (see queries/)
    auth: pl.DataFrame  # calls and auth failures per org x hour x user x ip, every event type
    settings: Settings
    window_start: datetime  # findings start in [window_start, window_end)
    window_end: datetime
    raw: Callable[..., pl.DataFrame]  # raw(query_name, params) -> rows
    prior: list[Finding] = field(default_factory=list)  # findings of detectors run earlier
    ip_info: pl.DataFrame = field(default_factory=pl.DataFrame)  # empty until `enrich` has run
    # Waits for the queries still loading ahead and tidies up after them (see detect.load).
    on_finish: Callable[[], None] | None = None
    # LoginHistory logins in the grain of `activity`, for orgs without Login event logs: they say
    # where apps and users were seen from, never how much work they did (volume reads `activity`).
    logins: pl.DataFrame = field(default_factory=pl.DataFrame)

    def finish(self) -> None:
        """Wait for raw rows still loading ahead: their cursors must be done before the store's
        connection closes, even when no detector asked for them."""
        if self.on_finish is not None:
            self.on_finish()

    @cached_property
    def entity_activity(self) -> pl.DataFrame:
        """Activity keyed by its entity (see profiles.entity_activity); an app's label may come
        from its LoginHistory logins when its calls do not name it."""
        if self.logins.is_empty():
            return entity_activity(self.activity)
        return self.entity_presence.filter(~pl.col("login")).drop("login")

    @cached_property
    def entity_presence(self) -> pl.DataFrame:
        """Where each entity was seen from: its API activity and, for orgs without Login event
        logs, its LoginHistory logins (the address, country and travel detectors read this)."""
        if self.logins.is_empty():
            return self.entity_activity
        both = [self.activity.with_columns(login=False), self.logins.with_columns(login=True)]
        return entity_activity(pl.concat(both, how="diagonal_relaxed"))

    @cached_property
    def app_activity(self) -> pl.DataFrame:
        """The connected apps' rows of `entity_activity`: filtered once (each filter copies every
        column of 50,000-odd rows) for the several detectors that read only apps."""
        return self.entity_activity.filter(pl.col("entity_type") == "connected_app")

    @cached_property
    def app_presence(self) -> pl.DataFrame:
        """The connected apps' rows of `entity_presence` (the same frame as `app_activity` when
        no LoginHistory logins are loaded)."""
        if self.logins.is_empty():
            return self.app_activity
        return self.entity_presence.filter(pl.col("entity_type") == "connected_app")

    @cached_property
    def profiles(self) -> Profiles:
        """Every entity's profile, computed once and shared by every detector."""
        return Profiles(self.entity_activity, self.auth)

    def judged(self, column: str = "day") -> pl.Expr:
        """Rows whose COLUMN (a day or a timestamp) falls in the judged days."""
        if column == "day":
            return (pl.col("day") >= self.window_start.date()) & (pl.col("day") < self.window_end.date())
        return (pl.col(column) >= self.window_start) & (pl.col(column) < self.window_end)

    @cached_property
    def users_of_apps(self) -> pl.DataFrame:
        """(org, user id 15) -> the app it acts through, where it acts through exactly one."""
        return (
            self.app_activity.group_by("org_id", "user_id")
            .agg(app_ids=pl.col("entity_id").unique(), app_label=pl.col("entity_label").first())
            .filter(pl.col("app_ids").list.len() == 1)
            .select(
                "org_id",
                pl.col("user_id").alias("user15"),
                app_id=pl.col("app_ids").list.first(),
                app_label="app_label",
            )
        )

    @cached_property
    def app_of_user(self) -> dict[tuple[str, str], tuple[str, str]]:
        """The same mapping as a dictionary, for the few places that look up one user."""
        return {(o, u): (a, lab) for o, u, a, lab in self.users_of_apps.iter_rows()}

    def with_actor(self, frame: pl.DataFrame, user: str = "user15", name: str = "user_name") -> pl.DataFrame:
        """Add entity_type, entity_id and entity_label to rows that carry a user (Login, bulk job
        logs): the app the user acts through, else the user."""
        user15 = pl.col(user).cast(pl.Utf8).str.slice(0, 15)
        joined = frame.with_columns(__user15=user15).join(
            self.users_of_apps.rename({"user15": "__user15"}), on=["org_id", "__user15"], how="left"
        )
        return joined.with_columns(
            entity_type=pl.when(pl.col("app_id").is_not_null())
            .then(pl.lit("connected_app"))
            .otherwise(pl.lit("user")),
            entity_id=pl.coalesce("app_id", "__user15", pl.lit("unknown")),
            entity_label=pl.coalesce("app_label", pl.col(name), "__user15", pl.lit("unknown")),
        ).drop("__user15", "app_id", "app_label")

    def actor(self, org_id: str, user_id: str | None, fallback_label: str | None) -> tuple[str, str, str]:
        """(entity type, id, label) for one user id."""
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


def emit(
    frame: pl.DataFrame,
    detector: str,
    category: str,
    explain: Callable[[dict[str, Any]], str],
    evidence: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[Finding]:
    """Findings from the rows of a detector's result frame: it needs org_id, entity_type,
    entity_id, entity_label, window_start, window_end, score, observed and baseline; the two
    callables say the rest in words and evidence. Rows are findings, never events; rows under
    the report floor are noise and dropped here, once for every detector."""
    return [
        Finding(
            detector=detector,
            category=category,
            org_id=row["org_id"],
            entity_type=row["entity_type"],
            entity_id=row["entity_id"],
            entity_label=row["entity_label"] or row["entity_id"],
            window_start=row["window_start"],
            window_end=row["window_end"],
            score=float(row["score"]),
            explanation=explain(row),
            observed=row["observed"],
            baseline=row["baseline"],
            evidence=evidence(row),
        )
        for row in frame.filter(pl.col("score") >= scoring.REPORT_FLOOR).iter_rows(named=True)
    ]


def fmt(value: float | None) -> str:
    """Numbers in explanations: 5,100 or 3.2."""
    if value is None:
        return "n/a"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def one_in(p: float) -> str:
    """A tail probability in words: 'about 1 in 3,400'."""
    if p <= 0:
        return "less than 1 in 10^300"
    if p >= 0.5:
        return "common"
    odds = 1 / p
    if odds >= 1e6:
        return f"about 1 in 10^{np.log10(odds):.0f}"
    return f"about 1 in {fmt(float(f'{odds:.2g}'))}"


def listed(values: Iterable[Any] | None, limit: int = 5) -> str:
    """'a, b, c and 4 more'."""
    items = [str(v) for v in values or []]
    if len(items) <= limit:
        return ", ".join(items) or "none"
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"


def moment(value: object) -> datetime:
    """A timestamp read back from a frame (Polars types its scalars loosely)."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a timestamp, got {value!r}")
    return value


def number(value: object) -> float:
    """A number read back from a frame; null counts as 0."""
    if value is None:
        return 0.0
    if isinstance(value, Decimal):
        return float(value)
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def day_start(day: date) -> datetime:
    """Midnight UTC of DAY."""
    return datetime(day.year, day.month, day.day)


def day_window() -> dict[str, pl.Expr]:
    """window_start/window_end covering the whole `day`."""
    start = pl.col("day").cast(pl.Datetime("us"))
    return {"window_start": start, "window_end": start + pl.duration(days=1)}


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


def entity_keys() -> list[str]:
    """The columns that name an entity."""
    return [*ENTITY, "entity_label"]
