"""The operator's view of the deployment: API keys, the schema, a connectivity check, and the
fleet-wide figures behind ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from domainbatch.storage import fleet, migrate, tenants
from domainbatch.storage.database import Database
from domainbatch.storage.fleet import FleetGauges
from domainbatch.storage.tenants import IssuedKey, Tenant
from domainbatch.storage.tenants import digest as key_digest

__all__ = ["FleetGauges", "IssuedKey", "System", "Tenant", "key_digest"]


class System:
    def __init__(self, db: Database) -> None:
        self.db = db

    # API keys -----------------------------------------------------------------------------------
    async def create_key(self, tenant: str) -> IssuedKey:
        """A new key for ``tenant`` (created on first use); the key itself is never stored."""
        return await tenants.create_key(self.db, tenant)

    async def list_keys(self, tenant: str | None = None) -> list[dict[str, Any]]:
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

    async def check(self) -> dict[str, Any]:
        """Connect, run a query, report the server, pooler mode, schema and leftover
        connections."""
        db = self.db
        async with db.session() as session:
            one = await session.scalar(text("SELECT 1"))
            if db.is_sqlite:
                version = await session.scalar(text("SELECT 'SQLite ' || sqlite_version()"))
            else:
                version = await session.scalar(text("SELECT version()"))
        revision = await migrate.current_revision(db)
        return {
            "ok": one == 1 and db.checked_out() == 0,
            "database": db.url.render_as_string(hide_password=True),
            "server_version": version,
            "pooler_mode": db.pooler_mode,
            "schema_revision": revision,
            "schema_head": migrate.head_revision(),
            "checked_out_connections": db.checked_out(),
        }

    async def ready(self) -> None:
        await fleet.ready(self.db)

    async def gauges(self) -> FleetGauges:
        return await fleet.gauges(self.db)
