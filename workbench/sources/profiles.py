"""Which Salesforce org to fetch from: a `[salesforce.NAME]` profile of workbench.toml, or an
access token on an instance URL, read into a `Profile` (secrets stay in the environment).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from workbench.config import Settings
from workbench.sources.salesforce import Profile
from workbench.times import days_before

# The keys a [salesforce.NAME] table may hold besides `*_env` (the variables secrets come from).
PROFILE_KEYS = frozenset(
    {
        "auth",
        "instance_url",
        "domain",
        "username",
        "consumer_key",
        "private_key_file",
        "org_id",
        "api_version",
    }
)
# How far back a first fetch reaches when no --since is given.
FIRST_FETCH_DAYS = 30


class ProfileError(ValueError):
    """No usable connection profile; the message says what to pass or fix."""


def resolve_profile(settings: Settings, org: str | None, instance_url: str | None) -> Profile:
    """The profile to fetch with: a token on INSTANCE_URL, else the named (or first) profile."""
    if instance_url:
        return Profile(name=org or "token", auth="token", instance_url=instance_url)
    if not settings.salesforce:
        raise ProfileError(
            "no Salesforce connection: pass --instance-url (token in SF_ACCESS_TOKEN) or add a "
            "[salesforce.NAME] profile to workbench.toml"
        )
    name = org or next(iter(settings.salesforce))
    if name not in settings.salesforce:
        raise ProfileError(
            f"no [salesforce.{name}] profile in workbench.toml; profiles: {', '.join(settings.salesforce)}"
        )
    raw = dict(settings.salesforce[name])
    secret_env = {k.removesuffix("_env"): str(raw.pop(k)) for k in list(raw) if k.endswith("_env")}
    unknown = sorted(set(raw) - PROFILE_KEYS)
    if unknown:
        raise ProfileError(f"[salesforce.{name}]: unknown key(s) {', '.join(unknown)}")
    return Profile(name=name, secret_env=secret_env, **raw)


def first_log_day(since: str | None, cursor: object, today: date | None = None) -> str | None:
    """The first log day to list: --since, else after the last fetch (None: the fetcher's cursor
    decides), else FIRST_FETCH_DAYS ago."""
    if since or cursor:
        return since
    return days_before(FIRST_FETCH_DAYS, today).isoformat()


def archive_dir(db_path: Path) -> Path:
    """Where fetched logs are kept, gzipped, as evidence: `<db stem>-archive` beside the store."""
    return db_path.with_name(db_path.stem + "-archive")
