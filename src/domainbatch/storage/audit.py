"""Independent reads for checking the store (the validation scripts' evidence): counts taken
from the domain rows themselves rather than the sharded counters, and what is left of a
deleted batch."""

from __future__ import annotations

from sqlalchemy import func, select

from domainbatch.core.status import DomainStatus
from domainbatch.storage.database import Database
from domainbatch.storage.tables import (
    batch_counts,
    batch_domains,
    batches,
    epoch_now,
    webhook_deliveries,
)


async def recount(db: Database, batch_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by status and failures by code, counted from the domain rows: the truth the
    status read (sharded counters) must agree with."""
    counts: dict[str, int] = {}
    errors: dict[str, int] = {}
    async with db.connect() as conn:
        rows = await conn.execute(
            select(batch_domains.c.status, batch_domains.c.error_code, func.count())
            .where(batch_domains.c.batch_id == batch_id)
            .group_by(batch_domains.c.status, batch_domains.c.error_code)
        )
        for status, code, n in rows:
            counts[status] = counts.get(status, 0) + int(n)
            if status == DomainStatus.FAILED:
                errors[str(code)] = errors.get(str(code), 0) + int(n)
    return counts, errors


async def rows_left(db: Database, batch_id: str) -> int:
    """Rows of any table still recorded for ``batch_id``."""
    left = 0
    async with db.connect() as conn:
        query = select(func.count()).select_from(batches).where(batches.c.id == batch_id)
        left += int(await conn.scalar(query) or 0)
        for table in (batch_domains, batch_counts, webhook_deliveries):
            query = select(func.count()).select_from(table).where(table.c.batch_id == batch_id)
            left += int(await conn.scalar(query) or 0)
    return left


async def empty_batches_since(db: Database, since: float) -> int:
    """Batches with no domain row created at or after ``since`` (database clock)."""
    async with db.connect() as conn:
        query = (
            select(func.count())
            .select_from(batches)
            .where(batches.c.created_at >= since, batches.c.total == 0)
        )
        return int(await conn.scalar(query) or 0)


async def clock(db: Database) -> float:
    """The database's clock in epoch seconds (the one every stored time comes from)."""
    async with db.connect() as conn:
        return float(await conn.scalar(select(epoch_now())) or 0.0)
