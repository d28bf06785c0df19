"""The queue store on SQLite (the embedded default): claims and acks in SQLAlchemy Core, on top
of the statements both backends share (``queue.SqlQueue``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.models import BatchReport
from domainbatch.core.queue import Claimed, Outcome
from domainbatch.core.status import DomainStatus
from domainbatch.storage import counters
from domainbatch.storage.batches import status_report
from domainbatch.storage.cancellation import cancel_stragglers
from domainbatch.storage.counters import Key, Tally
from domainbatch.storage.creation import OnInvalid, Take, storable
from domainbatch.storage.queue import SqlQueue, attempt_guard
from domainbatch.storage.tables import batch_counts, batches, epoch_now
from domainbatch.storage.tables import batch_domains as d

_SUCCEED = (
    update(d)
    .where(attempt_guard())
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
    .where(attempt_guard())
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
    .where(attempt_guard())
    .values(
        status=DomainStatus.PENDING,
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        lease_expires_at=None,
        worker_id=None,
        next_attempt_at=epoch_now() + bindparam("b_delay"),
    )
)


_INSERT_VALID = sqlite.insert(d).on_conflict_do_nothing(index_elements=["batch_id", "domain"])


async def insert_domains(
    conn: AsyncConnection,
    batch_id: str,
    take: Take,
    normalizer: DomainNormalizer,
    on_invalid: OnInvalid,
) -> int:
    """A new batch's rows, a chunk per ``executemany``; duplicates (after normalization) fall
    on the unique (batch, domain) key. Returns the rows stored."""
    while chunk := take():
        valid: list[dict[str, Any]] = []
        invalid: list[dict[str, Any]] = []
        for text in chunk:
            entry = normalizer.normalize(text)
            raw = storable(text)
            if entry.domain is not None:
                valid.append(
                    {
                        "batch_id": batch_id,
                        "domain": entry.domain,
                        "display": entry.display if entry.display != entry.domain else None,
                        "raw_input": raw if raw != entry.domain else None,
                        "status": DomainStatus.PENDING,
                    }
                )
                continue
            reason = storable(entry.reason or "invalid domain")
            on_invalid(raw, reason)
            invalid.append(
                {
                    "batch_id": batch_id,
                    "domain": None,
                    "display": None,
                    "raw_input": raw,
                    "status": DomainStatus.INVALID,
                    "error_code": "invalid_domain",
                    "error_message": reason,
                }
            )
        if valid:
            await conn.execute(_INSERT_VALID, valid)
        if invalid:
            await conn.execute(d.insert(), invalid)
    stored = await conn.scalar(select(func.count()).select_from(d).where(d.c.batch_id == batch_id))
    return int(stored or 0)


class SqliteQueue(SqlQueue):
    load_domains = staticmethod(insert_domains)

    async def claim(
        self, batch_id: str, worker_id: str, limit: int, *, maybe_pending: bool = True
    ) -> tuple[list[Claimed], bool]:
        # SQLite has one writer at a time: the UPDATE's own subquery is the lock.
        due = (
            select(d.c.id)
            .where(
                d.c.batch_id == batch_id,
                d.c.status == DomainStatus.PENDING,
                d.c.next_attempt_at <= epoch_now(),
            )
            .order_by(d.c.next_attempt_at)
            .limit(limit)
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

    async def ack(self, outcomes: Sequence[Outcome], worker_id: str) -> set[str]:
        # One executemany per (batch, new counter key): its row count is exactly how many
        # domains moved there (late acks match no row and count for nothing).
        groups: dict[tuple[Any, Key], list[dict[str, Any]]] = defaultdict(list)
        retried: set[str] = set()
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
                retried.add(batch_id)
            else:
                target = counters.key(batch_id, DomainStatus.FAILED, o.error_code)
                groups[(_FAIL, target)].append(params)
        tally = Tally()
        async with self.db.transaction() as conn:
            for (stmt, target), params_list in groups.items():
                moved = (await conn.execute(stmt, params_list)).rowcount
                tally.move(target[0], DomainStatus.PROCESSING, target, moved)
            if retried:  # a retry in a batch cancelled meanwhile ends cancelled
                await cancel_stragglers(conn, tally, retried)
            await counters.apply(conn, tally, self.shard)
        return {o.claimed.batch_id for o in outcomes if o.retry_in is None}

    async def status(self, batch_id: str, *, tenant_id: str | None = None) -> BatchReport:
        """The batch row, the clock and the summed counters in one statement, as Postgres's
        ``status`` query. One statement is one snapshot: pysqlite starts no transaction for a
        SELECT, so separate reads of the row, the counters and the clock each saw their own
        moment (a status could say ``pending`` with domains in flight)."""
        c = batch_counts.c
        summed = (
            select(
                c.batch_id,
                c.status.label("c_status"),
                c.error_code.label("c_code"),
                func.sum(c.n).label("c_n"),
            )
            .where(c.batch_id == batch_id)
            .group_by(c.batch_id, c.status, c.error_code)
            .subquery()
        )
        query = (
            select(batches, epoch_now().label("now_"), summed.c.c_status, summed.c.c_code)
            .add_columns(summed.c.c_n)
            .select_from(batches.outerjoin(summed, summed.c.batch_id == batches.c.id))
            .where(batches.c.id == batch_id)
        )
        if tenant_id is not None:
            query = query.where(batches.c.tenant_id == tenant_id)
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return status_report([row._mapping for row in rows], batch_id)
