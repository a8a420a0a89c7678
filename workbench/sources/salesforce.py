"""Download EventLogFile logs from Salesforce (simple-salesforce), keep them, ingest them.

Incremental and resumable: the cursor is (CreatedDate, Id), advanced after each file is
archived and ingested, so an interrupted fetch resumes without gaps or duplicates. Secrets come
from the environment (or a prompt, or the OS keyring) and are redacted from every message.
"""

from __future__ import annotations

import gzip
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from workbench.files import describe_os_error, write_atomic
from workbench.render import inert
from workbench.store.ingest import ingest_inputs
from workbench.store.inputs import LogInput
from workbench.store.org_context import (
    LOGIN_HISTORY,
    SETUP_AUDIT_TRAIL,
    OrgContextResult,
    load_records,
    parse_when,
    store_org,
)
from workbench.store.queries import first_row, load_query

API_VERSION = "62.0"
RETRYABLE = (429, 500, 502, 503, 504)


class FetchError(Exception):
    """A fetch that cannot go on; the message is already redacted."""


@dataclass
class Profile:
    """How to reach one org: the auth flow and where its secrets come from (never the file)."""

    name: str
    auth: str = "token"  # token | password | client_credentials | jwt
    instance_url: str | None = None
    domain: str = "login"  # login, test (sandbox) or a My Domain such as acme.my
    username: str | None = None
    consumer_key: str | None = None
    private_key_file: str | None = None
    org_id: str | None = None
    api_version: str = API_VERSION
    secret_env: dict[str, str] = field(default_factory=dict)  # secret -> environment variable

    def secret(self, name: str, prompt: Callable[[str], str] | None = None) -> str | None:
        """A secret from its environment variable, the OS keyring, or a prompt, in that order."""
        variable = self.secret_env.get(name, f"SF_{name.upper()}")
        value = os.environ.get(variable)
        if value:
            return value
        try:
            import keyring  # optional: only used when installed

            value = keyring.get_password(f"workbench:{self.name}", name)
        except Exception:
            value = None
        if value:
            return value
        return prompt(f"{name} for {self.name}") if prompt else None


class Redactor:
    """Removes every known secret from text before it is shown or stored."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def add(self, *values: str | None) -> None:
        """Remember secrets (short values are ignored: they would redact ordinary words)."""
        self.secrets |= {v for v in values if v and len(v) >= 6}

    def __call__(self, text: object) -> str:
        result = str(text)
        for secret in sorted(self.secrets, key=len, reverse=True):
            result = result.replace(secret, "[redacted]")
        return re.sub(r"(?i)(bearer\s+)[A-Za-z0-9!._\-]+", r"\1[redacted]", result)


def connect(profile: Profile, redact: Redactor, prompt: Callable[[str], str] | None = None) -> Salesforce:
    """Log in with the profile's flow (simple-salesforce does the HTTP)."""
    version = profile.api_version
    try:
        if profile.auth == "token":
            token = profile.secret("access_token", prompt)
            if not token or not profile.instance_url:
                raise FetchError("the token flow needs --instance-url and an access token in SF_ACCESS_TOKEN")
            redact.add(token)
            return Salesforce(instance_url=profile.instance_url, session_id=token, version=version)
        if profile.auth == "password":
            password, token = profile.secret("password", prompt), profile.secret("security_token", prompt)
            redact.add(password, token)
            return Salesforce(
                username=profile.username,
                password=password,
                security_token=token or "",
                domain=profile.domain,
                version=version,
            )
        if profile.auth == "client_credentials":
            secret = profile.secret("consumer_secret", prompt)
            redact.add(secret)
            return Salesforce(
                consumer_key=profile.consumer_key,
                consumer_secret=secret,
                domain=profile.domain,
                version=version,
            )
        if profile.auth == "jwt":
            return Salesforce(
                username=profile.username,
                consumer_key=profile.consumer_key,
                privatekey_file=profile.private_key_file,
                domain=profile.domain,
                version=version,
            )
    except SalesforceAuthenticationFailed as exc:
        raise FetchError(redact(f"login to {profile.name} failed: {exc}")) from None
    except (requests.RequestException, OSError, ValueError) as exc:
        raise FetchError(redact(f"cannot reach Salesforce for {profile.name}: {exc}")) from None
    raise FetchError(
        f"profile {profile.name}: unknown auth {profile.auth!r} (token, password, client_credentials, jwt)"
    )


