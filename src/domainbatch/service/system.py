"""The operator's view of the deployment: API keys, the schema, a connectivity check, and the
fleet-wide figures behind ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text

from domainbatch.core.models import DatabaseCheck, KeyRecord, WorkerRecord
from domainbatch.settings import Settings
from domainbatch.storage import audit, fleet, migrate, pooler, tenants
from domainbatch.storage.database import Database, detect_pooler_mode, normalize_url
from domainbatch.storage.fleet import FleetGauges
from domainbatch.storage.tenants import IssuedKey, Tenant
from domainbatch.storage.tenants import digest as key_digest

__all__ = ["FleetGauges", "IssuedKey", "System", "Tenant", "describe_database", "key_digest"]


def describe_database(settings: Settings) -> dict[str, str | None]:
    """The configured database, without connecting: its URL (password hidden), backend,
    pooler mode, and for SQLite the file's path (None in memory)."""
    url = normalize_url(settings.database_url.get_secret_value())
    backend = url.get_backend_name()
    in_file = backend == "sqlite" and url.database not in (None, "", ":memory:")
    return {
        "database_url": url.render_as_string(hide_password=True),
        "database": backend,
        "pooler_mode": detect_pooler_mode(url, settings.pooler_mode),
        "sqlite_file": url.database if in_file else None,
    }


class System:
    def __init__(self, db: Database) -> None:
        self.db = db

    # API keys -----------------------------------------------------------------------------------
    async def create_key(self, tenant: str) -> IssuedKey:
        """A new key for ``tenant`` (created on first use); the key itself is never stored."""
        return await tenants.create_key(self.db, tenant)

    async def list_keys(self, tenant: str | None = None) -> list[KeyRecord]:
        return await tenants.list_keys(self.db, tenant)

    async def revoke_key(self, key_id_or_prefix: str) -> str:
        return await tenants.revoke_key(self.db, key_id_or_prefix)

    async def authenticate(self, key: str) -> Tenant:
        """The key's tenant; ``AuthenticationError`` for an unknown or revoked key."""
        return await tenants.authenticate(self.db, key)

    # Schema and health --------------------------------------------------------------------------
    async def upgrade(self) -> str | None:
        """Apply every pending migration; returns the revision."""
        return await migrate.upgrade(self.db)

    async def check(self) -> DatabaseCheck:
        """Connect, run a query, report the server, the pooler and its mode, the schema and
        leftover connections; ``ok`` means usable by this domainbatch as it is (``problem``
        says why not). A missing SQLite file is reported, not created."""
        db = self.db
        url = db.url
        location = db.sqlite_path or f"{url.host}:{url.port or 5432}/{url.database}"
        head = migrate.head_revision()
        report = DatabaseCheck(
            ok=False,
            database=url.render_as_string(hide_password=True),
            server_version=None,
            pooler_mode=db.pooler_mode,
            schema_revision=None,
            schema_head=head,
            checked_out_connections=0,
            location=location,
        )
        if db.missing_file() is not None:
            return replace(report, problem=f"no database at {location}")
        async with db.session() as session:
            one = await session.scalar(text("SELECT 1"))
            if db.is_sqlite:
                version = await session.scalar(text("SELECT 'SQLite ' || sqlite_version()"))
            else:
                version = await session.scalar(text("SELECT version()"))
        revision = await migrate.current_revision(db)
        found = await pooler.detect(db)
        mode = db.pooler_mode
        if found is not None and db.settings.pooler_mode == "auto":
            mode = found.mode or "transaction"  # unknown: the strictest is the safe guess
        problem = None
        if one != 1:
            problem = "SELECT 1 did not answer 1"
        elif db.checked_out():
            problem = f"{db.checked_out()} connections left checked out"
        elif revision != head:
            problem = (
                f"schema at revision {revision or 'none'}, this domainbatch needs {head}: "
                "run `domainbatch db upgrade`"
            )
        return replace(
            report,
            ok=problem is None,
            server_version=version,
            pooler_mode=mode,
            schema_revision=revision,
            checked_out_connections=db.checked_out(),
            pooler=found.name if found else None,
            problem=problem,
        )

    async def schema(self) -> tuple[str | None, str | None]:
        """The database's schema revision, and the one this domainbatch needs."""
        return await migrate.current_revision(self.db), migrate.head_revision()

    # Evidence for the validation scripts ---------------------------------------------------------
    async def recount(self, batch_id: str) -> tuple[dict[str, int], dict[str, int]]:
        """A batch's counts by status and failures by code, from its domain rows."""
        return await audit.recount(self.db, batch_id)

    async def rows_left(self, batch_id: str) -> int:
        """Rows still recorded for a batch (0 once it is deleted)."""
        return await audit.rows_left(self.db, batch_id)

    async def empty_batches_since(self, since: float) -> int:
        return await audit.empty_batches_since(self.db, since)

    async def clock(self) -> float:
        """The database's clock (epoch seconds)."""
        return await audit.clock(self.db)

    async def ready(self) -> None:
        await fleet.ready(self.db)

    async def gauges(self) -> FleetGauges:
        return await fleet.gauges(self.db)

    async def workers(self) -> list[WorkerRecord]:
        """The live workers, each with its concurrency level and domains in flight."""
        return await fleet.live_workers(self.db)
