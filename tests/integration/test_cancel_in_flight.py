"""A cancelled batch keeps no open domain, on every backend: a domain in flight when the batch
is cancelled ends ``cancelled`` where it would have gone back to ``pending`` (a retryable
failure, an expired lease, a worker's release), and the sweep every worker runs ends one that
a statement racing the cancel put back anyway. The store is driven directly, for determinism;
the last test goes through a real worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from domainbatch.core.models import DomainRecord
from domainbatch.core.queue import BatchStore, Claimed, Outcome
from domainbatch.runtime import Runtime
from domainbatch.storage.batches import iter_domains
from tests.conftest import BACKENDS, PG_URL
from tests.integration.test_batches import SCRIPTED, assert_counters_match_rows


def timed_out(claim: Claimed) -> Outcome:
    """The outcome of an attempt that timed out with attempts left (back to pending, once)."""
    return Outcome(claim, error_code="timeout", error_message="timed out", retry_in=0.0)


async def rows(rt: Runtime, batch_id: str) -> dict[str, DomainRecord]:
    return {d.input: d async for d in iter_domains(rt.db, batch_id)}


async def assert_nothing_open(rt: Runtime, batch_id: str) -> None:
    """The batch ended ``cancelled``, its counters agree with its rows, none of them open."""
    await assert_counters_match_rows(rt, batch_id)
    status = await rt.batches().status(batch_id)
    assert status.status == "cancelled"
    assert (status.counts["pending"], status.counts["processing"]) == (0, 0), status.counts
    assert {d.status for d in (await rows(rt, batch_id)).values()} <= {
        "succeeded",
        "failed",
        "cancelled",
    }


async def claim_then_cancel(rt: Runtime, names: list[str], held: int) -> tuple[str, list[Claimed]]:
    """A batch whose first ``held`` domains a worker "w" has in flight when it is cancelled."""
    created = await rt.batches().create(names, processor=SCRIPTED)
    claims, _ = await rt.queue().claim(created.id, "w", held)
    assert len(claims) == held
    assert await rt.batches().cancel(created.id) == len(names) - held
    return created.id, sorted(claims, key=lambda c: c.domain)


async def test_a_retryable_failure_acked_after_the_cancel_ends_cancelled(runtime: Runtime) -> None:
    batch_id, (a, b) = await claim_then_cancel(runtime, ["a.test", "b.test", "c.test"], 2)
    queue = runtime.queue()
    await queue.ack([timed_out(a), Outcome(b, result={"ok": True})], "w")
    found = await rows(runtime, batch_id)
    assert (found["a.test"].status, found["a.test"].error_code) == ("cancelled", "cancelled")
    assert (found["b.test"].status, found["c.test"].status) == ("succeeded", "cancelled")
    await assert_nothing_open(runtime, batch_id)
    assert await queue.finalize(batch_id) is None  # cancelled stays cancelled


async def test_an_expired_lease_reaped_after_the_cancel_ends_cancelled(runtime: Runtime) -> None:
    rt = Runtime(runtime.settings.with_overrides(lease_seconds=0.3))
    try:
        bystander = await rt.batches().create(["x.test", "y.test"], processor=SCRIPTED)
        batch_id, _ = await claim_then_cancel(rt, ["a.test", "b.test"], 1)
        await asyncio.sleep(0.5)  # the lease of "w" (crashed) expires
        assert await rt.queue().reap() == {batch_id}
        assert (await rows(rt, batch_id))["a.test"].status == "cancelled"
        await assert_nothing_open(rt, batch_id)
        # The sweep takes only cancelled batches: an active one keeps its pending domains.
        assert (await rt.batches().status(bystander.id)).counts["pending"] == 2
    finally:
        await rt.close()


async def test_work_released_after_the_cancel_ends_cancelled(runtime: Runtime) -> None:
    batch_id, (a,) = await claim_then_cancel(runtime, ["a.test", "b.test"], 1)
    await runtime.queue().release([a], "w")  # "w" stops with it in hand
    assert (await rows(runtime, batch_id))["a.test"].status == "cancelled"
    await assert_nothing_open(runtime, batch_id)


async def test_the_sweep_leaves_a_cancelled_batch_that_a_retry_reopened(runtime: Runtime) -> None:
    batch_id, (a,) = await claim_then_cancel(runtime, ["a.test", "b.test"], 1)
    queue = runtime.queue()
    await queue.ack([Outcome(a, error_code="http_status", error_message="404")], "w")
    assert await runtime.batches().retry(batch_id) == 1  # failed -> pending, batch processing
    await queue.reap()
    status = await runtime.batches().status(batch_id)
    assert (status.status, status.counts["pending"]) == ("processing", 1)
    await assert_counters_match_rows(runtime, batch_id)


@contextlib.contextmanager
def row_locked(domain_id: int) -> Iterator[None]:
    """The domain row locked by a transaction of our own (straight to Postgres), so the ack
    statement that updates it next has taken its snapshot and waits until we let go."""
    with psycopg.connect(PG_URL) as conn:
        conn.execute("SELECT 1 FROM batch_domains WHERE id = %s FOR UPDATE", (domain_id,))
        yield
        conn.rollback()


async def wait_blocked(application_name: str) -> None:
    """Until a statement of the runtime's connections waits for a lock."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for _ in range(200):
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND application_name = %s",
                (application_name,),
            ).fetchone()
            if waiting and waiting[0]:
                return
            await asyncio.sleep(0.02)
    raise AssertionError("the ack never waited for the row lock")


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "sqlite"], indirect=True)
async def test_the_sweep_ends_a_domain_an_ack_racing_the_cancel_put_back(
    runtime: Runtime,
) -> None:
    """Postgres (READ COMMITTED): an ack whose statement began before the cancel committed
    sees the batch still active and puts the domain back to ``pending``; no check inside the
    ack can see the cancel. The sweep (``reap``, run by every worker) ends it. (SQLite has one
    writer at a time: there, the ack and the cancel cannot interleave.)"""
    name = "straggler-test"
    rt = Runtime(runtime.settings.with_overrides(db_application_name=name))
    try:
        created = await rt.batches().create(["a.test", "b.test"], processor=SCRIPTED)
        queue: BatchStore = rt.queue()
        (a,), _ = await queue.claim(created.id, "w", 1)
        with row_locked(a.id):
            ack = asyncio.create_task(queue.ack([timed_out(a)], "w"))
            await wait_blocked(name)
            assert await rt.batches().cancel(created.id) == 1
        await asyncio.wait_for(ack, 10)
        # The race happened: the ack's snapshot predates the cancel.
        assert (await rows(rt, created.id))["a.test"].status == "pending"
        await queue.reap()
        assert (await rows(rt, created.id))["a.test"].status == "cancelled"
        await assert_nothing_open(rt, created.id)
    finally:
        await rt.close()


async def test_a_worker_with_a_retryable_failure_in_flight_at_the_cancel(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Through a real worker: a domain that fails transiently while the batch is cancelled."""
    created = await runtime.batches().create(
        ["flaky-1.test", "ok.test", *(f"later-{i}.test" for i in range(4))],
        processor=SCRIPTED,
        options={"delay": 1.0, "marker_dir": str(tmp_path)},  # a second to cancel in
    )
    worker = runtime.worker(only_batches=[created.id], burst=True)
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(500):
            if (await runtime.batches().status(created.id)).counts["processing"]:
                break
            await asyncio.sleep(0.01)
        await runtime.batches().cancel(created.id)
        stats = await asyncio.wait_for(running, 30)
    finally:
        worker.stop(now=True)
        await asyncio.gather(running, return_exceptions=True)
    assert stats.retried >= 1
    flaky = (await rows(runtime, created.id))["flaky-1.test"]
    assert (flaky.status, flaky.attempts) == ("cancelled", 1)  # its first attempt's retry
    await assert_nothing_open(runtime, created.id)
