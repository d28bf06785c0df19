"""Batch creation: one transaction, streamed in chunks, whole or not at all. How the domain rows
are written is the backend's (``sqlite.insert_domains``, ``bulk.copy_domains``); reading and
deleting batches lives in ``batches.py``, queue transitions in the queue stores."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from itertools import islice

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.queue import BatchSpec, CreatedBatch
from domainbatch.core.status import BatchEvent, BatchStatus, DomainStatus
from domainbatch.errors import EmptyBatchError, LimitExceededError
from domainbatch.storage import counters
from domainbatch.storage.counters import Tally
from domainbatch.storage.database import Database
from domainbatch.storage.outbox import enqueue_event
from domainbatch.storage.tables import batches, epoch_now

INVALID_SAMPLE = 100  # invalid entries echoed back in full; the rest are counted

Take = Callable[[], list[str]]  # the next chunk of entries (empty: no more)
OnInvalid = Callable[[str, str], None]  # (entry as stored, reason)
# How a backend writes a new batch's domain rows; returns how many rows it stored.
Load = Callable[[AsyncConnection, str, Take, DomainNormalizer, OnInvalid], Awaitable[int]]


async def create_batch(
    db: Database,
    entries: Iterable[str],
    *,
    spec: BatchSpec,
    normalizer: DomainNormalizer,
    max_entries: int,
    chunk_size: int,
    load: Load,
) -> CreatedBatch:
    """Store a batch whole or not at all: the batch row, its domain rows (by the backend's
    ``load``), totals, counters and, if every entry is invalid, its end. Memory holds one
    chunk of rows, whatever the size."""
    batch_id = str(uuid.uuid4())
    created = CreatedBatch(batch_id, BatchStatus.PENDING, 0, 0, 0, 0)
    source = iter(entries)
    async with db.transaction() as conn:
        await conn.execute(
            batches.insert().values(
                id=batch_id,
                status=BatchStatus.PENDING,
                processor=spec.processor,
                options=dict(spec.options),
                max_attempts=spec.max_attempts,
                total=0,
                invalid=0,
                duplicates=0,
                created_at=epoch_now(),
                tenant_id=spec.tenant_id,
                webhook_url=spec.webhook_url,
                webhook_secret=spec.webhook_secret,
                deadline_seconds=spec.deadline_seconds,
            )
        )

        def on_invalid(raw: str, reason: str) -> None:
            created.invalid += 1
            if len(created.invalid_entries) < INVALID_SAMPLE:
                created.invalid_entries.append({"input": raw, "reason": reason})

        def take() -> list[str]:
            chunk = list(islice(source, chunk_size))
            created.entries += len(chunk)
            if created.entries > max_entries:
                raise LimitExceededError(
                    f"the batch has more than {max_entries:,} entries (max_entries)"
                )
            return chunk

        stored = await load(conn, batch_id, take, normalizer, on_invalid)
        if created.entries == 0:
            raise EmptyBatchError("the batch has no entries: nothing to process")
        created.total = stored
        created.duplicates = created.entries - created.total
        all_invalid = created.invalid == created.total
        created.status = BatchStatus.FAILED if all_invalid else BatchStatus.PENDING
        await conn.execute(
            update(batches)
            .where(batches.c.id == batch_id)
            .values(
                total=created.total,
                invalid=created.invalid,
                duplicates=created.duplicates,
                status=created.status,
                error="every entry is invalid" if all_invalid else None,
                finished_at=epoch_now() if all_invalid else None,
            )
        )
        tally = Tally()
        tally[counters.key(batch_id, DomainStatus.PENDING)] = created.total - created.invalid
        tally[counters.key(batch_id, DomainStatus.INVALID)] = created.invalid
        await counters.apply(conn, tally, 0)
        if all_invalid:
            await enqueue_event(conn, batch_id, BatchEvent.FAILED)
    return created


def storable(text: str) -> str:
    """Text every database stores: Postgres refuses NUL, and no driver encodes a lone UTF-16
    surrogate (JSON input can carry both). Such entries are invalid anyway; keep them readable."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
