"""One settings object: ``DOMAINBATCH_`` environment variables; CLI flags override them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domainbatch.core.identity import default_user_agent

PoolerMode = Literal["auto", "direct", "session", "transaction"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]


def default_sqlite_path() -> Path:
    """The embedded database's default file: the platform's user data folder
    (``$XDG_DATA_HOME/domainbatch/domainbatch.db``, by default under ``~/.local/share`` on
    Linux), never the current directory."""
    from platformdirs import user_data_path

    return user_data_path("domainbatch", appauthor=False) / "domainbatch.db"


def default_database_url() -> SecretStr:
    return SecretStr(f"sqlite+aiosqlite:///{default_sqlite_path()}")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container's cpuset
    narrows), else every core of the machine."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return os.cpu_count() or 1


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOMAINBATCH_", extra="ignore")

    # Storage. A secret (it may hold a password): repr, logs and errors show it masked.
    database_url: SecretStr = Field(default_factory=default_database_url)
    pooler_mode: PoolerMode = "auto"
    db_pool_size: int = Field(5, ge=1)
    db_max_overflow: int = Field(5, ge=0)
    db_application_name: str = "domainbatch"

    # Batch creation
    max_entries: int = Field(10_000_000, ge=1)
    max_request_bytes: int = Field(512 * 1024 * 1024, ge=1)
    strip_www: bool = False
    extra_suffixes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    insert_chunk_size: int = Field(5_000, ge=1)
    default_processor: str = "homepage"

    # Queue and workers
    # Domains in flight per worker. None: adaptive, between MIN_ and MAX_CONCURRENCY as the
    # machine's headroom allows (engine/concurrency.py); a number pins it.
    concurrency: int | None = Field(None, ge=1)
    min_concurrency: int = Field(16, ge=1)
    max_concurrency: int = Field(1000, ge=1)
    claim_size: int = Field(64, ge=1)
    lease_seconds: float = Field(60.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    # Attempts at a domain whose failure was a timeout (errors.TIMEOUT_CODES), within
    # max_attempts: on a simulated internet of 5,000 hosts, the 3% that hang took ~42% of the
    # slot-time with 3 attempts of TOTAL_TIMEOUT each, and set the batch's last minute.
    timeout_max_attempts: int = Field(2, ge=1)
    retry_base_seconds: float = Field(2.0, ge=0)
    # About two domain budgets (TOTAL_TIMEOUT, 15 s): a retry waits no longer than a slow
    # domain takes, so a batch's tail stays within a few budgets of its slowest domain (300 s
    # made a retry wait longer than the rest of a 5,000-domain batch took).
    retry_max_seconds: float = Field(30.0, ge=0)
    poll_min_seconds: float = Field(0.05, gt=0)
    poll_max_seconds: float = Field(2.0, gt=0)
    ack_interval_seconds: float = Field(0.2, gt=0)
    ack_batch_size: int = Field(200, ge=1)
    task_timeout: float = Field(120.0, gt=0)
    shutdown_grace_seconds: float = Field(30.0, ge=0)
    # Fetching processes of `worker` and `run`, each its own claimer; unset = one per core.
    worker_processes: int | None = Field(None, ge=1)

    # Webhooks (posted by workers from the outbox)
    webhook_timeout: float = Field(10.0, gt=0)
    webhook_max_attempts: int = Field(10, ge=1)
    webhook_retry_base_seconds: float = Field(5.0, ge=0)
    webhook_retry_max_seconds: float = Field(3600.0, ge=0)
    webhook_lease_seconds: float = Field(60.0, gt=0)

    # Logs. No level: the command's own default (info for worker and serve, warning for run).
    log_level: LogLevel | None = None
    log_format: LogFormat = "text"
    # Seconds between a worker's throughput lines; 0: none.
    log_interval_seconds: float = Field(60.0, ge=0)

    # API
    events_interval_seconds: float = Field(1.0, gt=0)

    # DNS
    nameservers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dns_timeout: float = Field(5.0, gt=0)
    resolve_overrides: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # HTTP
    allow_private_addresses: bool = False
    http_port: int = Field(80, ge=1, le=65535)
    https_port: int = Field(443, ge=1, le=65535)
    connect_timeout: float = Field(5.0, gt=0)
    total_timeout: float = Field(15.0, gt=0)
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1)
    max_header_bytes: int = Field(64 * 1024, ge=1024)
    max_redirects: int = Field(10, ge=0)
    # None: domainbatch/<version> (+<homepage>; <contact>), see http_user_agent().
    user_agent: str | None = Field(None, min_length=1, max_length=512, pattern=r"^[^\x00-\x1f]*$")
    contact: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f()]*$")
    default_region: str = "US"
    # Open sockets per worker. None: the in-flight bound (see connection_limit()).
    http_connection_limit: int | None = Field(None, ge=1)
    # Per (host name, port, scheme), as aiohttp keys its pool; 0: no per-host limit.
    http_limit_per_host: int = Field(4, ge=0)
    # Extraction processes per worker: unset = one per core; 0 = a thread in the worker.
    extract_processes: int | None = Field(None, ge=0)
    # A Wappalyzer-format fingerprint database (directory or JSON file) brought by the user,
    # extending our technology table or replacing it.
    fingerprints: Path | None = None
    fingerprints_mode: Literal["extend", "replace"] = "extend"

    @field_validator("extra_suffixes", "nameservers", mode="before")
    @classmethod
    def _parse_list(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("extra_suffixes")
    @classmethod
    def _normalize_suffixes(cls, value: list[str]) -> list[str]:
        return [s.strip(".").lower() for s in value if s.strip(".")]

    @field_validator("user_agent", "contact", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("resolve_overrides", mode="before")
    @classmethod
    def _parse_overrides(cls, value: Any) -> Any:
        # Accept JSON ({"*.test": "127.0.0.1"}) or curl-like "pattern=addr,pattern=addr".
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return {}
            if text.startswith("{"):
                return json.loads(text)
            pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
            return {k.strip(): v.strip() for k, v in pairs}
        return value

    @model_validator(mode="after")
    def _ordered_bounds(self) -> Settings:
        if self.min_concurrency > self.max_concurrency:
            raise ValueError(
                f"min_concurrency ({self.min_concurrency}) is above "
                f"max_concurrency ({self.max_concurrency})"
            )
        return self

    def concurrency_ceiling(self) -> int:
        """The most domains a worker may hold in flight: the pinned level, else the adaptive
        ceiling."""
        return self.concurrency if self.concurrency is not None else self.max_concurrency

    def connection_limit(self) -> int:
        """Open sockets per worker: ``HTTP_CONNECTION_LIMIT``, else the in-flight bound. An
        in-flight domain holds at most one connection (fetching/slots.py), so following that
        bound never queues a domain behind our own pool."""
        return self.http_connection_limit or self.concurrency_ceiling()

    def http_user_agent(self) -> str:
        """The User-Agent sent: ``USER_AGENT`` as set, else built with ``CONTACT``."""
        return self.user_agent or default_user_agent(self.contact)

    def worker_process_count(self) -> int:
        """``worker_processes``, else one per usable core."""
        return self.worker_processes or usable_cores()

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with CLI flags applied; ``None`` means "flag not given". An unknown name is a
        ``TypeError``: the model ignores extra keys, so a misspelled one would vanish."""
        unknown = overrides.keys() - type(self).model_fields.keys()
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_validate({**self.model_dump(), **given}) if given else self
