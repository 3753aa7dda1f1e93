"""Settings for ``ironkeep serve``: command-line flags first, then ``IRONKEEP_*`` variables, then defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8777
DEFAULT_DATA_DIR = "./ironkeep-data"
DEFAULT_REGION = "us-east-1"
MAX_WORKERS = 64


class ConfigError(ValueError):
    """A setting that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    data_dir: Path
    database_url: str
    account_id: str | None
    root_access_key_id: str | None
    root_secret_access_key: str | None
    master_key: str | None
    database_schema: str | None
    log_level: str
    audit: bool = True
    workload_credential_seconds: int = 3600
    audit_retention_days: int = 90
    workers: int = 1

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _pick(flag: Any, env: Mapping[str, str], name: str, default: Any = None) -> Any:
    if flag is not None:
        return flag
    value = env.get(f"IRONKEEP_{name}")
    return value if value not in (None, "") else default


def _retention(env: Mapping[str, str]) -> int:
    from ironkeep.services.audit_retention import RetentionSettingError, retention_days

    try:
        return retention_days(env)
    except RetentionSettingError as error:
        raise ConfigError(str(error)) from None


def _seconds(value: Any) -> int:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"IRONKEEP_WORKLOAD_CREDENTIAL_SECONDS must be a number, not {value!r}") from None
    if not 900 <= seconds <= 43200:
        raise ConfigError("IRONKEEP_WORKLOAD_CREDENTIAL_SECONDS must be between 900 and 43200")
    return seconds


def _workers(value: Any, database_url: str) -> int:
    try:
        workers = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"workers must be a number, not {value!r}") from None
    if not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"workers must be between 1 and {MAX_WORKERS}, not {workers}")
    if (
        workers > 1
        and database_url.startswith("sqlite")
        and ("memory" in database_url or database_url.rstrip("/") == "sqlite:")
    ):
        raise ConfigError("an in-memory SQLite database cannot be shared by several workers")
    return workers


def load_settings(args: Any = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from parsed CLI ``args`` (attributes may be missing or None) and ``env``."""
    env = os.environ if env is None else env

    def flag(name: str) -> Any:
        return getattr(args, name, None) if args is not None else None

    host = _pick(flag("host"), env, "HOST", DEFAULT_HOST)
    port_raw = _pick(flag("port"), env, "PORT", DEFAULT_PORT)
    try:
        port = int(port_raw)
    except (TypeError, ValueError):
        raise ConfigError(f"port must be a number, not {port_raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be between 0 and 65535, not {port}")
    data_dir = Path(_pick(flag("data_dir"), env, "DATA_DIR", DEFAULT_DATA_DIR)).expanduser().resolve()
    database_url = _pick(flag("database_url"), env, "DATABASE_URL", None)
    if database_url is None:
        database_url = f"sqlite:///{data_dir / 'ironkeep.db'}"
    account_id = _pick(flag("account_id"), env, "ACCOUNT_ID", None)
    if account_id is not None and not re.fullmatch(r"\d{12}", str(account_id)):
        raise ConfigError(f"account id must be 12 digits, not {account_id!r}")
    key_id = _pick(None, env, "ROOT_ACCESS_KEY_ID", None)
    secret = _pick(None, env, "ROOT_SECRET_ACCESS_KEY", None)
    if (key_id is None) != (secret is None):
        raise ConfigError(
            "set both IRONKEEP_ROOT_ACCESS_KEY_ID and IRONKEEP_ROOT_SECRET_ACCESS_KEY, or neither"
        )
    return Settings(
        host=str(host),
        port=port,
        data_dir=data_dir,
        database_url=str(database_url),
        account_id=str(account_id) if account_id is not None else None,
        root_access_key_id=key_id,
        root_secret_access_key=secret,
        master_key=_pick(None, env, "MASTER_KEY", None),
        database_schema=_pick(None, env, "DATABASE_SCHEMA", None),
        log_level=str(_pick(None, env, "LOG_LEVEL", "info")),
        audit=str(_pick(None, env, "AUDIT", "on")).lower() not in ("off", "false", "0", "no"),
        audit_retention_days=_retention(env),
        workload_credential_seconds=_seconds(_pick(None, env, "WORKLOAD_CREDENTIAL_SECONDS", 3600)),
        workers=_workers(_pick(flag("workers"), env, "WORKERS", 1), str(database_url)),
    )