@dataclass
class RemoteFile:
    """One EventLogFile record."""

    id: str
    event_type: str
    log_date: str
    interval: str
    sequence: int
    created: str
    length: int
    problem: str | None = None  # a value from the API that is not what it should be

    def invalid_name(self) -> str | None:
        """Why this record's values cannot name a file or a URL path, or None if they can. They
        come from the API and become path parts (and the download URL, and the next query's
        cursor): only plain names, dates and whole numbers pass."""
        if self.problem:
            return self.problem
        checks = (
            ("Id", self.id, _NAME),
            ("EventType", self.event_type, _NAME),
            ("LogDate", self.log_date[:10], _DAY),
            ("Interval", self.interval, _NAME),
            ("CreatedDate", self.created, _CREATED),
        )
        for field_name, value, pattern in checks:
            if not pattern.fullmatch(value):
                return f"{field_name} {inert(value)!r} is not a plain name ({pattern.pattern})"
        return None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RemoteFile:
        """From a SOQL query record. Never raises: a value that is not what it should be makes
        the record invalid (see invalid_name), so only that file is refused."""
        sequence, bad_sequence = _whole_number(record.get("Sequence"), "Sequence")
        length, bad_length = _whole_number(record.get("LogFileLength"), "LogFileLength")
        return cls(
            id=str(record.get("Id") or ""),
            event_type=str(record.get("EventType") or ""),
            log_date=str(record.get("LogDate") or ""),
            interval=str(record.get("Interval") or "Daily"),
            sequence=sequence,
            created=str(record.get("CreatedDate") or ""),
            length=length,
            problem=bad_sequence or bad_length,
        )


def _whole_number(value: Any, name: str) -> tuple[int, str | None]:
    """VALUE as a whole number of at most 18 digits (JSON may give 3 or 3.0), else 0 and why not."""
    if value is None or value == "":
        return 0, None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not _WHOLE.fullmatch(text):
        return 0, f"{name} {inert(str(value))!r} is not a whole number"
    return int(text), None


def soql(
    since: str | None,
    until: str | None,
    event_types: list[str],
    interval: str,
    cursor: tuple[str, str] | None,
) -> str:
    """The EventLogFile query: tie-safe on (CreatedDate, Id), oldest first."""
    where = []
    if cursor:
        created, last_id = cursor
        where.append(f"(CreatedDate > {created} OR (CreatedDate = {created} AND Id > '{last_id}'))")
    if since:
        where.append(f"LogDate >= {since}T00:00:00Z")
    if until:
        where.append(f"LogDate <= {until}T23:59:59Z")
    if event_types:
        where.append("EventType IN (" + ", ".join("'" + t.replace("'", "") + "'" for t in event_types) + ")")
    if interval != "both":
        where.append(f"Interval = '{interval.capitalize()}'")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    fields = "Id, EventType, LogDate, Interval, Sequence, CreatedDate, LogFileLength"
    return f"SELECT {fields} FROM EventLogFile{clause} ORDER BY CreatedDate ASC, Id ASC"


@dataclass
class FetchReport:
    """What a fetch did."""

    listed: int = 0
    downloaded: int = 0
    skipped_local: int = 0
    events_added: int = 0
    api_usage: str = ""
    files: list[RemoteFile] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # one message per file not fetched


