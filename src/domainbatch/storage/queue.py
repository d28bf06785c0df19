"""The queue store on SQL (see ``core.queue.QueueStore``): the statements both backends share,
written once in SQLAlchemy Core. ``sqlite.SqliteQueue`` and ``postgres.PostgresQueue`` add the
hot path (claim, ack) and the status read, each in its backend's best form; the composition
root picks one at start-up, so no method here asks which database it runs on.

Every method is one short transaction with nothing session-scoped, so it runs unchanged
through a transaction-mode pooler. Each writer owns one counter ``shard`` (see counters.py).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.completion import POINTS
from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.models import BatchRecord, DomainRecord, Page
from domainbatch.core.queue import ActiveBatch, BatchSpec, Claimed, CreatedBatch, Heartbeat
from domainbatch.core.status import (
    ACTIVE_BATCH,
    OPEN_DOMAIN,
    BatchEvent,
    BatchStatus,
    DomainStatus,
    batch_ending,
)
from domainbatch.storage import counters, pages, workers
from domainbatch.storage.batches import (
    batch_ids,
    batch_record,
    delete_batch,
    get_batch_row,
    iter_domains,
)
from domainbatch.storage.cancellation import cancel_batch, cancel_stragglers
from domainbatch.storage.completion import deadline_left, expire_batches, store_completion
from domainbatch.storage.counters import Tally
from domainbatch.storage.creation import Load, create_batch
from domainbatch.storage.database import Database
from domainbatch.storage.outbox import enqueue_event
from domainbatch.storage.tables import batch_domains as d
from domainbatch.storage.tables import batches as b
from domainbatch.storage.tables import epoch_now

REAPED_MESSAGE = "the worker processing this domain stopped; no attempts left"


def attempt_guard() -> Any:
    """A transition only lands on the attempt it belongs to: a lease that expired and was
    reclaimed by another worker makes this worker's late ack a no-op, so each domain ends
    once."""
    return and_(
        d.c.id == bindparam("b_id"),
        d.c.status == DomainStatus.PROCESSING,
        d.c.worker_id == bindparam("b_worker"),
        d.c.attempts == bindparam("b_attempt"),
    )


class SqlQueue:
    load_domains: Load  # how the backend writes a new batch's domain rows

    def __init__(self, db: Database, lease_seconds: float, shard: int) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.shard = shard

    async def create(
        self,
        entries: Iterable[str],
        *,
        spec: BatchSpec,
        normalizer: DomainNormalizer,
        max_entries: int,
        chunk_size: int,
    ) -> CreatedBatch:
        created = await create_batch(
            self.db,
            entries,
            spec=spec,
            normalizer=normalizer,
            max_entries=max_entries,
            chunk_size=chunk_size,
            load=self.load_domains,
        )
        await self.after_create(created)
        return created

    async def after_create(self, created: CreatedBatch) -> None:
        """What the backend does once a new batch is committed (nothing, by default)."""

    # Reads (the service's) ---------------------------------------------------------------------
    async def batch(self, batch_id: str, *, tenant_id: str | None = None) -> BatchRecord:
        async with self.db.connect() as conn:
            return batch_record(await get_batch_row(conn, batch_id, tenant_id=tenant_id))

    async def batch_ids(
        self, prefix: str, *, tenant_id: str | None = None, limit: int = 10
    ) -> list[str]:
        async with self.db.connect() as conn:
            return await batch_ids(conn, prefix, tenant_id=tenant_id, limit=limit)

    async def batch_page(
        self,
        *,
        tenant_id: str | None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[BatchRecord]:
        return await pages.batch_page(
            self.db, tenant_id=tenant_id, status=status, limit=limit, cursor=cursor
        )

    async def domain_page(
        self,
        batch_id: str,
        *,
        tenant_id: str | None,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[DomainRecord]:
        return await pages.domain_page(
            self.db, batch_id, tenant_id=tenant_id, status=status, limit=limit, cursor=cursor
        )

    async def domain(self, batch_id: str, domain_id: int, *, tenant_id: str | None) -> DomainRecord:
        return await pages.get_domain(self.db, batch_id, domain_id, tenant_id=tenant_id)

    def domains(
        self, batch_id: str, *, status: str | None = None, tenant_id: str | None = None
    ) -> AsyncIterator[DomainRecord]:
        return iter_domains(self.db, batch_id, status=status, tenant_id=tenant_id)

    async def delete(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        return await delete_batch(self.db, batch_id, tenant_id=tenant_id)

    # Transitions -------------------------------------------------------------------------------
    async def active_batches(self, only: Sequence[str] | None = None) -> list[ActiveBatch]:
        query = (
            select(b.c.id, b.c.processor, b.c.options, b.c.max_attempts, b.c.status)
            .add_columns(b.c.deadline_seconds, deadline_left().label("left"))
            .where(b.c.status.in_(ACTIVE_BATCH))
            .order_by(b.c.created_at, b.c.id)
        )
        if only is not None:
            query = query.where(b.c.id.in_(list(only)))
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        now = time.monotonic()  # the database's "time left" on this process's clock
        return [
            ActiveBatch(
                r.id,
                r.processor,
                r.options,
                r.max_attempts,
                r.status,
                r.deadline_seconds,
                None if r.left is None else now + r.left,
            )
            for r in rows
        ]

    async def _mark_started(self, conn: AsyncConnection, batch_id: str) -> bool:
        result = await conn.execute(
            update(b)
            .where(b.c.id == batch_id, b.c.status == BatchStatus.PENDING)
            .values(
                status=BatchStatus.PROCESSING,
                started_at=epoch_now(),
                deadline_at=epoch_now() + b.c.deadline_seconds,  # NULL without a deadline
            )
        )
        started = result.rowcount == 1
        if started:
            await enqueue_event(conn, batch_id, BatchEvent.STARTED)
        return bool(started)

    async def extend(self, ids: Iterable[int], worker_id: str) -> None:
        held = list(ids)
        if not held:
            return
        async with self.db.transaction() as conn:
            await conn.execute(
                update(d)
                .where(
                    d.c.id.in_(held),
                    d.c.worker_id == worker_id,
                    d.c.status == DomainStatus.PROCESSING,
                )
                .values(lease_expires_at=epoch_now() + self.lease_seconds)
            )

    async def beat(self, heartbeat: Heartbeat) -> None:
        await workers.beat(self.db, heartbeat, self.lease_seconds)

    async def leave(self, worker_id: str) -> None:
        await workers.leave(self.db, worker_id)

    async def reap(self) -> set[str]:
        """A domain whose attempts are spent fails with ``internal`` instead of looping
        forever on something that kills its worker. The sweep also ends what went back to
        pending in a cancelled batch (this reap's own, or a straggler of a race with the
        cancel: see cancellation.py), and ends the open domains of batches past their deadline
        (completion.py)."""
        expired = and_(d.c.status == DomainStatus.PROCESSING, d.c.lease_expires_at < epoch_now())
        spent = d.c.attempts >= (
            select(b.c.max_attempts).where(b.c.id == d.c.batch_id).scalar_subquery()
        )
        stmt = (
            update(d)
            .where(expired)
            .values(
                status=case((spent, DomainStatus.FAILED), else_=DomainStatus.PENDING),
                error_code=case((spent, "internal"), else_=d.c.error_code),
                error_message=case((spent, REAPED_MESSAGE), else_=d.c.error_message),
                finished_at=case((spent, epoch_now()), else_=None),
                worker_id=None,
                lease_expires_at=None,
            )
            .returning(d.c.batch_id, d.c.status, d.c.error_code)
        )
        async with self.db.transaction() as conn:
            rows = (await conn.execute(stmt)).all()
            tally = Tally()
            for row in rows:
                new = counters.key(row.batch_id, row.status, row.error_code)
                tally.move(row.batch_id, DomainStatus.PROCESSING, new)
            cancelled = await cancel_stragglers(conn, tally)
            ended = await expire_batches(conn, tally)
            await counters.apply(conn, tally, self.shard)
        return {row.batch_id for row in rows} | cancelled | ended

    async def release(self, claims: Iterable[Claimed], worker_id: str) -> None:
        by_batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in claims:
            by_batch[c.batch_id].append(
                {"b_id": c.id, "b_worker": worker_id, "b_attempt": c.attempt}
            )
        if not by_batch:
            return
        stmt = (
            update(d)
            .where(attempt_guard())
            .values(
                status=DomainStatus.PENDING,
                worker_id=None,
                lease_expires_at=None,
                attempts=d.c.attempts - 1,
            )
        )
        tally = Tally()
        async with self.db.transaction() as conn:
            for batch_id, params in by_batch.items():
                moved = (await conn.execute(stmt, params)).rowcount
                tally.move(batch_id, DomainStatus.PROCESSING, DomainStatus.PENDING, moved)
            await cancel_stragglers(conn, tally, by_batch)  # no pending in a cancelled batch
            await counters.apply(conn, tally, self.shard)

    async def finalize(self, batch_id: str) -> str | None:
        # The counters (one snapshot, exact: every transition moves them in its own
        # transaction) decide by the rule in core.status. Once they show no open domain,
        # none can succeed any more; the guarded UPDATE makes exactly one caller the winner.
        async with self.db.transaction() as conn:
            counts = (await counters.read(conn, batch_id))[0]
            ending = batch_ending(counts)
            if ending is None:
                return None
            status, error = ending
            has_open = exists().where(d.c.batch_id == batch_id, d.c.status.in_(OPEN_DOMAIN))
            won = await conn.execute(
                update(b)
                .where(b.c.id == batch_id, b.c.status.in_(ACTIVE_BATCH), ~has_open)
                .values(status=status, finished_at=epoch_now(), error=error)
            )
            if won.rowcount != 1:
                return None
            await store_completion(conn, batch_id, counts)  # only the winner sorts its rows
            await enqueue_event(conn, batch_id, BatchEvent.ending(status))
        return str(status)

    async def cancel(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        async with self.db.transaction() as conn:
            return await cancel_batch(conn, batch_id, tenant_id=tenant_id, shard=self.shard)

    async def retry_failed(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        """A reopened batch ends again later, and that second ending is a new event. The time
        it sat ended is added to ``idle_seconds`` (nothing for a batch still open), so that
        duration and rate count only the time it was worked on. Its deadline runs anew."""
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
                    .values(
                        status=BatchStatus.PROCESSING,
                        finished_at=None,
                        error=None,
                        idle_seconds=b.c.idle_seconds
                        + func.coalesce(epoch_now() - b.c.finished_at, 0.0),
                        # Its deadline anew from now; its percentiles again at its next end.
                        deadline_at=epoch_now() + b.c.deadline_seconds,
                        **dict.fromkeys(POINTS),
                    )
                )
        return count
