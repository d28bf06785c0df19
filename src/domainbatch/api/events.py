"""Server-Sent Events of batch progress: a ``progress`` event per open batch about every
``events_interval_seconds``, and an ``end`` event for each batch when it ends; the stream closes
when every batch it follows has ended. Each snapshot is one short read: no connection is held
between events, so a thousand watchers cost a thousand small queries a second, not a pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from domainbatch.core.models import BatchReport
from domainbatch.service import Batches


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {orjson.dumps(data).decode()}\n\n"


async def progress_stream(
    batches: Batches, first: list[BatchReport], interval: float
) -> AsyncIterator[str]:
    # Tells EventSource how long to wait before reconnecting after a dropped connection.
    yield f"retry: {int(interval * 2000)}\n\n"
    async for current, ended in batches.follow(first, interval):
        for status in current:
            yield sse("progress", status.as_dict())
        for status in ended:
            yield sse("end", status.as_dict())
