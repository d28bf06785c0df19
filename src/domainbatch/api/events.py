"""Server-Sent Events of batch progress: a ``progress`` event per open batch about every
``events_interval_seconds``, and an ``end`` event for each batch when it ends; the stream closes
when every batch it follows has ended. Each snapshot is one short read: no connection is held
between events, so a thousand watchers cost a thousand small queries a second, not a pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson

from domainbatch.api.auth import Service
from domainbatch.core.status import ACTIVE_BATCH
from domainbatch.storage.batches import batch_status


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {orjson.dumps(data).decode()}\n\n"


async def progress_stream(
    svc: Service, first: list[dict[str, Any]], *, tenant_id: str | None
) -> AsyncIterator[str]:
    interval = svc.runtime.settings.events_interval_seconds
    current = first
    # Tells EventSource how long to wait before reconnecting after a dropped connection.
    yield f"retry: {int(interval * 2000)}\n\n"
    while True:
        still_open = []
        for status in current:
            yield sse("progress", status)
            if status["status"] in ACTIVE_BATCH:
                still_open.append(status["id"])
            else:
                yield sse("end", status)
        if not still_open:
            return
        await asyncio.sleep(interval)
        current = [
            await batch_status(svc.runtime.db, batch_id, tenant_id=tenant_id)
            for batch_id in still_open
        ]
