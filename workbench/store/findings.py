"""Stored findings: save a scan (same id on re-run, triage kept), triage, scoped suppressions."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl

from workbench.findings import SEVERITIES, TRIAGE_STATUSES
from workbench.store.queries import first_row


class FindingError(Exception):
    """A triage or suppression request that cannot be applied; the message says why."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def save_findings(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    replace: tuple[datetime, datetime, list[str] | None] | None = None,
) -> None:
    """Insert new findings and refresh re-found ones in one transaction; triage is untouched.
    With REPLACE (window start, end, detectors or None for all), findings of those detectors in
    that window that this scan no longer finds are dropped, unless someone triaged them or an
    alert named them: the store says what the current judgement is, not every past one."""
    if replace is not None:
        _drop_stale(con, frame, *replace)
    if frame.is_empty():
        return
    now = _now()
    rows = [
        {**row, "evidence": json.dumps(row["evidence"], default=str, sort_keys=True)}
        for row in frame.iter_rows(named=True)
    ]
    con.register("staged", pl.DataFrame(rows).with_columns(found=pl.lit(now)))
    con.execute("BEGIN")
    try:
        con.execute(
            """INSERT INTO findings
               SELECT id, detector, category, severity, score, org_id, entity_type, entity_id, entity_label,
                      window_start, window_end, observed, baseline, explanation, evidence, false, found, found
                 FROM staged
               ON CONFLICT (id) DO UPDATE SET
                   severity = excluded.severity, score = excluded.score, entity_label = excluded.entity_label,
                   window_end = excluded.window_end, observed = excluded.observed, baseline = excluded.baseline,
                   explanation = excluded.explanation, evidence = excluded.evidence,
                   last_found = excluded.last_found"""
        )
        _mark_suppressed(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("staged")


def _drop_stale(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    start: datetime,
    end: datetime,
    detectors: list[str] | None,
) -> None:
    con.execute(
        """DELETE FROM findings f
            WHERE f.window_start >= ? AND f.window_start < ?
              AND (? IS NULL OR list_contains(?, f.detector))
              AND NOT list_contains(?, f.id)
              AND NOT EXISTS (SELECT 1 FROM triage t WHERE t.finding_id = f.id)
              AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.finding_id = f.id)""",
        [start, end, detectors, detectors, frame["id"].to_list() if not frame.is_empty() else []],
    )


def _mark_suppressed(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """UPDATE findings f SET suppressed = EXISTS (
               SELECT 1 FROM suppressions s
                WHERE s.detector = f.detector AND s.entity_id = f.entity_id
                  AND (s.until IS NULL OR f.window_start < s.until))"""
    )


def load_findings(
    con: duckdb.DuckDBPyConnection,
    status: str | None = None,
    min_severity: str | None = None,
    detectors: list[str] | None = None,
    ids: list[str] | None = None,
    include_suppressed: bool = False,
    incidents: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Stored findings with their triage status and incident (the `finding_incidents` view), most
    severe first; INCIDENTS keeps the members of those incidents."""
    where: list[str] = ["true"]
    params: list[Any] = []
    if status:
        where.append("coalesce(t.status, 'new') = ?")
        params.append(status)
    if min_severity:
        where.append("list_position(?, f.severity) >= list_position(?, ?)")
        params.extend([list(SEVERITIES), list(SEVERITIES), min_severity])
    if detectors:
        where.append("list_contains(?, f.detector)")
        params.append(detectors)
    if ids:
        where.append("list_contains(?, f.id)")
        params.append(ids)
    if incidents:
        where.append("list_contains(?, i.incident_id)")
        params.append(incidents)
    if not include_suppressed:
        where.append("NOT f.suppressed")
    cursor = con.execute(
        f"""SELECT f.*, coalesce(t.status, 'new') AS status, t.note, t.updated_by, t.updated_at,
                   i.incident_id
              FROM findings f LEFT JOIN triage t ON t.finding_id = f.id
              LEFT JOIN finding_incidents i ON i.finding_id = f.id
             WHERE {" AND ".join(where)}
             ORDER BY f.score DESC, f.window_start, f.id""",
        params,
    )
    names = [d[0] for d in cursor.description or []]
    result = []
    for row in cursor.fetchall():
        item = dict(zip(names, row, strict=True))
        item["evidence"] = json.loads(item["evidence"]) if item["evidence"] else {}
        result.append(item)
    return result


def resolve_id(con: duckdb.DuckDBPyConnection, prefix: str) -> str:
    """A finding id from its full form or a unique prefix (at least 6 characters)."""
    if len(prefix) < 6:
        raise FindingError(f"finding id {prefix!r} is too short: give at least 6 characters")
    matches = [
        r[0] for r in con.execute("SELECT id FROM findings WHERE starts_with(id, ?)", [prefix]).fetchall()
    ]
    if not matches:
        raise FindingError(f"no finding with id {prefix!r} (see `workbench findings`)")
    if len(matches) > 1:
        raise FindingError(f"finding id {prefix!r} is ambiguous: {', '.join(matches[:5])}")
    return matches[0]


def triage_members(con: duckdb.DuckDBPyConnection, prefix: str) -> tuple[str | None, list[str]]:
    """What an id given to `triage` names: (None, [the finding]) for a finding id or a unique
    prefix, (the incident id, [its findings]) for an incident's; FindingError if it names
    nothing or more than one thing."""
    if len(prefix) < 6:
        raise FindingError(f"id {prefix!r} is too short: give at least 6 characters")
    incidents = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT incident_id FROM finding_incidents WHERE starts_with(incident_id, ?)", [prefix]
        ).fetchall()
    ]
    findings = [
        r[0] for r in con.execute("SELECT id FROM findings WHERE starts_with(id, ?)", [prefix]).fetchall()
    ]
    if (incidents and findings) or len(incidents) > 1:
        named = [f"incident {i}" for i in incidents[:3]] + [f"finding {f}" for f in findings[:3]]
        raise FindingError(f"id {prefix!r} is ambiguous: {', '.join(named)}")
    if not incidents:
        return None, [resolve_id(con, prefix)]
    members = con.execute(
        "SELECT finding_id FROM finding_incidents WHERE incident_id = ? ORDER BY finding_id", [incidents[0]]
    ).fetchall()
    return incidents[0], [r[0] for r in members]


def set_triage(
    con: duckdb.DuckDBPyConnection, finding: str, status: str, note: str | None = None, by: str | None = None
) -> str:
    """Record a triage decision; returns the full finding id."""
    if status not in TRIAGE_STATUSES:
        raise FindingError(f"status {status!r} is not one of {', '.join(TRIAGE_STATUSES)}")
    full = resolve_id(con, finding)
    con.execute(
        """INSERT INTO triage VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (finding_id) DO UPDATE SET status = excluded.status,
               note = coalesce(excluded.note, triage.note), updated_by = excluded.updated_by,
               updated_at = excluded.updated_at""",
        [full, status, note, by or _user(), _now()],
    )
    return full


def add_suppression(
    con: duckdb.DuckDBPyConnection,
    detector: str,
    entity: str,
    until: datetime | None,
    reason: str | None,
    known_detectors: list[str],
) -> int:
    """Suppress one detector for one entity; returns how many stored findings it now covers."""
    if detector not in known_detectors:
        raise FindingError(f"unknown detector {detector!r}; detectors: {', '.join(known_detectors)}")
    if not entity.strip() or entity.strip() in ("*", "%", "all"):
        raise FindingError("--entity must name one app, user or IP id: suppressions are scoped, never global")
    con.execute(
        "INSERT INTO suppressions VALUES (nextval('suppression_id_seq'), ?, ?, ?, ?, ?, ?)",
        [detector, entity.strip(), until, reason, _user(), _now()],
    )
    _mark_suppressed(con)
    (count,) = first_row(
        con.execute(
            "SELECT count(*) FROM findings WHERE suppressed AND detector = ? AND entity_id = ?",
            [detector, entity.strip()],
        )
    )  # type: ignore[misc]
    return int(count)