class Fetcher:
    """Lists, downloads, archives and ingests EventLogFile records for one profile."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        profile: Profile,
        archive: Path,
        redact: Redactor | None = None,
        prompt: Callable[[str], str] | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 30.0,
    ) -> None:
        self.con, self.profile, self.archive = con, profile, archive
        self.redact = redact or Redactor()
        self.prompt, self.retries, self.backoff, self.timeout = prompt, retries, backoff, timeout
        self.sf = connect(profile, self.redact, prompt)
        self.reauthenticated = False
        self.api_usage = ""

    @property
    def org_key(self) -> str:
        """The sync-state key: the profile's org id, else its name."""
        return self.profile.org_id or self.profile.name

    def _relogin(self) -> None:
        if self.reauthenticated or self.profile.auth == "token":
            raise FetchError(f"the session for {self.profile.name} expired; log in again (new access token)")
        self.reauthenticated = True
        self.sf = connect(self.profile, self.redact, self.prompt)

    def _with_retries(self, action: Callable[[], Any], what: str) -> Any:
        """Run ACTION; log in again once on 401, back off and retry on 429/5xx/short reads/
        connection errors, and give up with a redacted FetchError."""
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return action()
            except (SalesforceError, _Retry, requests.RequestException, OSError) as exc:
                status = getattr(exc, "status", None)
                if status == 401:
                    self._relogin()
                    continue
                retryable = not isinstance(exc, SalesforceError) or status in RETRYABLE
                if not retryable:
                    raise FetchError(self.redact(f"{what} failed: HTTP {status}: {exc}")) from None
                if attempt == self.retries:
                    raise FetchError(
                        self.redact(f"{what} failed after {attempt + 1} attempts: {exc}")
                    ) from None
                time.sleep(delay)
                delay *= 2
        raise FetchError(f"{what} failed")

    def cursor(self) -> tuple[str, str] | None:
        """The last (CreatedDate, Id) fetched for this org."""
        row = first_row(self.con.execute(load_query("fetch_cursor"), {"org_key": self.org_key}))
        return (row[0], row[1]) if row and row[0] else None

    def list_remote(
        self,
        since: str | None,
        until: str | None,
        event_types: list[str],
        interval: str,
        incremental: bool = True,
    ) -> list[RemoteFile]:
        """EventLogFile records after the cursor (or all in the dates), following nextRecordsUrl."""
        query = soql(since, until, event_types, interval, self.cursor() if incremental else None)
        result = self._with_retries(lambda: self.sf.query_all(query), "listing EventLogFile")
        self.api_usage = _usage(self.sf)
        return [RemoteFile.from_record(r) for r in result["records"]]

    def _download(self, remote: RemoteFile) -> bytes:
        url = f"{self.sf.base_url}sobjects/EventLogFile/{remote.id}/LogFile"

        def get() -> bytes:
            headers = {"Authorization": f"Bearer {self.sf.session_id}", "Accept-Encoding": "gzip"}
            response = self.sf.session.get(url, headers=headers, timeout=self.timeout)
            if response.status_code in (401, *RETRYABLE):
                raise _Retry(response.status_code, f"HTTP {response.status_code}")
            if response.status_code >= 300:
                raise FetchError(self.redact(f"downloading {remote.id}: HTTP {response.status_code}"))
            limit = response.headers.get("Sforce-Limit-Info")
            if limit:
                self.api_usage = limit
            body = response.content
            if remote.length and len(body) < remote.length:
                raise _Retry(0, f"short read of {remote.id}: {len(body)} of {remote.length} bytes")
            return body

        return self._with_retries(get, f"downloading {remote.id}")  # type: ignore[no-any-return]

    def fetch(
        self, files: list[RemoteFile], on_file: Callable[[int, int, RemoteFile], None] | None = None
    ) -> FetchReport:
        """Download, archive (gzipped, as evidence) and ingest each file, advancing the cursor."""
        report = FetchReport(listed=len(files), files=files)
        for index, remote in enumerate(files, start=1):
            problem = remote.invalid_name()
            if problem:
                # Refused before any request or path is built from it; later files move the cursor on.
                report.refused.append(f"EventLogFile {inert(remote.id)!r}: {problem}")
                if on_file:
                    on_file(index, len(files), remote)
                continue
            body = self._download(remote)
            path = self._archive(remote, body)
            ingest = ingest_inputs(self.con, [LogInput(path)], default_org=self.profile.org_id)
            refused = [f for f in ingest.files if f.status == "refused"]
            if refused:
                what = f"{remote.id} ({remote.event_type} {remote.log_date})"
                raise FetchError(
                    self.redact(f"{what} was downloaded to {path} but refused: {refused[0].reason}")
                )
            report.events_added += ingest.rows_added
            report.downloaded += 1
            self.con.execute(
                load_query("fetch_advance_cursor"),
                {
                    "org_key": self.org_key,
                    "created": remote.created,
                    "log_file_id": remote.id,
                    "updated_at": datetime.now(UTC).replace(tzinfo=None),
                },
            )
            self.con.execute(
                load_query("fetch_record_file"),
                {
                    "org_key": self.org_key,
                    "log_file_id": remote.id,
                    "event_type": remote.event_type,
                    "log_date": remote.log_date,
                    "interval": remote.interval,
                    "sequence": remote.sequence,
                    "created": remote.created,
                    "length": remote.length,
                    "archive_path": str(path),
                },
            )
            if on_file:
                on_file(index, len(files), remote)
        report.api_usage = self.api_usage
        return report

    def _archive(self, remote: RemoteFile, body: bytes) -> Path:
        # The API's names were checked by RemoteFile.invalid_name; the org key comes from the
        # settings file and is made a plain name here.
        folder = self.archive / _safe(self.org_key) / remote.event_type
        path = folder / f"{remote.log_date[:10]}_{remote.interval}_{remote.sequence}_{remote.id}.csv.gz"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return write_atomic(path, gzip.compress(body, mtime=0))  # never a half-written file
        except OSError as exc:
            raise FetchError(describe_os_error(exc, path)) from None

    def _fields(self, obj: str) -> list[str]:
        """The wanted fields the org's describe of OBJ has (a relationship by its name)."""
        described = self._with_retries(lambda: getattr(self.sf, obj).describe(), f"describing {obj}")
        names = {f.get("name", "").lower() for f in described.get("fields", [])}
        relations = {(f.get("relationshipName") or "").lower() for f in described.get("fields", [])}
        return [
            f
            for f in ORG_CONTEXT_FIELDS[obj]
            if (f.split(".")[0].lower() in relations if "." in f else f.lower() in names)
        ]

    def org_context_cursor(self, obj: str) -> tuple[str, str] | None:
        """(time, Id) of the newest record of OBJ fetched for this org."""
        row = first_row(
            self.con.execute(load_query("org_context_cursor"), {"org_key": self.org_key, "object": obj})
        )
        return (row[0], row[1]) if row else None

    def fetch_org_context(self, since: str | None = None) -> list[OrgContextResult]:
        """Pull OauthToken and ConnectedApplication (a snapshot at the fetch time) and
        SetupAuditTrail and LoginHistory (from the cursor, else SINCE, else everything the org
        keeps) into the store."""
        taken_at = datetime.now(UTC).replace(tzinfo=None)
        org_id = store_org(self.con, self.profile.org_id)
        results = []
        for obj in ORG_CONTEXT_FIELDS:
            fields = self._fields(obj)
            if "Id" not in fields:
                results.append(
                    OrgContextResult(obj, "refused", obj, f"{obj} is not readable with this login")
                )
                continue
            cursor = self.org_context_cursor(obj)
            start = cursor[0] if cursor else (f"{since}T00:00:00Z" if since else None)
            query = org_context_soql(obj, fields, start)
            answer = self._with_retries(partial(self.sf.query_all, query), f"querying {obj}")
            records: list[dict[str, Any]] = answer["records"]
            self.api_usage = _usage(self.sf) or self.api_usage
            result = load_records(self.con, obj, records, f"fetch:{self.profile.name}", taken_at, org_id)
            results.append(result)
            time_field = INCREMENTAL_FIELD.get(obj)
            if result.status == "loaded" and time_field and records:
                newest = max(records, key=lambda r: (str(r.get(time_field) or ""), str(r.get("Id") or "")))
                literal = _soql_time(str(newest.get(time_field) or ""))
                if literal:  # a value that is not a time never becomes part of a query
                    self.con.execute(
                        load_query("org_context_advance_cursor"),
                        {
                            "org_key": self.org_key,
                            "object": obj,
                            "cursor_created": literal,
                            "cursor_id": str(newest.get("Id") or ""),
                            "updated_at": taken_at,
                        },
                    )
        return results

    def local_ids(self) -> set[str]:
        """EventLogFile ids already fetched for this org."""
        rows = self.con.execute(load_query("fetched_file_ids"), {"org_key": self.org_key}).fetchall()
        return {r[0] for r in rows}


