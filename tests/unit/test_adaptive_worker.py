"""The worker's adaptive level on the in-memory store: it grows only while the worker has more
work than slots (an idle worker does not ratchet up), stays pinned when ``CONCURRENCY`` is set,
and the headroom sampler reads this machine. The machine's signals are replaced by "all fine"
here, so only demand decides (the decision itself: test_concurrency_level.py; the real signals
through the command: tests/acceptance/test_adaptive_concurrency.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from domainbatch.engine import worker as worker_module
from domainbatch.engine.concurrency import Signals
from domainbatch.engine.headroom import Headroom, raise_fd_limit
from domainbatch.engine.worker import Worker
from domainbatch.settings import Settings
from domainbatch.storage.memory import MemoryQueue

SCRIPTED = "tests.support.processors:scripted"


@pytest.fixture
def roomy_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "ADAPT_INTERVAL", 0.02)
    monkeypatch.setattr(Headroom, "sample", lambda self, *, demand: Signals(demand=demand))


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "concurrency": None,
        "min_concurrency": 4,
        "max_concurrency": 64,
        "claim_size": 64,
        "poll_min_seconds": 0.001,
        "poll_max_seconds": 0.01,
        "ack_interval_seconds": 0.01,
        "shutdown_grace_seconds": 0.0,
    }
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


async def run_for(worker: Worker, seconds: float) -> int:
    """The highest level the worker reached while it ran for ``seconds``."""
    task = asyncio.create_task(worker.run())
    highest = worker.concurrency.level
    for _ in range(int(seconds / 0.01)):
        await asyncio.sleep(0.01)
        highest = max(highest, worker.concurrency.level)
    worker.stop(now=True)
    await asyncio.wait_for(task, 10)
    return highest


@pytest.mark.usefixtures("roomy_machine")
async def test_a_worker_with_more_work_than_slots_grows_to_its_ceiling() -> None:
    store = MemoryQueue()
    store.add_batch([f"d{i}.test" for i in range(2000)], processor=SCRIPTED, options={"delay": 5})
    worker = Worker(store, settings())
    assert await run_for(worker, 1.0) == 64
    assert store.workers == {}  # it left the fleet on its way out


@pytest.mark.usefixtures("roomy_machine")
async def test_an_idle_worker_or_one_with_little_work_stays_at_the_floor() -> None:
    store = MemoryQueue()
    assert await run_for(Worker(store, settings()), 0.5) == 4
    store.add_batch(["a.test", "b.test"], processor=SCRIPTED, options={"delay": 5})
    assert await run_for(Worker(store, settings()), 0.5) == 4


@pytest.mark.usefixtures("roomy_machine")
async def test_a_pinned_worker_keeps_its_level_and_tells_the_fleet() -> None:
    store = MemoryQueue()
    store.add_batch([f"d{i}.test" for i in range(200)], processor=SCRIPTED, options={"delay": 5})
    worker = Worker(store, settings(concurrency=8))
    task = asyncio.create_task(worker.run())
    for _ in range(1000):
        if len(worker._inflight) == 8:
            break
        await asyncio.sleep(0.01)
    beat = store.workers[worker.id]
    assert (beat.concurrency, beat.pinned) == (8, True)
    await asyncio.sleep(0.2)
    assert worker.concurrency.level == 8 and len(worker._inflight) == 8
    worker.stop(now=True)
    await asyncio.wait_for(task, 10)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
async def test_the_sampler_reads_this_machine() -> None:
    raise_fd_limit()
    headroom = Headroom()
    probe = asyncio.create_task(headroom.lag.run())
    await asyncio.sleep(0.2)
    probe.cancel()
    signals = headroom.sample(demand=True)
    assert signals.demand and signals.loop_lag is not None and signals.loop_lag >= 0
    assert signals.cpu_busy is not None and 0 <= signals.cpu_busy <= 1
    assert signals.cpu_own is not None and 0 <= signals.cpu_own <= signals.cpu_busy + 0.05
    assert signals.memory_total and signals.memory_available and signals.rss
    assert signals.memory_available < signals.memory_total
    assert signals.fds_open and signals.fds_limit and signals.fds_open < signals.fds_limit
    assert headroom.lag.take() is None  # sampled: cleared
