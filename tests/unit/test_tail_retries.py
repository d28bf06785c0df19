"""Bounded tails: a domain whose site never answers in time (a ``timeout``) is retried at most
``timeout_max_attempts`` times in all, other transient failures up to the batch's
``max_attempts``; the runner applies it, and a batch's deadline caps a domain's time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from domainbatch.core.queue import ActiveBatch, Claimed
from domainbatch.core.retry import RetryPolicy
from domainbatch.engine.runner import Runner
from domainbatch.engine.worker import Worker
from domainbatch.errors import TIMEOUT_CODES, DomainProcessingError
from domainbatch.settings import Settings
from domainbatch.storage.memory import MemoryQueue

SCRIPTED = "tests.support.processors:scripted"


def test_timeouts_get_two_attempts_other_transient_failures_max_attempts() -> None:
    policy = RetryPolicy.for_domains(Settings(), 3)
    assert [policy.retries(n, "timeout") for n in (1, 2, 3)] == [True, False, False]
    for code in ("connect_error", "dns_error", None):
        assert [policy.retries(n, code) for n in (1, 2, 3)] == [True, True, False]


def test_the_timeout_limit_stays_within_the_batchs_max_attempts() -> None:
    settings = Settings(timeout_max_attempts=5)
    assert [RetryPolicy.for_domains(settings, 2).retries(n, "timeout") for n in (1, 2)] == [
        True,
        False,
    ]
    once = RetryPolicy.for_domains(Settings(timeout_max_attempts=1), 3)
    assert not once.retries(1, "timeout") and once.retries(2, "connect_error")


def test_the_timeout_codes_are_real_transient_codes() -> None:
    assert {"timeout"} == TIMEOUT_CODES
    assert all(DomainProcessingError(code, "x").transient for code in TIMEOUT_CODES)


def test_backoff_is_capped_at_thirty_seconds_by_default() -> None:
    policy = RetryPolicy.for_domains(Settings(), 10)
    assert max(policy.delay(20) for _ in range(100)) <= 30.0


def failing(code: str) -> Any:
    async def processor(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
        raise DomainProcessingError(code, f"{domain}: {code}")

    return processor


async def hanging(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(3600)
    return {}


BATCH = ActiveBatch("b", "noop", {}, 3)


async def test_the_runner_retries_a_timeout_once_and_a_refusal_twice() -> None:
    async with Runner(Settings(), "w") as runner:
        for attempt, code, retried in [
            (1, "timeout", True),
            (2, "timeout", False),
            (2, "connect_error", True),
            (3, "connect_error", False),
        ]:
            claim = Claimed(1, "b", "a.test", attempt)
            outcome = await runner.run(failing(code), BATCH, claim)
            assert outcome.error_code == code
            assert (outcome.retry_in is not None) == retried, (attempt, code)


async def test_the_runner_stops_a_domain_at_its_batchs_deadline() -> None:
    batch = ActiveBatch("b", "noop", {}, 3, deadline_seconds=5, deadline=time.monotonic() + 0.2)
    began = time.monotonic()
    async with Runner(Settings(task_timeout=60), "w") as runner:
        outcome = await runner.run(hanging, batch, Claimed(1, "b", "a.test", 1))
    assert time.monotonic() - began < 30  # not the task timeout
    assert (outcome.error_code, outcome.retry_in) == ("deadline_exceeded", None)
    assert outcome.error_message is not None and "5 s" in outcome.error_message


async def test_a_domain_claimed_after_the_deadline_is_not_run() -> None:
    batch = ActiveBatch("b", "noop", {}, 3, deadline_seconds=1, deadline=time.monotonic() - 1)
    async with Runner(Settings(), "w") as runner:
        outcome = await runner.run(failing("internal"), batch, Claimed(1, "b", "a.test", 1))
    assert (outcome.error_code, outcome.retry_in) == ("deadline_exceeded", None)


async def test_a_batch_without_deadline_keeps_the_task_timeout() -> None:
    async with Runner(Settings(task_timeout=0.1), "w") as runner:
        outcome = await runner.run(hanging, BATCH, Claimed(1, "b", "a.test", 1))
    assert outcome.error_code == "timeout" and outcome.retry_in is not None


async def test_the_memory_store_ends_a_batch_at_its_deadline_with_its_percentiles() -> None:
    store = MemoryQueue()
    batch_id = store.add_batch(["ok.test", "slow-1.test", "slow-2.test"], processor=SCRIPTED)
    store.batches[batch_id].deadline_seconds = 0.3
    worker = Worker(store, Settings(poll_max_seconds=0.05, ack_interval_seconds=0.01), burst=True)
    await asyncio.wait_for(worker.run(), 10)  # not the 30 s a slow-* domain sleeps
    report = await store.status(batch_id)
    assert (report.status, report.errors) == ("completed", {"deadline_exceeded": 2})
    assert report.completion is not None and list(report.completion) == [
        "t50",
        "t90",
        "t99",
        "t100",
    ]
    assert report.completion["t50"] <= report.completion["t100"]


def test_a_batch_listed_before_its_start_has_its_whole_deadline_left() -> None:
    """It starts with the claim being run (or a moment before): the time since the list was
    read (a processor loading, say) is not taken from its domains."""
    assert ActiveBatch("b", "noop", {}, 3, deadline_seconds=5).time_left() == 5
    assert ActiveBatch("b", "noop", {}, 3).time_left() is None
