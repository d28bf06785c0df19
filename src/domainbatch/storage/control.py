"""Batch control: the single-winner end of a batch, and cancelling or retrying one.

Every method is one short transaction, with nothing session-scoped, so it runs unchanged
through a transaction-mode pooler.
"""

from __future__ import annotations

from sqlalchemy import case, exists, update

from domainbatch.core.status import (
    ACTIVE_BATCH,
    OPEN_DOMAIN,
    BatchEvent,
    BatchStatus,
    DomainStatus,
)
from domainbatch.errors import ConflictError
from domainbatch.storage import counters
from domainbatch.storage.batches import get_batch_row
from domainbatch.storage.counters import Tally
from domainbatch.storage.database import Database
from domainbatch.storage.outbox import enqueue_event
from domainbatch.storage.tables import batch_domains as d
from domainbatch.storage.tables import batches as b
from domainbatch.storage.tables import epoch_now


class BatchControl:
    def __init__(self, db: Database, shard: int) -> None:
        self.db = db
        self.shard = shard

    async def finalize(self, batch_id: str) -> str | None:
        """End the batch if no domain is open. Exactly one caller wins; it gets the status."""
        has_open = exists().where(d.c.batch_id == batch_id, d.c.status.in_(OPEN_DOMAIN))
        any_success = exists().where(d.c.batch_id == batch_id, d.c.status == DomainStatus.SUCCEEDED)
        stmt = (
            update(b)
            .where(b.c.id == batch_id, b.c.status.in_(ACTIVE_BATCH), ~has_open)
            .values(
                status=case((any_success, BatchStatus.COMPLETED), else_=BatchStatus.FAILED),
                finished_at=epoch_now(),
                error=case((any_success, None), else_="no domain succeeded"),
            )
            .returning(b.c.status)
        )
        async with self.db.transaction() as conn:
            row = (await conn.execute(stmt)).first()
            if row is not None:
                await enqueue_event(conn, batch_id, BatchEvent.ending(row.status))
        return None if row is None else str(row.status)

    async def cancel(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        """Cancel pending domains and the batch; in-flight domains finish. Returns the count."""
        async with self.db.transaction() as conn:
            row = await get_batch_row(conn, batch_id, tenant_id=tenant_id)
            if row.status not in ACTIVE_BATCH:
                raise ConflictError(f"batch {batch_id} is already {row.status}")
            result = await conn.execute(
                update(d)
                .where(d.c.batch_id == batch_id, d.c.status == DomainStatus.PENDING)
                .values(
                    status=DomainStatus.CANCELLED,
                    error_code="cancelled",
                    error_message="the batch was cancelled",
                    finished_at=epoch_now(),
                )
            )
            tally = Tally()
            tally.move(batch_id, DomainStatus.PENDING, DomainStatus.CANCELLED, result.rowcount)
            await counters.apply(conn, tally, self.shard)
            ended = await conn.execute(
                update(b)
                .where(b.c.id == batch_id, b.c.status.in_(ACTIVE_BATCH))
                .values(status=BatchStatus.CANCELLED, finished_at=epoch_now())
            )
            if ended.rowcount == 1:
                await enqueue_event(conn, batch_id, BatchEvent.CANCELLED)
        return int(result.rowcount)

    async def retry_failed(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        """Re-queue the failed domains of a batch with fresh attempts; reopens the batch.

        A reopened batch ends again later, and that second ending is a new event."""
        async with self.db.transaction() as conn:
            await get_batch_row(conn, batch_id, tenant_id=tenant_id)
            # The last error stays on the row (as on any retried domain) and comes back here,
            # so the counters move exactly the rows this statement took.
            moved = await conn.execute(
                update(d)
                .where(d.c.batch_id == batch_id, d.c.status == DomainStatus.FAILED)
                .values(
                    status=DomainStatus.PENDING, attempts=0, next_attempt_at=0, finished_at=None
                )
                .returning(d.c.error_code)
            )
            tally = Tally()
            for row in moved:
                failed = counters.key(batch_id, DomainStatus.FAILED, row.error_code)
                tally.move(batch_id, failed, DomainStatus.PENDING)
            await counters.apply(conn, tally, self.shard)
            count = tally[counters.key(batch_id, DomainStatus.PENDING)]
            if count:
                await conn.execute(
                    update(b)
                    .where(b.c.id == batch_id)
                    .values(status=BatchStatus.PROCESSING, finished_at=None, error=None)
                )
        return count
