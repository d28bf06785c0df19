"""Claims, the hot path's first half: the active batches, chunked claims with leases, lease
extension, and the reclaim of expired leases.

Every method is one short transaction of one or a few statements, with nothing session-scoped,
so it runs unchanged through a transaction-mode pooler.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.status import ACTIVE_BATCH, BatchEvent, BatchStatus, DomainStatus
from domainbatch.storage import counters
from domainbatch.storage.counters import Tally
from domainbatch.storage.database import Database
from domainbatch.storage.outbox import enqueue_event
from domainbatch.storage.tables import PG_EPOCH_NOW, epoch_now
from domainbatch.storage.tables import batch_domains as d
from domainbatch.storage.tables import batches as b


@dataclass(frozen=True, slots=True)
class ActiveBatch:
    id: str
    processor: str
    options: dict[str, Any]
    max_attempts: int
    status: str = BatchStatus.PENDING  # when listed: ``processing`` skips the start check


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    batch_id: str
    domain: str
    attempt: int


# Postgres hot path (see Claims._claim_postgres).
_PG_CLAIM = f"""
WITH claimed AS (
    UPDATE batch_domains
    SET status = 'processing', worker_id = %(worker)s, attempts = attempts + 1,
        lease_expires_at = {PG_EPOCH_NOW} + %(lease)s, started_at = {PG_EPOCH_NOW}
    WHERE id IN (
        SELECT id FROM batch_domains
        WHERE batch_id = %(batch)s AND status = 'pending' AND next_attempt_at <= {PG_EPOCH_NOW}
        ORDER BY next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, domain, attempts
), counted AS (
    INSERT INTO batch_counts AS c (batch_id, shard, status, error_code, n)
    SELECT %(batch)s, %(shard)s, s.status, '', s.n
    FROM (SELECT count(*) AS k FROM claimed) AS t
    CROSS JOIN LATERAL (VALUES ('pending', -t.k), ('processing', t.k)) AS s (status, n)
    WHERE t.k > 0
    ORDER BY s.status
    ON CONFLICT (batch_id, shard, status, error_code) DO UPDATE SET n = c.n + excluded.n
)
SELECT id, domain, attempts FROM claimed
"""


class Claims:
    def __init__(self, db: Database, lease_seconds: float, shard: int) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.shard = shard

    async def active_batches(self, only: Sequence[str] | None = None) -> list[ActiveBatch]:
        query = (
            select(b.c.id, b.c.processor, b.c.options, b.c.max_attempts, b.c.status)
            .where(b.c.status.in_(ACTIVE_BATCH))
            .order_by(b.c.created_at, b.c.id)
        )
        if only is not None:
            query = query.where(b.c.id.in_(list(only)))
        async with self.db.connect() as conn:
            rows = await conn.execute(query)
            return [
                ActiveBatch(r.id, r.processor, r.options, r.max_attempts, r.status) for r in rows
            ]

    async def claim(
        self, batch_id: str, worker_id: str, limit: int, *, maybe_pending: bool = True
    ) -> tuple[list[Claimed], bool]:
        """Lease up to ``limit`` due domains of one batch in one statement.

        Returns the claims and whether this claim moved the batch from pending to processing
        (checked only when ``maybe_pending``: a batch already seen processing skips it).
        """
        if not self.db.is_sqlite:
            return await self._claim_postgres(batch_id, worker_id, limit, maybe_pending)
        due = (
            select(d.c.id)
            .where(
                d.c.batch_id == batch_id,
                d.c.status == DomainStatus.PENDING,
                d.c.next_attempt_at <= epoch_now(),
            )
            .order_by(d.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(d)
            .where(d.c.id.in_(due))
            .values(
                status=DomainStatus.PROCESSING,
                worker_id=worker_id,
                attempts=d.c.attempts + 1,
                lease_expires_at=epoch_now() + self.lease_seconds,
                started_at=epoch_now(),
            )
            .returning(d.c.id, d.c.domain, d.c.attempts)
        )
        async with self.db.transaction() as conn:
            rows = (await conn.execute(stmt)).all()
            started = False
            if rows:
                tally = Tally()
                tally.move(batch_id, DomainStatus.PENDING, DomainStatus.PROCESSING, len(rows))
                await counters.apply(conn, tally, self.shard)
                if maybe_pending:
                    started = await self._mark_started(conn, batch_id)
        return [Claimed(r.id, batch_id, r.domain, r.attempts) for r in rows], started

    async def _mark_started(self, conn: AsyncConnection, batch_id: str) -> bool:
        result = await conn.execute(
            update(b)
            .where(b.c.id == batch_id, b.c.status == BatchStatus.PENDING)
            .values(status=BatchStatus.PROCESSING, started_at=epoch_now())
        )
        started = result.rowcount == 1
        if started:
            await enqueue_event(conn, batch_id, BatchEvent.STARTED)
        return bool(started)

    async def _claim_postgres(
        self, batch_id: str, worker_id: str, limit: int, maybe_pending: bool
    ) -> tuple[list[Claimed], bool]:
        # One statement: the claim and its counter deltas (a data-modifying CTE), sent on the
        # driver connection in autocommit (no BEGIN/COMMIT, no Core compilation). Only a
        # batch that may still be pending needs a transaction, for its start transition.
        params = {
            "batch": batch_id,
            "worker": worker_id,
            "limit": limit,
            "lease": self.lease_seconds,
            "shard": self.shard,
        }
        started = False
        if maybe_pending:
            async with self.db.transaction() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                async with driver.cursor() as cur:  # type: ignore[union-attr]
                    await cur.execute(_PG_CLAIM, params)
                    rows = await cur.fetchall()
                if rows:
                    started = await self._mark_started(conn, batch_id)
        else:
            async with self.db.autocommit() as driver, driver.cursor() as cur:
                await cur.execute(_PG_CLAIM, params)
                rows = await cur.fetchall()
        return [Claimed(id_, batch_id, domain, attempt) for id_, domain, attempt in rows], started

    async def extend(self, ids: Iterable[int], worker_id: str) -> None:
        """Push the lease of every domain this worker still holds."""
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

    async def reap(self) -> set[str]:
        """Reclaim expired leases (a crashed worker's domains) for any worker to take.

        A domain whose attempts are spent fails with ``internal`` instead of looping forever
        on something that kills its worker.
        """
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
                error_message=case(
                    (spent, "the worker processing this domain stopped; no attempts left"),
                    else_=d.c.error_message,
                ),
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
            await counters.apply(conn, tally, self.shard)
        return {row.batch_id for row in rows}
