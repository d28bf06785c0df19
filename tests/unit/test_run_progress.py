"""`run`'s progress bar is drawn after each status poll, never by a Rich refresh thread: on a
console that is not a terminal such a thread rendered the bar into nothing, 10 times a second,
for the whole batch (2.6% of a core)."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any, cast

import pytest
from rich.live import _RefreshThread

from domainbatch.cli import processing
from domainbatch.core.status import BatchStatus


class FakeWorker:
    def __init__(self) -> None:
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        await self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()


class FakeBatches:
    """Three polls: processing twice, then completed; notes the refresh threads alive at each."""

    def __init__(self) -> None:
        self.polls = 0
        self.refresh_threads: list[int] = []

    async def status(self, batch_id: str) -> Any:
        self.polls += 1
        self.refresh_threads.append(
            sum(isinstance(thread, _RefreshThread) for thread in threading.enumerate())
        )
        state = BatchStatus.PROCESSING if self.polls < 3 else BatchStatus.COMPLETED
        return SimpleNamespace(status=state, done=self.polls, rate_per_second=None)


@pytest.mark.parametrize("terminal", [False, True])
def test_no_refresh_thread_draws_the_bar(monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    monkeypatch.setattr(processing.err, "_force_terminal", terminal)
    assert processing.err.is_terminal is terminal
    batches = FakeBatches()
    created = SimpleNamespace(id="b1", total=3)
    asyncio.run(processing.follow(cast(Any, batches), cast(Any, created), cast(Any, FakeWorker())))
    assert batches.polls >= 3
    assert batches.refresh_threads[:3] == [0, 0, 0]
