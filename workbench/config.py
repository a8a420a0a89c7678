"""Settings (workbench.toml) and the integration catalog (integrations.toml).

workbench.toml is optional. Each detector declares its typed parameters and their defaults in
its family module (workbench/detect/); override them per detector:

    [detect.volume_spike]
    min_calls = 200
    [detect]
    sensitive_objects = ["User", "Case", "Invoice__c"]
    integrations = "integrations.toml"
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = Path("workbench.toml")

# Objects whose first touch by an integration matters more: identities, support data, files.
DEFAULT_SENSITIVE_OBJECTS = (
    "User",
    "Case",
    "CaseComment",
    "EmailMessage",
    "ContentVersion",
    "ContentDocument",
    "Attachment",
    "Document",
    "Note",
    "Contact",
    "Lead",
    "Opportunity",
    "PermissionSet",
    "PermissionSetAssignment",
    "Profile",
    "LoginHistory",
    "AuthSession",
    "SetupAuditTrail",
)

# Client strings of known attacker tooling (2025 Drift and Gainsight incidents), with how much
# one sighting weighs. Versions are exact: generic libraries at other versions are normal traffic.
DEFAULT_SUSPICIOUS_CLIENTS: dict[str, int] = {
    "Salesforce-Multi-Org-Fetcher/1.0": 90,
    "Salesforce-CLI/1.0": 70,
    "python-requests/2.32.4": 55,
    "Python/3.11 aiohttp/3.12.15": 60,
    "Python/3.11 aiohttp/3.13.1": 60,
}


SECRET_KEYS = ("password", "security_token", "consumer_secret", "access_token", "private_key")


class ConfigError(Exception):
    """A settings or catalog file that cannot be used; the message says where and why."""


@dataclass
class CatalogEntry:
    """What an integration is declared to do ("a user with a job description")."""

    name: str
    connected_app_id: str | None = None
    user: str | None = None  # integration user id or user name
    owner: str = ""
    purpose: str = ""
    expected_hours: tuple[int, int] | None = None  # UTC, [start, end) in whole hours
    expected_weekdays: tuple[int, ...] | None = None  # 0 = Monday
    egress_cidrs: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    allowed_objects: tuple[str, ...] | None = None
    expected_daily_calls: int | None = None
    bursty_days: tuple[str | int, ...] = ()  # "month_end" or a day of month

    def matches(self, connected_app_id: str | None, user_id: str | None, user_name: str | None) -> bool:
        """Whether this entry describes the given app or user (ids compare on 15 characters)."""
        if self.connected_app_id and connected_app_id:
            return self.connected_app_id[:15] == connected_app_id[:15]
        if self.user:
            return self.user[:15] == (user_id or "")[:15] or self.user == user_name
        return False

    def hours_text(self) -> str:
        """The declared window as text, e.g. '02:00-04:00 UTC'."""
        if not self.expected_hours:
            return ""
        start, end = self.expected_hours
        return f"{start:02d}:00-{end:02d}:00 UTC"

    def in_hours(self, hour: int) -> bool:
        """Whether an hour of day (UTC) is inside the declared window (which may wrap midnight)."""
        if not self.expected_hours:
            return True
        start, end = self.expected_hours
        return start <= hour < end if start < end else hour >= start or hour < end

    def egress_allows(self, ip: str) -> bool | None:
        """True/False when egress CIDRs are declared and IP is an address; None otherwise."""
        if not self.egress_cidrs:
            return None
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        return any(address in net for net in self.egress_cidrs if net.version == address.version)


@dataclass
class EnrichConfig:
    """Where the sources are (all optional) and the enterprise egress allowlist."""

    city: Path | None = None
    asn: Path | None = None
    anon: Path | None = None
    tor_exits: Path | None = None
    networks: Path | None = None
    egress_cidrs: tuple[str, ...] = ()

    def configured(self) -> bool:
        """Whether any source is set."""
        return any((self.city, self.asn, self.anon, self.tor_exits, self.networks, self.egress_cidrs))


@dataclass
class SmtpSettings:
    """Where email alerts go out; the password comes from an environment variable, never the file."""

    host: str = "localhost"
    port: int = 25
    sender: str = "workbench@localhost"
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None


@dataclass
class Settings:
    """Everything configurable, with the defaults filled in."""

    # Per-detector overrides from [detect.NAME]; each detector declares its typed parameters and
    # their defaults, and the registry checks these names and values against them.
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    sensitive_objects: tuple[str, ...] = DEFAULT_SENSITIVE_OBJECTS
    sensitive_custom_objects: bool = False  # treat every custom object (__c) as sensitive
    suspicious_clients: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SUSPICIOUS_CLIENTS))
    catalog: list[CatalogEntry] = field(default_factory=list)
    catalog_path: Path | None = None
    enrich: EnrichConfig = field(default_factory=lambda: EnrichConfig())
    smtp: SmtpSettings = field(default_factory=lambda: SmtpSettings())
    salesforce: dict[str, dict[str, Any]] = field(default_factory=dict)  # connection profiles by name

    def detector(self, name: str) -> dict[str, Any]:
        """The overrides of one detector's parameters."""
        return self.detectors.get(name, {})

    def is_sensitive(self, entity: str | None) -> bool:
        """Whether touching this object deserves more attention."""
        if not entity:
            return False
        if entity in self.sensitive_objects:
            return True
        return self.sensitive_custom_objects and entity.endswith("__c")

    def catalog_for(
        self, connected_app_id: str | None, user_id: str | None = None, user_name: str | None = None
    ) -> CatalogEntry | None:
        """The declared entry for an app or user, if any."""
        return next((e for e in self.catalog if e.matches(connected_app_id, user_id, user_name)), None)


