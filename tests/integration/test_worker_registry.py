"""Live workers in the database (storage/workers.py): a running worker is listed with its
concurrency level and domains in flight (what ``status`` and ``/metrics`` show), a clean stop
removes it, and a worker silent for three leases counts as gone. On every backend."""

from __future__ import annotations

import asyncio
import os
import socket
import time

from sqlalchemy import select

from domainbatch.core.models import WorkerRecord
from domainbatch.core.queue import Heartbeat
from domainbatch.engine.worker import Worker
from domainbatch.runtime import Runtime
from domainbatch.storage.tables import workers

SCRIPTED = "tests.support.processors:scripted"


async def listed(rt: Runtime, worker: Worker, *, busy: bool) -> WorkerRecord:
    """The worker's row, once it shows domains in flight (``busy``)."""
    deadline = time.monotonic() + 20
    while True:
        mine = [w for w in await rt.system().workers() if w.id == worker.id]
        if mine and (mine[0].inflight > 0 or not busy):
            return mine[0]
        assert time.monotonic() < deadline, f"worker {worker.id} never listed busy: {mine}"
        await asyncio.sleep(0.05)


async def test_a_workers_level_and_load_are_visible_until_it_stops(runtime: Runtime) -> None:
    created = await runtime.batches().create(
        [f"d{i}.test" for i in range(40)], processor=SCRIPTED, options={"delay": 30}
    )
    # Heartbeats come on the lease-extension tick: a third of a lease.
    quick = runtime.settings.with_overrides(lease_seconds=0.6, min_concurrency=8)
    adaptive = Runtime(quick, runtime.db).worker(only_batches=[created.id])
    pinned = Runtime(quick.with_overrides(concurrency=5), runtime.db).worker(
        only_batches=[created.id]
    )
    running = [asyncio.create_task(w.run()) for w in (adaptive, pinned)]
    try:
        grown = await listed(runtime, adaptive, busy=True)
        assert not grown.pinned and 8 <= grown.concurrency <= 1000
        assert grown.host == socket.gethostname() and grown.pid == os.getpid()
        assert 0 < grown.inflight <= grown.concurrency
        assert grown.seen_at >= grown.started_at
        fixed = await listed(runtime, pinned, busy=True)
        assert (fixed.concurrency, fixed.pinned, fixed.inflight) == (5, True, 5)
        gauges = await runtime.system().gauges()
        assert {adaptive.id, pinned.id} <= {w.id for w in gauges.workers}
    finally:
        for worker in (adaptive, pinned):
            worker.stop(now=True)
        await asyncio.wait_for(asyncio.gather(*running), 30)
    assert not {adaptive.id, pinned.id} & {w.id for w in await runtime.system().workers()}


async def test_a_silent_worker_is_gone_after_three_leases(runtime: Runtime) -> None:
    short = Runtime(runtime.settings.with_overrides(lease_seconds=0.2))
    try:
        beat = Heartbeat("host:1:crashed", "host", 1, concurrency=64, pinned=False, inflight=10)
        await short.queue().beat(beat)
        assert [w.id for w in await short.system().workers()] == ["host:1:crashed"]
        await asyncio.sleep(0.8)  # past 3 x 0.2 s without a heartbeat
        assert await short.system().workers() == []
        # The next heartbeat of any worker deletes the gone one's row.
        await short.queue().beat(Heartbeat("host:2:alive", "host", 2, 16, False, 0))
        async with short.db.connect() as conn:
            ids = (await conn.execute(select(workers.c.id))).scalars().all()
        assert ids == ["host:2:alive"]
    finally:
        await short.close()
