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

import orjson
from sqlalchemy import and_, bindparam, case, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

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
    status: str = BatchStatus.PENDING  # when listed: ``processing`` skips the start check


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
    encoded: bytes | None = None  # ``result`` as JSON, when the worker already encoded it


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


_NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"

# Postgres hot path (see Queue._claim_postgres and Queue._ack_postgres).
_PG_CLAIM = f"""
WITH claimed AS (
    UPDATE batch_domains
    SET status = 'processing', worker_id = %(worker)s, attempts = attempts + 1,
        lease_expires_at = {_NOW} + %(lease)s, started_at = {_NOW}
    WHERE id IN (
        SELECT id FROM batch_domains
        WHERE batch_id = %(batch)s AND status = 'pending' AND next_attempt_at <= {_NOW}
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

_PG_ACK = f"""
WITH v AS (
    SELECT * FROM json_to_recordset(%(payload)s::json)
        AS v (i bigint, a int, s text, c text, m text, r json, d float8)
), moved AS (
    UPDATE batch_domains AS d
    SET status = v.s,
        result = CASE WHEN v.s = 'succeeded' THEN v.r ELSE d.result END,
        error_code = v.c,
        error_message = v.m,
        lease_expires_at = NULL,
        finished_at = CASE WHEN v.s = 'pending' THEN d.finished_at ELSE {_NOW} END,
        worker_id = CASE WHEN v.s = 'pending' THEN NULL ELSE d.worker_id END,
        next_attempt_at = CASE
            WHEN v.s = 'pending' THEN {_NOW} + v.d ELSE d.next_attempt_at END
    FROM v
    WHERE d.id = v.i AND d.status = 'processing' AND d.worker_id = %(worker)s
        AND d.attempts = v.a
    RETURNING d.batch_id, d.status, d.error_code
), deltas AS (
    SELECT batch_id, status,
        CASE WHEN status = 'failed' THEN coalesce(error_code, '') ELSE '' END AS code,
        count(*) AS n
    FROM moved GROUP BY 1, 2, 3
    UNION ALL
    SELECT batch_id, 'processing', '', -count(*) FROM moved GROUP BY 1
), counted AS (
    INSERT INTO batch_counts AS c (batch_id, shard, status, error_code, n)
    SELECT batch_id, %(shard)s, status, code, sum(n) FROM deltas
    GROUP BY batch_id, status, code
    HAVING sum(n) <> 0
    ORDER BY batch_id, status, code
    ON CONFLICT (batch_id, shard, status, error_code) DO UPDATE SET n = c.n + excluded.n
)
SELECT count(*) FROM moved
"""


class Queue:
    def __init__(self, db: Database, lease_seconds: float) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.shard = counters.pick_shard()

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
            await enqueue_event(conn, batch_id, "batch.started")
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

    async def ack(self, outcomes: Sequence[Outcome], worker_id: str) -> set[str]:
        """Record many outcomes in one transaction; returns the batches that may have ended."""
        if not self.db.is_sqlite:
            return await self._ack_postgres(outcomes, worker_id)
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

    async def _ack_postgres(self, outcomes: Sequence[Outcome], worker_id: str) -> set[str]:
        # One statement in autocommit for the whole batch of outcomes: one JSON document in
        # (results embedded as they were encoded, not re-encoded), UPDATE ... FROM it, and the
        # counter deltas of exactly the rows that moved (a late ack moves none).
        rows = []
        for o in sorted(outcomes, key=lambda o: o.claimed.id):  # a fixed row-lock order
            row: dict[str, Any] = {"i": o.claimed.id, "a": o.claimed.attempt}
            if o.error_code is None:
                row["s"] = DomainStatus.SUCCEEDED.value
                row["r"] = orjson.Fragment(
                    o.encoded if o.encoded is not None else orjson.dumps(o.result)
                )
            else:
                row["c"] = o.error_code
                row["m"] = o.error_message
                if o.retry_in is not None:
                    row["s"] = DomainStatus.PENDING.value
                    row["d"] = float(o.retry_in)
                else:
                    row["s"] = DomainStatus.FAILED.value
            rows.append(row)
        params = {"payload": orjson.dumps(rows).decode(), "worker": worker_id, "shard": self.shard}
        async with self.db.autocommit() as driver, driver.cursor() as cur:
            await cur.execute(_PG_ACK, params)
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
