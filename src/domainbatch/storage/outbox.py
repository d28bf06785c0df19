"""The webhook outbox. ``enqueue_event`` runs inside the transaction of the batch transition it
reports, so an event exists exactly when its transition committed (once per transition, never
lost, never doubled). Deliveries are then leased like domains: one statement claims a few, the
lease makes a crashed sender's rows claimable again, and every update is guarded by
(worker, attempt) so a late answer from a reclaimed lease changes nothing. A batch's events
are sent in the order they happened: a later one waits while an earlier one is retried (and
goes out once the earlier one is delivered or given up)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, exists, literal, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.models import DeliveryRecord
from domainbatch.core.status import BatchEvent
from domainbatch.storage.database import Database
from domainbatch.storage.tables import batches as b
from domainbatch.storage.tables import epoch_now
from domainbatch.storage.tables import webhook_deliveries as w

EVENTS = tuple(BatchEvent)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    batch_id: str
    event: str
    attempt: int
    url: str
    secret: str = field(repr=False)  # never in a log line
    created_at: float


async def enqueue_event(conn: AsyncConnection, batch_id: str, event: BatchEvent) -> None:
    """Record ``event`` for the batch's webhook, if it has one (a no-op otherwise)."""
    source = select(
        literal(str(uuid.uuid4())),
        b.c.id,
        literal(event),
        literal("pending"),
        epoch_now(),
    ).where(b.c.id == batch_id, b.c.webhook_url.is_not(None))
    await conn.execute(
        w.insert().from_select(["id", "batch_id", "event", "status", "created_at"], source)
    )


def _guard(delivery: Delivery, worker_id: str) -> ColumnElement[bool]:
    return and_(
        w.c.id == delivery.id,
        w.c.status == "pending",
        w.c.worker_id == worker_id,
        w.c.attempts == delivery.attempt,
    )


class Outbox:
    def __init__(self, db: Database, lease_seconds: float) -> None:
        self.db = db
        self.lease_seconds = lease_seconds

    async def claim(
        self, worker_id: str, limit: int, batch_ids: Sequence[str] | None = None
    ) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries in one statement, oldest first; of these
        batches only, when ``batch_ids`` is given."""
        now = epoch_now()
        earlier = w.alias("earlier")
        # A batch's events go out in order: none while an older one of its batch is pending.
        blocked = exists().where(
            earlier.c.batch_id == w.c.batch_id,
            earlier.c.status == "pending",
            earlier.c.created_at < w.c.created_at,
        )
        due = (
            select(w.c.id)
            .where(
                w.c.status == "pending",
                w.c.next_attempt_at <= now,
                or_(w.c.lease_expires_at.is_(None), w.c.lease_expires_at < now),
                ~blocked,
                true() if batch_ids is None else w.c.batch_id.in_(batch_ids),
            )
            .order_by(w.c.next_attempt_at, w.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(w)
            .where(w.c.id.in_(due))
            .values(
                worker_id=worker_id,
                attempts=w.c.attempts + 1,
                lease_expires_at=epoch_now() + self.lease_seconds,
            )
            .returning(w.c.id, w.c.batch_id, w.c.event, w.c.attempts, w.c.created_at)
        )
        async with self.db.transaction() as conn:
            rows = (await conn.execute(stmt)).all()
            if not rows:
                return []
            targets = {
                r.id: (r.webhook_url, r.webhook_secret)
                for r in await conn.execute(
                    select(b.c.id, b.c.webhook_url, b.c.webhook_secret).where(
                        b.c.id.in_({r.batch_id for r in rows})
                    )
                )
            }
        return [
            Delivery(r.id, r.batch_id, r.event, r.attempts, *targets[r.batch_id], r.created_at)
            for r in rows
        ]

    async def delivered(self, delivery: Delivery, worker_id: str, status_code: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                update(w)
                .where(_guard(delivery, worker_id))
                .values(
                    status="delivered",
                    response_status=status_code,
                    last_error=None,
                    lease_expires_at=None,
                    delivered_at=epoch_now(),
                )
            )

    async def failed(
        self,
        delivery: Delivery,
        worker_id: str,
        error: str,
        *,
        status_code: int | None,
        retry_in: float | None,
    ) -> None:
        """Schedule the next attempt in ``retry_in`` seconds, or give up when it is None."""
        values: dict[str, object] = {
            "response_status": status_code,
            "last_error": error[:2000],
            "lease_expires_at": None,
            "worker_id": None,
        }
        if retry_in is None:
            values["status"] = "failed"
        else:
            values["next_attempt_at"] = epoch_now() + retry_in
        async with self.db.transaction() as conn:
            await conn.execute(update(w).where(_guard(delivery, worker_id)).values(**values))

    async def deliveries(self, batch_id: str) -> list[DeliveryRecord]:
        """What was recorded for one batch (for operators and tests)."""
        async with self.db.connect() as conn:
            rows = await conn.execute(
                select(w).where(w.c.batch_id == batch_id).order_by(w.c.created_at, w.c.id)
            )
            # The record's fields are the table's columns, by name.
            return [DeliveryRecord(**{**r._mapping, "event": BatchEvent(r.event)}) for r in rows]
