"""The read side of batches (status, and every domain in order for exports) and their
deletion. Creation lives in ``creation.py``; queue transitions in ``claims.py``, ``acks.py``
and ``control.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.models import BatchRecord, BatchReport, DomainRecord
from domainbatch.core.status import BatchStatus, DomainStatus, Progress
from domainbatch.errors import NotFoundError
from domainbatch.storage.database import Database
from domainbatch.storage.tables import (
    PG_EPOCH_NOW,
    batch_counts,
    batch_domains,
    batches,
    epoch_now,
    webhook_deliveries,
)


async def get_batch_row(
    conn: AsyncConnection, batch_id: str, *, tenant_id: str | None = None
) -> Row[Any]:
    """The batch row; ``tenant_id`` set means: only if that tenant owns it (else not found,
    so another tenant's batch is indistinguishable from one that does not exist)."""
    query = select(batches).where(batches.c.id == batch_id)
    if tenant_id is not None:
        query = query.where(batches.c.tenant_id == tenant_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFoundError(f"no batch {batch_id}")
    return row


async def delete_batch(db: Database, batch_id: str, *, tenant_id: str | None = None) -> int:
    """Remove a batch and everything recorded for it (domains, counters, webhook outbox) in
    one transaction; returns how many domain rows went. ``NotFoundError`` if there is none.

    Any status may be deleted: a worker still holding some of its domains finds that its
    acknowledgements match no row any more, so nothing is written back for the batch.
    """
    async with db.transaction() as conn:
        await get_batch_row(conn, batch_id, tenant_id=tenant_id)
        # Children first and explicitly, rather than trusting ON DELETE CASCADE: SQLite only
        # cascades on connections that enabled foreign keys.
        for child in (webhook_deliveries, batch_counts):
            await conn.execute(delete(child).where(child.c.batch_id == batch_id))
        removed = await conn.execute(
            delete(batch_domains).where(batch_domains.c.batch_id == batch_id)
        )
        await conn.execute(delete(batches).where(batches.c.id == batch_id))
    return int(removed.rowcount)


async def batch_status(db: Database, batch_id: str, *, tenant_id: str | None = None) -> BatchReport:
    """The batch with counts by domain status, errors by code, progress, rate and ETA."""
    if not db.is_sqlite:
        row, counts, errors, now = await _status_postgres(db, batch_id, tenant_id)
    else:
        row, counts, errors, now = await _status_sqlite(db, batch_id, tenant_id)
    progress = Progress(
        total=row.total,
        counts=counts,
        errors=errors,
        started_at=row.started_at,
        finished_at=row.finished_at,
        now=now,
    )
    return BatchReport.of(batch_record(row), progress)


# The batch row, the database clock and the summed counters in one statement, one round trip
# in autocommit: status is polled (progress bars, SSE, dashboards) while workers load the
# machine, and every round trip then waits for a CPU.
_PG_STATUS = f"""
SELECT b.*, {PG_EPOCH_NOW} AS now_,
       c.status AS c_status, c.error_code AS c_code, c.n AS c_n
FROM batches AS b
LEFT JOIN LATERAL (
    SELECT status, error_code, sum(n) AS n FROM batch_counts
    WHERE batch_id = b.id GROUP BY status, error_code
) AS c ON true
WHERE b.id = %(id)s AND (%(tenant)s::text IS NULL OR b.tenant_id = %(tenant)s::text)
"""


async def _status_postgres(
    db: Database, batch_id: str, tenant_id: str | None
) -> tuple[Any, dict[str, int], dict[str, int], float]:
    from psycopg.rows import dict_row

    async with db.autocommit() as driver, driver.cursor(row_factory=dict_row) as cur:
        await cur.execute(_PG_STATUS, {"id": batch_id, "tenant": tenant_id})
        rows = await cur.fetchall()
    if not rows:
        raise NotFoundError(f"no batch {batch_id}")
    counts, errors = _fold_counts(rows)
    first = rows[0]
    return SimpleNamespace(**first), counts, errors, float(first["now_"])


async def _status_sqlite(
    db: Database, batch_id: str, tenant_id: str | None
) -> tuple[Any, dict[str, int], dict[str, int], float]:
    """The same single statement as ``_PG_STATUS``, in Core. One statement is one snapshot:
    pysqlite starts no transaction for a SELECT, so separate reads of the row, the counters
    and the clock each saw their own moment (a status could say ``pending`` with domains in
    flight)."""
    summed = (
        select(
            batch_counts.c.batch_id,
            batch_counts.c.status.label("c_status"),
            batch_counts.c.error_code.label("c_code"),
            func.sum(batch_counts.c.n).label("c_n"),
        )
        .where(batch_counts.c.batch_id == batch_id)
        .group_by(batch_counts.c.batch_id, batch_counts.c.status, batch_counts.c.error_code)
        .subquery()
    )
    query = (
        select(batches, epoch_now().label("now_"), summed.c.c_status, summed.c.c_code, summed.c.c_n)
        .select_from(batches.outerjoin(summed, summed.c.batch_id == batches.c.id))
        .where(batches.c.id == batch_id)
    )
    if tenant_id is not None:
        query = query.where(batches.c.tenant_id == tenant_id)
    async with db.connect() as conn:
        rows = (await conn.execute(query)).all()
    if not rows:
        raise NotFoundError(f"no batch {batch_id}")
    counts, errors = _fold_counts(row._mapping for row in rows)
    first = rows[0]
    return first, counts, errors, float(first.now_ or 0.0)


def _fold_counts(rows: Iterable[Mapping[Any, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by domain status and failures by error code, from the status rows' summed
    counter columns (``c_status`` is NULL for a batch with no counter rows)."""
    counts: dict[str, int] = {}
    errors: dict[str, int] = {}
    for r in rows:
        if r["c_status"] is None:
            continue
        n = int(r["c_n"])
        counts[r["c_status"]] = counts.get(r["c_status"], 0) + n
        if r["c_code"] and n:
            errors[r["c_code"]] = errors.get(r["c_code"], 0) + n
    return counts, errors


def batch_record(row: Row[Any]) -> BatchRecord:
    return BatchRecord(
        id=row.id,
        status=BatchStatus(row.status),
        processor=row.processor,
        options=row.options,
        total=row.total,
        invalid=row.invalid,
        duplicates=row.duplicates,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        webhook_url=row.webhook_url,
    )


def domain_record(row: Row[Any]) -> DomainRecord:
    return DomainRecord(
        id=row.id,
        domain=row.domain,
        display=row.display or row.domain,
        input=row.raw_input or row.domain,
        status=DomainStatus(row.status),
        attempts=row.attempts,
        error_code=row.error_code,
        error_message=row.error_message,
        started_at=row.started_at,
        finished_at=row.finished_at,
        result=row.result,
    )


async def iter_domains(
    db: Database,
    batch_id: str,
    *,
    status: str | None = None,
    page_size: int = 1000,
    tenant_id: str | None = None,
) -> AsyncIterator[DomainRecord]:
    """Every domain of a batch in id order, paged by key (no long-lived cursor: pooler-safe)."""
    async with db.connect() as conn:
        await get_batch_row(conn, batch_id, tenant_id=tenant_id)
    last_id = 0
    while True:
        query = (
            select(batch_domains)
            .where(batch_domains.c.batch_id == batch_id, batch_domains.c.id > last_id)
            .order_by(batch_domains.c.id)
            .limit(page_size)
        )
        if status:
            query = query.where(batch_domains.c.status == status)
        async with db.connect() as conn:
            rows = (await conn.execute(query)).all()
        for row in rows:
            yield domain_record(row)
        if len(rows) < page_size:
            return
        last_id = rows[-1].id
