"""PgQueuer, the peer in the queue bench: its own API, its psycopg driver, no-op jobs.

    python -m bench.pgq enqueue URL N       # install the schema, enqueue N no-op jobs
    python -m bench.pgq worker URL BATCH    # drain the queue; prints first/last job times

Each worker is one process with one ``QueueManager`` in drain mode (it exits once the queue is
empty), as PgQueuer's own benchmark runs it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import timedelta
from typing import Any

ENTRYPOINT = "noop"


async def enqueue(url: str, n: int, chunk: int = 10_000) -> float:
    import psycopg
    from pgqueuer import Queries

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        queries = Queries.from_psycopg_connection(conn)
        await queries.install()
        started = time.perf_counter()
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            await queries.enqueue(
                [ENTRYPOINT] * size,
                [f"d{i}.bench.test".encode() for i in range(start, start + size)],
                [0] * size,
            )
        return time.perf_counter() - started


async def work(url: str, batch_size: int) -> dict[str, Any]:
    import psycopg
    from pgqueuer import Queries, QueueManager
    from pgqueuer.models import Job
    from pgqueuer.types import QueueExecutionMode

    seen = {"first": 0.0, "last": 0.0, "n": 0}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        manager = QueueManager(Queries.from_psycopg_connection(conn))

        @manager.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            now = time.time()
            if not seen["n"]:
                seen["first"] = now
            seen["last"] = now
            seen["n"] += 1

        await manager.run(
            dequeue_timeout=timedelta(seconds=0.5),
            batch_size=batch_size,
            mode=QueueExecutionMode.drain,
        )
    seen["exit"] = time.time()
    return seen


def main(argv: list[str]) -> None:
    command, url, number = argv[0], argv[1], int(argv[2])
    if command == "enqueue":
        print(json.dumps({"seconds": asyncio.run(enqueue(url, number))}))
    elif command == "worker":
        print(json.dumps(asyncio.run(work(url, number))))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
