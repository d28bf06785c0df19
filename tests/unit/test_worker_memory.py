"""The worker and runner on the in-memory queue store: claims, leases, acks, retries, cancel,
release and the end of a batch, with no database (the SQL stores run the same scenarios in
tests/integration/test_batches.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from domainbatch.core.queue import Outcome
from domainbatch.core.status import BatchEvent
from domainbatch.engine.worker import Worker
from domainbatch.settings import Settings
from domainbatch.storage.memory import MemoryQueue

SCRIPTED = "tests.support.processors:scripted"  # fail-*, flaky-*, boom-*, slow-*: see there


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "concurrency": 4,
        "claim_size": 4,
        "poll_min_seconds": 0.001,
        "poll_max_seconds": 0.01,
        "ack_interval_seconds": 0.01,
        "retry_base_seconds": 0.0,
        "retry_max_seconds": 0.0,
        "shutdown_grace_seconds": 0.0,
    }
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


async def run(store: MemoryQueue, **overrides: object) -> tuple[Worker, list[tuple[str, str]]]:
    events: list[tuple[str, str]] = []
    worker = Worker(
        store,
        settings(**overrides),
        burst=True,
        on_event=lambda event, batch_id: events.append((str(event), batch_id)),
    )
    await asyncio.wait_for(worker.run(), 10)
    return worker, events


async def test_a_batch_runs_to_completed_once() -> None:
    store = MemoryQueue()
    batch_id = store.add_batch([f"d{i}.test" for i in range(10)])
    worker, events = await run(store)
    assert events == [("batch.started", batch_id), ("batch.completed", batch_id)]
    assert store.events == [(BatchEvent.STARTED, batch_id), (BatchEvent.COMPLETED, batch_id)]
    assert store.counts(batch_id) == {"succeeded": 10}
    assert {d.attempts for d in store.batches[batch_id].domains} == {1}
    assert worker.stats.claimed == 10 and worker.stats.succeeded == 10
    report = await store.status(batch_id)
    assert (report.status, report.done, report.progress) == ("completed", 10, 100.0)


async def test_transient_failures_retry_and_permanent_ones_fail(tmp_path: Path) -> None:
    store = MemoryQueue()
    names = ["ok.test", "fail-1.test", "flaky-1.test", "boom-1.test"]
    batch_id = store.add_batch(
        names, processor=SCRIPTED, options={"marker_dir": str(tmp_path)}, max_attempts=3
    )
    _, events = await run(store)
    assert events[-1] == ("batch.completed", batch_id)
    by_name = {d.domain: d for d in store.batches[batch_id].domains}
    assert (by_name["ok.test"].status, by_name["ok.test"].attempts) == ("succeeded", 1)
    assert (by_name["flaky-1.test"].status, by_name["flaky-1.test"].attempts) == ("succeeded", 2)
    assert by_name["fail-1.test"].status == "failed" and by_name["fail-1.test"].attempts == 1
    assert by_name["fail-1.test"].error_code == "http_status"
    assert by_name["boom-1.test"].error_code == "internal"


async def test_a_batch_where_nothing_succeeds_fails() -> None:
    store = MemoryQueue()
    batch_id = store.add_batch(["fail-1.test", "fail-2.test"], processor=SCRIPTED)
    _, events = await run(store)
    assert events[-1] == ("batch.failed", batch_id)
    assert store.batches[batch_id].error == "no domain succeeded"


async def test_an_expired_lease_is_reclaimed_and_the_late_ack_changes_nothing() -> None:
    now = [1000.0]
    store = MemoryQueue(lease_seconds=30, clock=lambda: now[0])
    batch_id = store.add_batch(["a.test", "b.test"])
    claims, started = await store.claim(batch_id, "dead-worker", 10)
    assert len(claims) == 2 and started
    assert await store.reap() == set()  # leases still running
    now[0] += 31
    assert await store.reap() == {batch_id}
    _, events = await run(store)
    assert events == [("batch.completed", batch_id)]  # it had started under the dead worker
    assert {(d.status, d.attempts) for d in store.batches[batch_id].domains} == {("succeeded", 2)}
    await store.ack([Outcome(claims[0], error_code="timeout", error_message="late")], "dead-worker")
    assert store.counts(batch_id) == {"succeeded": 2}


async def test_spent_attempts_fail_as_internal_when_the_lease_expires() -> None:
    now = [0.0]
    store = MemoryQueue(lease_seconds=1, clock=lambda: now[0])
    batch_id = store.add_batch(["a.test"], max_attempts=1)
    await store.claim(batch_id, "dead-worker", 1)
    now[0] = 2
    await store.reap()
    assert await store.finalize(batch_id) == "failed"
    assert await store.finalize(batch_id) is None  # exactly one caller ends it
    assert store.batches[batch_id].domains[0].error_code == "internal"


async def test_cancel_ends_pending_domains_and_in_flight_ones_finish() -> None:
    store = MemoryQueue()
    batch_id = store.add_batch(["a.test", "b.test", "c.test"])
    claims, _ = await store.claim(batch_id, "w", 1)
    assert await store.cancel(batch_id) == 2
    assert store.events[-1] == (BatchEvent.CANCELLED, batch_id)
    await store.ack([Outcome(claims[0], result={"ok": True})], "w")
    assert store.counts(batch_id) == {"cancelled": 2, "succeeded": 1}
    assert await store.finalize(batch_id) is None  # cancelled stays cancelled


async def test_what_would_go_back_to_pending_in_a_cancelled_batch_ends_cancelled() -> None:
    """A retryable failure, an expired lease, a worker's release: nothing claims from an ended
    batch, so each ends cancelled (the SQL stores: tests/integration/test_cancel_in_flight)."""
    now = [0.0]
    store = MemoryQueue(lease_seconds=10, clock=lambda: now[0])
    batch_id = store.add_batch(["retried.test", "reaped.test", "released.test", "later.test"])
    claims, _ = await store.claim(batch_id, "w", 3)
    assert [c.domain for c in claims] == ["retried.test", "reaped.test", "released.test"]
    retried, _, released = claims
    assert await store.cancel(batch_id) == 1
    await store.ack([Outcome(retried, error_code="timeout", retry_in=0.0)], "w")
    await store.release([released], "w")
    now[0] = 11.0
    assert await store.reap() == {batch_id}
    assert store.counts(batch_id) == {"cancelled": 4}
    assert {(d.error_code, d.worker_id) for d in store.batches[batch_id].domains} == {
        ("cancelled", None)
    }
    assert await store.finalize(batch_id) is None


async def test_retry_reopens_a_batch_that_ends_again_with_a_new_event() -> None:
    store = MemoryQueue()
    batch_id = store.add_batch(["ok.test", "fail-1.test"], processor=SCRIPTED)
    await run(store)
    assert await store.retry_failed(batch_id) == 1
    assert store.batches[batch_id].status == "processing"
    _, events = await run(store)
    assert events == [("batch.completed", batch_id)]
    assert [e for e, b in store.events].count(BatchEvent.COMPLETED) == 2


async def test_a_retry_restarts_the_clock_for_the_reopened_part() -> None:
    now = [100.0]
    store = MemoryQueue(clock=lambda: now[0])
    batch_id = store.add_batch(["ok.test", "fail-1.test"], processor=SCRIPTED)
    claims, _ = await store.claim(batch_id, "w", 2)
    now[0] = 110.0
    await store.ack([Outcome(claims[0]), Outcome(claims[1], error_code="http_error")], "w")
    await store.finalize(batch_id)
    assert (await store.status(batch_id)).duration_seconds == 10.0
    now[0] = 1000.0  # ended, idle
    await store.retry_failed(batch_id)
    claims, _ = await store.claim(batch_id, "w", 1)
    now[0] = 1005.0
    report = await store.status(batch_id)
    assert report.duration_seconds == 15.0 and report.rate_per_second == round(1 / 15, 2)
    assert report.eta_seconds is not None  # one in flight
    await store.ack([Outcome(claims[0])], "w")
    await store.finalize(batch_id)
    report = await store.status(batch_id)
    assert report.duration_seconds == 15.0 and report.eta_seconds is None
    assert report.started_at == 100.0  # the first start, as the user saw it


async def test_stopping_releases_unfinished_work_without_spending_an_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryQueue()
    batch_id = store.add_batch(["slow-1.test", "slow-2.test"], processor=SCRIPTED)
    worker = Worker(store, settings(shutdown_grace_seconds=0.05), on_event=None)
    running = asyncio.create_task(worker.run())
    while store.counts(batch_id).get("processing", 0) < 2:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    with caplog.at_level(logging.INFO, "domainbatch.worker"):
        worker.stop()
        stats = await asyncio.wait_for(running, 5)
    assert stats.released == 2
    assert {(d.status, d.attempts) for d in store.batches[batch_id].domains} == {("pending", 0)}
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert (
        "INFO",
        f"worker {worker.id} stopping: 2 domains in flight may finish within the 0.05 s grace "
        "period (a second signal releases them now)",
    ) in said
    # Where each waited: the test processor's own coroutine, not asyncio's sleep.
    released = [m for level, m in said if level == "WARNING"]
    assert released == [
        f"worker {worker.id}: 2 domains still in flight after the 0.05 s grace period are "
        "released for another worker: slow-1.test (in behave), slow-2.test (in behave)"
    ] or released == [
        f"worker {worker.id}: 2 domains still in flight after the 0.05 s grace period are "
        "released for another worker: slow-2.test (in behave), slow-1.test (in behave)"
    ]


async def test_a_second_stop_releases_at_once_without_the_grace_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryQueue()
    batch_id = store.add_batch(["slow-1.test", "slow-2.test"], processor=SCRIPTED)
    worker = Worker(store, settings(shutdown_grace_seconds=60.0), on_event=None)
    running = asyncio.create_task(worker.run())
    while store.counts(batch_id).get("processing", 0) < 2:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    worker.stop()
    await asyncio.sleep(0.05)
    assert not running.done()  # waiting for the slow domains, within the grace period
    with caplog.at_level(logging.INFO, "domainbatch.worker"):
        worker.stop(now=True)
        stats = await asyncio.wait_for(running, 5)
    assert stats.released == 2 and store.counts(batch_id) == {"pending": 2}
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("INFO", f"worker {worker.id} stopping: 2 domains in flight are released now") in said
    assert not [m for level, m in said if level == "WARNING"]  # released as asked: no warning


async def test_batches_share_the_workers_slots_fairly() -> None:
    store = MemoryQueue()
    big = store.add_batch([f"big{i}.test" for i in range(40)], processor=SCRIPTED)
    small = store.add_batch([f"small{i}.test" for i in range(4)], processor=SCRIPTED)
    order: list[str] = []
    real_claim = store.claim

    async def recording(batch_id: str, worker_id: str, limit: int, **kw: bool):  # type: ignore[no-untyped-def]
        claimed, started = await real_claim(batch_id, worker_id, limit, **kw)
        order.extend(batch_id for _ in claimed)
        return claimed, started

    store.claim = recording  # type: ignore[method-assign]
    await run(store, concurrency=4, claim_size=4)
    # The small batch does not wait for the 40 domains of the big one.
    assert order.index(small) < 8 and len(order) == 44
    assert store.batches[small].status == store.batches[big].status == "completed"


@pytest.mark.parametrize("limit", [1, 3])
async def test_claims_take_due_domains_only(limit: int) -> None:
    now = [0.0]
    store = MemoryQueue(clock=lambda: now[0])
    batch_id = store.add_batch(["a.test", "b.test", "c.test"])
    claims, _ = await store.claim(batch_id, "w", limit)
    await store.ack([Outcome(c, error_code="timeout", retry_in=5) for c in claims], "w")
    again, _ = await store.claim(batch_id, "w", 10)
    assert len(again) == 3 - limit  # the retried ones wait for their backoff
    now[0] = 6
    later, _ = await store.claim(batch_id, "w", 10)
    assert sorted(c.attempt for c in later) == [2] * limit
