"""Live workers (the ``workers`` table): each upserts its row on its lease-extension tick and
deletes it on a clean stop; a row silent for three leases belongs to a worker that is gone (a
crash, a lost machine) and is neither shown nor kept. Plain statements, one short transaction
each: they run unchanged through a transaction-mode pooler."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.models import WorkerRecord
from domainbatch.core.queue import Heartbeat
from domainbatch.storage.database import Database
from domainbatch.storage.tables import epoch_now
from domainbatch.storage.tables import workers as w

LEASES_TO_GONE = 3  # heartbeats come every third of a lease: nine missed, the worker is gone


def gone_after(lease_seconds: float) -> float:
    return LEASES_TO_GONE * lease_seconds


async def beat(db: Database, heartbeat: Heartbeat, lease_seconds: float) -> None:
    # Update, then insert if there was no row: only this worker writes its row (its id is
    # unique), so no other writer can race in between; portable, unlike each dialect's upsert.
    figures = {
        "concurrency": heartbeat.concurrency,
        "pinned": heartbeat.pinned,
        "inflight": heartbeat.inflight,
    }
    async with db.transaction() as conn:
        found = await conn.execute(
            update(w).where(w.c.id == heartbeat.worker_id).values(seen_at=epoch_now(), **figures)
        )
        if found.rowcount == 0:
            await conn.execute(
                insert(w).values(
                    id=heartbeat.worker_id,
                    host=heartbeat.host,
                    pid=heartbeat.pid,
                    started_at=epoch_now(),
                    seen_at=epoch_now(),
                    **figures,
                )
            )
        await conn.execute(delete(w).where(w.c.seen_at < epoch_now() - gone_after(lease_seconds)))


async def leave(db: Database, worker_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(delete(w).where(w.c.id == worker_id))


async def live(conn: AsyncConnection, lease_seconds: float) -> list[WorkerRecord]:
    """Workers heard from within three leases, oldest first."""
    rows = await conn.execute(
        select(w)
        .where(w.c.seen_at >= epoch_now() - gone_after(lease_seconds))
        .order_by(w.c.started_at, w.c.id)
    )
    return [
        WorkerRecord(
            id=r.id,
            host=r.host,
            pid=r.pid,
            concurrency=r.concurrency,
            pinned=bool(r.pinned),
            inflight=r.inflight,
            started_at=r.started_at,
            seen_at=r.seen_at,
        )
        for r in rows
    ]
