"""Fleet-wide figures read from the database (for ``/metrics``, ``/readyz`` and ``status``):
batches by status, the queue's depth, the workers holding live leases and the live workers with
their concurrency level. Every worker shares the
database, so these are the fleet's, not one process's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from domainbatch.core.models import WorkerRecord
from domainbatch.core.status import DomainStatus
from domainbatch.storage import workers
from domainbatch.storage.database import Database
from domainbatch.storage.tables import batch_domains as d
from domainbatch.storage.tables import batches as b
from domainbatch.storage.tables import epoch_now


@dataclass(frozen=True)
class FleetGauges:
    batches_by_status: dict[str, int]
    queue_depth: int  # pending domains due now
    workers_busy: int  # distinct workers holding a live lease
    workers: list[WorkerRecord]  # live ones (heard from within three leases)


async def ready(db: Database) -> None:
    """Raise ``StorageError`` unless the database answers and has the schema."""
    async with db.connect() as conn:
        await conn.execute(select(b.c.id).limit(1))


async def gauges(db: Database) -> FleetGauges:
    async with db.connect() as conn:
        grouped = await conn.execute(select(b.c.status, func.count()).group_by(b.c.status))
        by_status: dict[str, int] = {row[0]: row[1] for row in grouped}
        depth = await conn.scalar(
            select(func.count())
            .select_from(d)
            .where(d.c.status == DomainStatus.PENDING, d.c.next_attempt_at <= epoch_now())
        )
        busy = await conn.scalar(
            select(func.count(d.c.worker_id.distinct())).where(
                d.c.status == DomainStatus.PROCESSING, d.c.lease_expires_at > epoch_now()
            )
        )
        live = await workers.live(conn, db.settings.lease_seconds)
    return FleetGauges(by_status, int(depth or 0), int(busy or 0), live)


async def live_workers(db: Database) -> list[WorkerRecord]:
    async with db.connect() as conn:
        return await workers.live(conn, db.settings.lease_seconds)
