"""The read side of batches (the status's assembly, and every domain in order for exports) and
their deletion. Creation lives in ``creation.py``; the status statement and queue transitions
in the queue stores (``sqlite.py``, ``postgres.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.completion import POINTS
from domainbatch.core.models import BatchRecord, BatchReport, DomainRecord
from domainbatch.core.status import BatchStatus, DomainStatus, Progress
from domainbatch.errors import NotFoundError
from domainbatch.storage.database import Database
from domainbatch.storage.tables import (
    batch_counts,
    batch_domains,
    batches,
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


async def batch_ids(
    conn: AsyncConnection, prefix: str, *, tenant_id: str | None = None, limit: int = 10
) -> list[str]:
    """Up to ``limit`` ids starting with ``prefix`` (``%`` and ``_`` in it match themselves)."""
    query = select(batches.c.id).where(batches.c.id.startswith(prefix, autoescape=True))
    if tenant_id is not None:
        query = query.where(batches.c.tenant_id == tenant_id)
    return list((await conn.scalars(query.order_by(batches.c.id).limit(limit))).all())


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


def status_report(rows: Sequence[Mapping[Any, Any]], batch_id: str) -> BatchReport:
    """The status from one statement's rows: each is the batch row, the database clock
    (``now_``) and one summed counter (``c_status``, ``c_code``, ``c_n``; NULL for a batch
    with no counter rows). ``NotFoundError`` for none."""
    if not rows:
        raise NotFoundError(f"no batch {batch_id}")
    counts, errors = _fold_counts(rows)
    row = SimpleNamespace(**rows[0])
    progress = Progress(
        total=row.total,
        counts=counts,
        errors=errors,
        started_at=row.started_at,
        finished_at=row.finished_at,
        now=float(row.now_ or 0.0),
        idle_seconds=row.idle_seconds,
    )
    return BatchReport.of(batch_record(row), progress)


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


def batch_record(row: Any) -> BatchRecord:
    """From a ``batches`` row (or any object with its columns as attributes)."""
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
        deadline_seconds=row.deadline_seconds,
        deadline_at=row.deadline_at,
        completion=stored_completion(row),
    )


def stored_completion(row: Any) -> dict[str, float] | None:
    """The completion percentiles from a batch row's columns (None before its end)."""
    found = {name: getattr(row, name) for name in POINTS}
    return None if found["t100"] is None else found


def domain_record(row: Any) -> DomainRecord:
    """From a ``batch_domains`` row (or any object with its columns as attributes)."""
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
