"""Org-context exports written the way the tools write them: Data Loader (upper-case API names,
every value quoted, GMT with Z), `sf data query --result-format csv` (API names as queried,
relationship columns such as User.Username, +0000 offsets, quoting only where needed) and the
Setup audit trail download (its own column titles, the user's locale time)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

SECRET_VALUES = ("SECRET-ACCESS-7f3a9c", "SECRET-REQUEST-b81d22", "SECRET-DELETE-99e0aa")


def data_loader(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """Data Loader: upper-case headers, every value double-quoted, CRLF line ends."""

    def line(values: Sequence[str]) -> str:
        return ",".join('"' + v.replace('"', '""') + '"' for v in values)

    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\r\n".join([line([h.upper() for h in header]), *(line(r) for r in rows)]) + "\r\n"
    path.write_bytes(text.encode())
    return path


def sf_cli(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """sf data query --result-format csv: headers as queried, minimal quoting, LF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


TOKEN_HEADER = [
    "Id",
    "AppName",
    "UserId",
    "User.Username",
    "User.Profile.Name",
    "CreatedDate",
    "LastUsedDate",
    "UseCount",
    "AccessToken",
    "RequestToken",
    "DeleteToken",
]


def token_row(
    token_id: str,
    app: str,
    user_id: str,
    user_name: str,
    created: str,
    last_used: str,
    use_count: str = "10",
    profile: str = "Integration User",
) -> list[str]:
    """An OauthToken row, with token values that must never reach the store."""
    return [token_id, app, user_id, user_name, profile, created, last_used, use_count, *SECRET_VALUES]


APP_HEADER = [
    "Id",
    "Name",
    "CreatedDate",
    "LastModifiedDate",
    "OptionsAllowAdminApprovedUsersOnly",
    "RefreshTokenValidityPeriod",
    "MobileSessionTimeout",
]


def app_row(
    app_id: str,
    name: str,
    admin_approved: str = "true",
    refresh_period: str = "90",
    created: str = "2024-01-10T08:00:00.000Z",
    modified: str = "2024-01-10T08:00:00.000Z",
) -> list[str]:
    """A ConnectedApplication row."""
    return [app_id, name, created, modified, admin_approved, refresh_period, "M15"]


SETUP_DOWNLOAD_HEADER = ["Date", "User", "Source Namespace Prefix", "Action", "Section", "Delegate User"]
AUDIT_API_HEADER = ["Id", "CreatedDate", "CreatedBy.Username", "Action", "Section", "Display", "DelegateUser"]
LOGIN_HEADER = [
    "Id",
    "LoginTime",
    "UserId",
    "Application",
    "SourceIp",
    "CountryIso",
    "LoginType",
    "ApiType",
    "ApiVersion",
    "Status",
    "Browser",
    "Platform",
]


def login_row(
    login_id: str,
    when: str,
    user_id: str,
    app: str,
    ip: str,
    country: str = "US",
    status: str = "Success",
) -> list[str]:
    """A LoginHistory row of an OAuth app login."""
    return [
        login_id,
        when,
        user_id,
        app,
        ip,
        country,
        "Remote Access 2.0",
        "REST",
        "62.0",
        status,
        "Unknown",
        "Unknown",
    ]
