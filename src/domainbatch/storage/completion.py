"""A batch's deadline and the percentiles of its completion, in SQL (the rules: core.completion).

``expire_batches`` ends, as ``deadline_exceeded``, every open domain of the active batches whose
deadline passed; every worker's sweep (``reap``) runs it. It reuses cancellation's guarantees
(see cancellation.py): a domain in flight ends ``failed`` at once, so its worker's late ack,
guarded by ``status = 'processing'``, changes nothing. On Postgres (READ COMMITTED) the domains
in flight are ended before the pending ones, each in its own statement: an ack or reap that put
one back to ``pending`` meanwhile committed before the second statement's snapshot (or the
first statement waited for its row lock and found it pending), so the second takes it. A claim
that took a pending domain between the two leaves it in flight: the batch stays active (it has
an open domain), so the next sweep ends it, and its runner sees the deadline passed and
fails it without running it.

``store_completion`` is run once, by the finalizer that won the batch's end, in that
transaction: readers and the webhook see the end and its percentiles together, and the
finalizers that lost (waiting on the batch row) never sort. One sorted pass over the batch's
finished rows (a window's row numbers, one statement for both backends; ``percentile_disc``
sorts as much and exists only on Postgres). Measured with 1,000,000 finished rows in one
batch: 1.9 s on SQLite, 1.0-1.7 s on Postgres, once per batch; about ten times that at
10,000,000. While it runs, the batch row stays locked on Postgres (only other finalizers wait)
and SQLite's one write lock is held (every writer waits): the price of a consistent end.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.completion import DEADLINE_CODE, completion, deadline_message, ranks
from domainbatch.core.status import ACTIVE_BATCH, DomainStatus
from domainbatch.storage import counters
from domainbatch.storage.counters import Tally
from domainbatch.storage.tables import batch_domains as d
from domainbatch.storage.tables import batches as b
from domainbatch.storage.tables import epoch_now


def deadline_left() -> ColumnElement[Any]:
    """Seconds until a batch's deadline (negative once passed), by the database clock; NULL
    for a batch without one or not started yet (see ``ActiveBatch.time_left``)."""
    return b.c.deadline_at - epoch_now()


async def expire_batches(conn: AsyncConnection, tally: Tally) -> set[str]:
    """End the open domains of every active batch past its deadline (their moves added to
    ``tally``); returns the batches touched. The active batches are read through
    ``ix_batches_status``: a few rows, whatever the number of domains."""
    expired = await conn.execute(
        select(b.c.id, b.c.deadline_seconds).where(
            b.c.status.in_(ACTIVE_BATCH), b.c.deadline_at <= epoch_now()
        )
    )
    touched: set[str] = set()
    for batch_id, seconds in expired.all():
        failed = counters.key(batch_id, DomainStatus.FAILED, DEADLINE_CODE)
        for status in (DomainStatus.PROCESSING, DomainStatus.PENDING):  # this order: see above
            moved = await conn.execute(
                update(d)
                .where(d.c.batch_id == batch_id, d.c.status == status)
                .values(
                    status=DomainStatus.FAILED,
                    error_code=DEADLINE_CODE,
                    error_message=deadline_message(seconds),
                    finished_at=epoch_now(),
                    lease_expires_at=None,
                )
            )
            if moved.rowcount:
                tally.move(batch_id, status, failed, moved.rowcount)
                touched.add(batch_id)
    return touched


async def store_completion(conn: AsyncConnection, batch_id: str, counts: dict[str, int]) -> None:
    """Store t50..t100 of a batch that just ended, from its domains' finish times. ``counts``:
    its domains by status (the counters), whose terminal ones but ``invalid`` have one."""
    finished = sum(
        counts.get(s, 0)
        for s in (DomainStatus.SUCCEEDED, DomainStatus.FAILED, DomainStatus.CANCELLED)
    )
    wanted = ranks(finished)
    started = await conn.scalar(select(b.c.started_at).where(b.c.id == batch_id))
    if not wanted or started is None:
        return
    numbered = (
        select(
            d.c.finished_at,
            func.row_number().over(order_by=(d.c.finished_at, d.c.id)).label("rank"),
        )
        .where(d.c.batch_id == batch_id, d.c.finished_at.is_not(None))
        .subquery()
    )
    found = await conn.execute(
        select(numbered.c.rank, numbered.c.finished_at).where(
            numbered.c.rank.in_(sorted(set(wanted.values())))
        )
    )
    points = completion(started, {int(rank): at for rank, at in found}, finished)
    if points:
        await conn.execute(update(b).where(b.c.id == batch_id).values(**points))