# The fields `fetch --org-context` asks for, where the org's describe has them. Token values
# (AccessToken, RequestToken, DeleteToken) are never asked for.
ORG_CONTEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "OauthToken": (
        "Id",
        "AppName",
        "AppMenuItemId",
        "UserId",
        "User.Username",
        "User.Profile.Name",
        "CreatedDate",
        "LastUsedDate",
        "UseCount",
    ),
    "ConnectedApplication": (
        "Id",
        "Name",
        "CreatedDate",
        "LastModifiedDate",
        "OptionsAllowAdminApprovedUsersOnly",
        "RefreshTokenValidityPeriod",
        "MobileSessionTimeout",
    ),
    SETUP_AUDIT_TRAIL: (
        "Id",
        "CreatedDate",
        "CreatedBy.Username",
        "Action",
        "Section",
        "Display",
        "DelegateUser",
        "ResponsibleNamespacePrefix",
    ),
    LOGIN_HISTORY: (
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
        "LoginUrl",
    ),
}
# Append-only objects fetched incrementally: the time field their cursor follows.
INCREMENTAL_FIELD = {LOGIN_HISTORY: "LoginTime", SETUP_AUDIT_TRAIL: "CreatedDate"}
NEVER_FETCHED = frozenset({"accesstoken", "requesttoken", "deletetoken"})


def org_context_soql(obj: str, fields: list[str], since: str | None) -> str:
    """The query of one org-context object: incremental objects from SINCE (an ISO UTC time,
    already checked), oldest first; snapshots whole."""
    assert not {f.lower() for f in fields} & NEVER_FETCHED
    query = f"SELECT {', '.join(fields)} FROM {obj}"
    time_field = INCREMENTAL_FIELD.get(obj)
    if time_field:
        if since:
            query += f" WHERE {time_field} >= {since}"
        query += f" ORDER BY {time_field} ASC, Id ASC"
    return query


def _soql_time(value: str) -> str | None:
    """An API timestamp as a SOQL literal (whole seconds, UTC), or None when it is not one."""
    try:
        return parse_when(value).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None


class _Retry(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _usage(sf: Salesforce) -> str:
    usage = getattr(sf, "api_usage", None) or {}
    total = usage.get("api-usage")
    return f"api-usage={total.used}/{total.total}" if total is not None and hasattr(total, "used") else ""


_NAME = re.compile(r"[A-Za-z0-9_]+")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CREATED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})")
_WHOLE = re.compile(r"\d{1,18}")


def _safe(value: str) -> str:
    """A plain folder name (no dots: `..` cannot climb out of the archive)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", value) or "_"
