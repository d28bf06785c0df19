"""Where a domain still in flight at the end of the grace period was waiting, as the worker's
warning names it (engine/shutdown.py); the stop itself is tested in test_worker_memory.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import pytest

from domainbatch.core.queue import Claimed
from domainbatch.engine.shutdown import describe, settle, waiting_in


async def a_processor_of_the_users(hold: asyncio.Event) -> None:
    await asyncio.sleep(0)
    await hold.wait()


async def suspended(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0.01)  # the task runs to its first real wait
    assert not task.done()
    return task


async def test_the_innermost_coroutine_outside_the_libraries_is_named() -> None:
    task = await suspended(a_processor_of_the_users(asyncio.Event()))
    assert waiting_in(task) == "a_processor_of_the_users"  # not asyncio's Event.wait
    task.cancel()


async def test_our_own_coroutine_is_named_even_below_a_processor() -> None:
    # settle() waits on the tasks it was given: the chain is test -> settle -> asyncio.wait.
    stuck = await suspended(a_processor_of_the_users(asyncio.Event()))
    inflight = {stuck: Claimed(1, "b", "stuck.test", 1)}
    task = await suspended(settle(inflight, 60.0, asyncio.Event(), "w"))
    assert waiting_in(task) == "settle"
    for each in (task, stuck):
        each.cancel()


async def test_a_chain_of_library_code_only_names_its_innermost_coroutine() -> None:
    task = await suspended(asyncio.sleep(60))
    assert waiting_in(task) == "sleep"
    task.cancel()


async def test_five_domains_are_named_and_the_rest_counted() -> None:
    hold = asyncio.Event()
    tasks = [await suspended(a_processor_of_the_users(hold)) for _ in range(7)]
    inflight = {task: Claimed(i, "b", f"d{i}.test", 1) for i, task in enumerate(tasks)}
    said = describe(tasks, inflight)
    assert said == ", ".join(
        [f"d{i}.test (in a_processor_of_the_users)" for i in range(5)] + ["+2 more"]
    )
    hold.set()
    await asyncio.gather(*tasks)


async def test_no_grace_at_all_releases_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # SHUTDOWN_GRACE_SECONDS=0 asks for what happens: nothing to warn about.
    stuck = await suspended(a_processor_of_the_users(asyncio.Event()))
    claim = Claimed(1, "b", "stuck.test", 1)
    for grace, warned in ((0.0, False), (0.01, True)):
        caplog.clear()
        with caplog.at_level(logging.INFO, "domainbatch.worker"):
            assert await settle({stuck: claim}, grace, asyncio.Event(), "w") == [claim]
        assert any(r.levelname == "WARNING" for r in caplog.records) is warned
        stuck = await suspended(a_processor_of_the_users(asyncio.Event()))
    stuck.cancel()