_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _hours(value: str, where: str) -> tuple[int, int]:
    try:
        start, end = (part.strip() for part in value.split("-"))
        start_hour, end_hour = int(start.split(":")[0]), int(end.split(":")[0])
    except ValueError:
        raise ConfigError(f"{where}: expected_hours {value!r} is not like '02:00-04:00'") from None
    if not (0 <= start_hour <= 23 and 0 <= end_hour <= 24):
        raise ConfigError(f"{where}: expected_hours {value!r} is outside 00:00-24:00")
    return start_hour, end_hour % 24 if end_hour != 24 else 24


def load_catalog(path: Path) -> list[CatalogEntry]:
    """Parse integrations.toml: a list of [[integration]] tables."""
    data = _read_toml(path)
    entries = []
    for index, raw in enumerate(data.get("integration", []), start=1):
        where = f"{path}: integration #{index}"
        if not isinstance(raw, dict) or not raw.get("name"):
            raise ConfigError(f"{where}: needs a name")
        if not raw.get("connected_app_id") and not raw.get("user"):
            raise ConfigError(f"{where} ({raw['name']}): needs connected_app_id or user")
        try:
            cidrs = tuple(ipaddress.ip_network(c, strict=False) for c in raw.get("egress_cidrs", []))
        except ValueError as exc:
            raise ConfigError(f"{where}: egress_cidrs: {exc}") from None
        weekdays = raw.get("expected_weekdays")
        try:
            days = tuple(_WEEKDAYS[d.lower()[:3]] for d in weekdays) if weekdays else None
        except (KeyError, AttributeError):
            raise ConfigError(f"{where}: expected_weekdays must be names like 'Mon'") from None
        entries.append(
            CatalogEntry(
                name=str(raw["name"]),
                connected_app_id=raw.get("connected_app_id"),
                user=raw.get("user"),
                owner=str(raw.get("owner", "")),
                purpose=str(raw.get("purpose", "")),
                expected_hours=_hours(raw["expected_hours"], where) if raw.get("expected_hours") else None,
                expected_weekdays=days,
                egress_cidrs=cidrs,
                allowed_objects=tuple(raw["allowed_objects"]) if "allowed_objects" in raw else None,
                expected_daily_calls=raw.get("expected_daily_calls"),
                bursty_days=tuple(raw.get("bursty_days", ())),
            )
        )
    return entries


def load_settings(path: Path | None = None) -> Settings:
    """Settings from --config, $WORKBENCH_CONFIG or ./workbench.toml (all optional)."""
    settings = Settings()
    explicit = path or (Path(os.environ["WORKBENCH_CONFIG"]) if os.environ.get("WORKBENCH_CONFIG") else None)
    config_path = explicit or DEFAULT_CONFIG
    if explicit and not config_path.exists():
        raise ConfigError(f"{config_path}: no such settings file")
    data = _read_toml(config_path) if config_path.exists() else {}
    detect = data.get("detect", {})
    for name, values in detect.items():
        if isinstance(values, dict) and name != "suspicious_clients":
            settings.detectors[name] = dict(values)
    if "sensitive_objects" in detect:
        settings.sensitive_objects = tuple(detect["sensitive_objects"])
    settings.sensitive_custom_objects = bool(detect.get("sensitive_custom_objects", False))
    for client, weight in detect.get("suspicious_clients", {}).items():
        settings.suspicious_clients[str(client)] = int(weight)
    enrich = data.get("enrich", {})
    for slot in ("city", "asn", "anon", "tor_exits", "networks"):
        if enrich.get(slot):
            path = Path(enrich[slot])
            setattr(settings.enrich, slot, path if path.is_absolute() else config_path.parent / path)
    settings.enrich.egress_cidrs = tuple(str(c) for c in enrich.get("egress_cidrs", ()))
    smtp = data.get("notify", {}).get("smtp", {})
    try:
        settings.smtp = SmtpSettings(
            host=str(smtp.get("host", "localhost")),
            port=int(smtp.get("port", 25)),
            sender=str(smtp.get("from", "workbench@localhost")),
            starttls=bool(smtp.get("starttls", False)),
            username=smtp.get("username"),
            password_env=smtp.get("password_env"),
        )
    except (TypeError, ValueError):
        raise ConfigError(f"{config_path}: [notify.smtp] port must be a number") from None
    for name, profile in data.get("salesforce", {}).items():
        if not isinstance(profile, dict):
            raise ConfigError(f"{config_path}: [salesforce.{name}] must be a table")
        clear = sorted(k for k in profile if k in SECRET_KEYS)
        if clear:
            raise ConfigError(
                f"{config_path}: [salesforce.{name}] holds {', '.join(clear)} in clear; secrets come from "
                f'the environment: use {", ".join(k + "_env" for k in clear)} = "VARIABLE" instead'
            )
        settings.salesforce[name] = profile
    catalog = detect.get("integrations") or data.get("integrations")
    if catalog:
        catalog_path = Path(catalog)
        if not catalog_path.is_absolute():
            catalog_path = config_path.parent / catalog_path
        settings.catalog_path = catalog_path
        settings.catalog = load_catalog(catalog_path)
    return settings
