"""The queue: chunked claims with leases, lease extension, batched acknowledgements, reclaim of
expired leases, and the single-winner transitions of a batch.

Every method is one short transaction of one or a few statements, with nothing session-scoped,
so it runs unchanged through a transaction-mode pooler.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, select, update

from domainbatch.core.status import ACTIVE_BATCH, OPEN_DOMAIN, BatchStatus, DomainStatus
from domainbatch.errors import ConflictError
from domainbatch.storage import counters
from domainbatch.storage.batches import get_batch_row
from domainbatch.storage.counters import Key, Tally
from domainbatch.storage.database import Database
from domainbatch.storage.tables import batch_domains as d
from domainbatch.storage.tables import batches as b
from domainbatch.storage.tables import epoch_now
from domainbatch.storage.webhooks import enqueue_event


@dataclass(frozen=True, slots=True)
class ActiveBatch:
    id: str
    processor: str
    options: dict[str, Any]
    max_attempts: int


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    batch_id: str
    domain: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed attempt. ``retry_in`` set means: back to pending later."""

    claimed: Claimed
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_in: float | None = None


def _guard() -> Any:
    # An ack only lands on the attempt it belongs to: a lease that expired and was reclaimed
    # by another worker makes this worker's late ack a no-op, so each domain ends once.
    return and_(
        d.c.id == bindparam("b_id"),
        d.c.status == DomainStatus.PROCESSING,
        d.c.worker_id == bindparam("b_worker"),
        d.c.attempts == bindparam("b_attempt"),
    )


_SUCCEED = (
    update(d)
    .where(_guard())
    .values(
        status=DomainStatus.SUCCEEDED,
        result=bindparam("b_result"),
        error_code=None,
        error_message=None,
        lease_expires_at=None,
        finished_at=epoch_now(),
    )
)
_FAIL = (
    update(d)
    .where(_guard())
    .values(
        status=DomainStatus.FAILED,
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        lease_expires_at=None,
        finished_at=epoch_now(),
    )
)
_RETRY = (
    update(d)
    .where(_guard())
    .values(
        status=DomainStatus.PENDING,
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        lease_expires_at=None,
        worker_id=None,
        next_attempt_at=epoch_now() + bindparam("b_delay"),
    )
)


class Queue:
    def __init__(self, db: Database, lease_seconds: float) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.shard = counters.pick_shard()

    async def active_batches(self, only: Sequence[str] | None = None) -> list[ActiveBatch]:
        query = (
            select(b.c.id, b.c.processor, b.c.options, b.c.max_attempts)
            .where(b.c.status.in_(ACTIVE_BATCH))
            .order_by(b.c.created_at, b.c.id)
        )
        if only is not None:
            query = query.where(b.c.id.in_(list(only)))
        async with self.db.connect() as conn:
            rows = await conn.execute(query)
            return [ActiveBatch(r.id, r.processor, r.options, r.max_attempts) for r in rows]

    async def claim(self, batch_id: str, worker_id: str, limit: int) -> tuple[list[Claimed], bool]:
        """Lease up to ``limit`` due domains of one batch in one statement.

        Returns the claims and whether this claim moved the batch from pending to processing.
        """
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
                result = await conn.execute(
                    update(b)
                    .where(b.c.id == batch_id, b.c.status == BatchStatus.PENDING)
                    .values(status=BatchStatus.PROCESSING, started_at=epoch_now())
                )
                started = result.rowcount == 1
                if started:
                    await enqueue_event(conn, batch_id, "batch.started")
        return [Claimed(r.id, batch_id, r.domain, r.attempts) for r in rows], started

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

    async def ack(self, outcomes: Sequence[Outcome], worker_id: str) -> set[str]:
        """Record many outcomes in one transaction; returns the batches that may have ended."""
        # One executemany per (batch, new counter key): its row count is exactly how many
        # domains moved there (late acks match no row and count for nothing).
        groups: dict[tuple[Any, Key], list[dict[str, Any]]] = defaultdict(list)
        for o in outcomes:
            params: dict[str, Any] = {
                "b_id": o.claimed.id,
                "b_worker": worker_id,
                "b_attempt": o.claimed.attempt,
            }
            batch_id = o.claimed.batch_id
            if o.error_code is None:
                target = counters.key(batch_id, DomainStatus.SUCCEEDED)
                groups[(_SUCCEED, target)].append({**params, "b_result": o.result})
                continue
            params.update(b_code=o.error_code, b_message=o.error_message)
            if o.retry_in is not None:
                target = counters.key(batch_id, DomainStatus.PENDING)
                groups[(_RETRY, target)].append({**params, "b_delay": o.retry_in})
            else:
                target = counters.key(batch_id, DomainStatus.FAILED, o.error_code)
                groups[(_FAIL, target)].append(params)
        tally = Tally()
        async with self.db.transaction() as conn:
            for (stmt, target), params_list in groups.items():
                moved = (await conn.execute(stmt, params_list)).rowcount
                tally.move(target[0], DomainStatus.PROCESSING, target, moved)
            await counters.apply(conn, tally, self.shard)
        return {o.claimed.batch_id for o in outcomes if o.retry_in is None}

    async def release(self, claims: Iterable[Claimed], worker_id: str) -> None:
        """Hand back unstarted or interrupted work at shutdown, without spending an attempt."""
        by_batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in claims:
            by_batch[c.batch_id].append(
                {"b_id": c.id, "b_worker": worker_id, "b_attempt": c.attempt}
            )
        if not by_batch:
            return
        stmt = (
            update(d)
            .where(_guard())
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
            await counters.apply(conn, tally, self.shard)

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
                await enqueue_event(conn, batch_id, f"batch.{row.status}")
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
                await enqueue_event(conn, batch_id, "batch.cancelled")
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
