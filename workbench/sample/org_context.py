"""The org's side of the sample: what Acme's admin exports around the planted incident, as
`sf data query --result-format csv` writes it (deterministic, like the logs).

- ConnectedApplication (once), and OauthToken at three moments: ten days before the incident, the
  morning after it (before anything was revoked) and the day after containment. Between the
  first two, an old Gainsight CS refresh token of the integration user, idle since June, was
  used again on the incident nights: the stolen one.
- Containment, on the day after the export: the admin revokes every Gainsight CS token at 10:00
  and the vendor reconnects at 15:30 with a new one. Salesloft's old token is left live.
- The setup audit trail: routine changes, and two days before the incident an admin relaxes the
  IP restrictions of Gainsight CS; after containment they are enforced again.

Each snapshot goes into OUTDIR/<domain>-<org id>/<taken at>/ (for example 2025-11-20T09-00Z):
exports do not carry their time, so ingest them with `--as-of` that time (the demo does).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from workbench.sample.generator import DEFAULT_END_DATE, OrgPlan, _org_plans, to18

TOKEN_HEADER = ["Id", "AppName", "UserId", "User.Username", "CreatedDate", "LastUsedDate", "UseCount"]
APP_HEADER = ["Id", "Name", "OptionsAllowAdminApprovedUsersOnly", "RefreshTokenValidityPeriod", "CreatedDate"]
AUDIT_HEADER = ["Id", "CreatedDate", "CreatedBy.Username", "Action", "Section", "Display", "DelegateUser"]
FOLDER_TIME = "%Y-%m-%dT%H-%MZ"


@dataclass(frozen=True)
class Moments:
    """The sample's org-context times, from the last day of the logs (the incident nights are
    the third and second days before it)."""

    end: date

    def at(self, days_before_end: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.end - timedelta(days=days_before_end), time(hour, minute))

    @property
    def snapshots(self) -> tuple[datetime, datetime, datetime]:
        """Before the incident, the morning after the export, the day after containment."""
        return self.at(11, 9), self.at(1, 9), self.at(0, 9)

    @property
    def revoked(self) -> datetime:
        return self.at(1, 10)

    @property
    def reissued(self) -> datetime:
        return self.at(1, 15, 30)


def snapshot_time(folder: Path) -> datetime | None:
    """The time a snapshot folder is named after (None for any other folder)."""
    try:
        return datetime.strptime(folder.name, FOLDER_TIME)
    except ValueError:
        return None


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _tokens(plan: OrgPlan, m: Moments, taken: datetime) -> list[list[str]]:
    """The org's OauthToken rows as a snapshot taken at TAKEN shows them."""
    by_key = {a.key: a for a in plan.actors}
    first_day = m.end - timedelta(days=34)
    incident = m.at(2, 2, 6)  # the export night's first call with the old token
    before_containment = taken < m.revoked

    def row(token: str, key: str, created: datetime, used: datetime, count: int) -> list[str]:
        actor = by_key[key]
        user_id = to18(plan.ids[key][0])
        return [
            token,
            actor.connected_app_name,
            user_id,
            actor.user_name,
            _iso(created),
            _iso(used),
            str(count),
        ]

    recent = taken - timedelta(minutes=12)
    rows = []
    if before_containment:
        rows.append(row("0CQ5e000000GsA1", "gainsight", datetime(2025, 3, 4, 15), recent, 41_200))
        # Issued when the connector was first installed, idle since June: what was stolen.
        old_used = incident if taken > incident else datetime(2025, 6, 30, 16, 41)
        rows.append(row("0CQ5e000000Gq7Z", "gainsight", datetime(2024, 9, 12, 14), old_used, 2_316))
    else:
        rows.append(row("0CQ5e000000Hb3K", "gainsight", m.reissued, recent, 610))
    rows += [
        row("0CQ5e000000Fx2M", "salesloft", datetime(2025, 1, 20, 17), recent, 88_400),
        row("0CQ5e000000Fz9Q", "etl", datetime(2024, 11, 2, 3), m.at(0, 3, 5), 12_950),
        row("0CQ5e000000G0aB", "billing", datetime(2025, 2, 11, 9), recent, 9_870),
        row("0CQ5e000000G1cD", "hubspot", datetime(2025, 4, 1, 12), recent, 30_400),
        row(
            "0CQ5e000000E7kR",
            "marketo_legacy",
            datetime(2023, 6, 5, 8),
            datetime.combine(first_day + timedelta(days=9), time(5, 40)),
            150_200,
        ),
    ]
    return rows


def _apps(plan: OrgPlan) -> list[list[str]]:
    """ConnectedApplication: Gainsight CS lets users authorise themselves and its refresh tokens
    live until revoked (the riskiest policy); the others need admin approval and expire."""
    rows = []
    for actor in plan.actors:
        if actor.human:
            continue
        risky = actor.key == "gainsight"
        rows.append(
            [
                to18(plan.ids[actor.key][1]),
                actor.connected_app_name,
                "false" if risky else "true",
                "" if risky else "90",
                "2024-09-12T13:55:00.000+0000" if risky else "2024-01-10T08:00:00.000+0000",
            ]
        )
    return rows


def _audit(plan: OrgPlan, m: Moments) -> list[list[str]]:
    """The setup audit trail from the first day of the logs to the last."""
    domain = plan.domain
    admin, other = f"alice.admin@{domain}.com", f"ops.admin@{domain}.com"
    events = [
        (
            m.at(30, 14, 2),
            other,
            "resetPassword",
            "Manage Users",
            f"Reset password for bob.sales@{domain}.com",
        ),
        (
            m.at(18, 15, 10),
            admin,
            "PermSetAssign",
            "Manage Users",
            f"Permission set Integration Read: assigned to user hubspot.sync@{domain}.com",
        ),
        (
            m.at(4, 16, 42),
            other,
            "connectedAppPolicyChanged",
            "Connected Apps",
            "Changed Gainsight CS IP Relaxation from Enforce IP restrictions to Relax IP restrictions",
        ),
        (
            m.revoked,
            admin,
            "revokeOAuthToken",
            "Connected Apps",
            "Revoked all OAuth tokens of Gainsight CS",
        ),
        (
            m.at(1, 15, 20),
            admin,
            "connectedAppPolicyChanged",
            "Connected Apps",
            "Changed Gainsight CS IP Relaxation from Relax IP restrictions to Enforce IP restrictions",
        ),
    ]
    return [
        [f"0Ym5e00000{n:05d}", _iso(when), who, action, section, display, ""]
        for n, (when, who, action, section, display) in enumerate(events, start=1)
    ]


def write_org_context(outdir: Path, seed: int = 7, end_date: date = DEFAULT_END_DATE) -> list[Path]:
    """Write the sample's org-context exports for its first org (Acme, the one with the
    incident) into OUTDIR; returns the files."""
    plan = _org_plans(seed, 1)[0]
    m = Moments(end_date)
    folder = outdir / f"{plan.domain}-{plan.org_id}"
    written = []
    first, *_, last = (folder / taken.strftime(FOLDER_TIME) for taken in m.snapshots)
    # The apps' policies do not change between snapshots (an identical export loads once).
    written.append(_write(first / "ConnectedApplication.csv", APP_HEADER, _apps(plan)))
    for taken in m.snapshots:
        into = folder / taken.strftime(FOLDER_TIME)
        written.append(_write(into / "OauthToken.csv", TOKEN_HEADER, _tokens(plan, m, taken)))
    written.append(_write(last / "SetupAuditTrail.csv", AUDIT_HEADER, _audit(plan, m)))
    return written
