"""A batch's deadline, on every backend: once it passes, every domain not yet finished (pending,
waiting on a retry's backoff, or in flight) ends ``failed`` with ``deadline_exceeded``, a late
ack changes none of them, the counters agree with the rows and the batch ends by the usual
rule; and the percentiles of a batch's completion are stored when it ends. The store is driven
directly, for determinism; the last tests go through a real worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import update

from domainbatch.core.queue import BatchStore, Claimed, Outcome
from domainbatch.errors import InputError
from domainbatch.runtime import Runtime
from domainbatch.storage.tables import batch_domains, batches
from tests.conftest import BACKENDS
from tests.integration.test_batches import (
    SCRIPTED,
    assert_counters_match_rows,
    domains_by_name,
)
from tests.integration.test_cancel_in_flight import row_locked, wait_blocked

DEADLINE = 0.5


def retry_later(claim: Claimed) -> Outcome:
    """A transient failure whose retry waits a minute: the domain sits pending meanwhile."""
    return Outcome(claim, error_code="timeout", error_message="timed out", retry_in=60.0)


async def past_deadline(rt: Runtime, names: list[str]) -> tuple[str, dict[str, Claimed]]:
    """A batch with ``DEADLINE``, past it: "done.test" succeeded, "waiting.test" waits on a
    retry, "held.test" is in flight with worker "w", and the others were never claimed."""
    created = await rt.batches().create(names, processor=SCRIPTED, deadline=DEADLINE)
    claims, started = await rt.queue().claim(created.id, "w", 3)
    assert started and len(claims) == 3
    by_name = {c.domain: c for c in claims}
    await rt.queue().ack(
        [Outcome(by_name["done.test"], result={"ok": True}), retry_later(by_name["waiting.test"])],
        "w",
    )
    await asyncio.sleep(DEADLINE + 0.2)
    return created.id, by_name


NAMES = ["done.test", "waiting.test", "held.test", "later-1.test", "later-2.test"]


async def test_the_deadline_ends_every_unfinished_domain(runtime: Runtime) -> None:
    queue = runtime.queue()
    batch_id, claims = await past_deadline(runtime, NAMES)
    assert batch_id in await queue.reap()
    found = await domains_by_name(runtime, batch_id)
    assert found["done.test"].status == "succeeded"
    for name in ("waiting.test", "held.test", "later-1.test", "later-2.test"):
        assert (found[name].status, found[name].error_code) == ("failed", "deadline_exceeded")
        assert found[name].error_message == "the batch's deadline passed (0.5 s after its start)"
        assert found[name].finished_at is not None
    await assert_counters_match_rows(runtime, batch_id)
    # The worker holding "held.test" acks it late: nothing moves.
    await queue.ack([Outcome(claims["held.test"], result={"late": True})], "w")
    assert (await domains_by_name(runtime, batch_id))["held.test"].status == "failed"
    await assert_counters_match_rows(runtime, batch_id)
    assert await queue.finalize(batch_id) == "completed"  # one succeeded: the usual rule
    status = await runtime.batches().status(batch_id)
    assert (status.counts["pending"], status.counts["processing"]) == (0, 0)
    assert status.errors == {"deadline_exceeded": 4}
    assert status.deadline_seconds == DEADLINE and status.deadline_at is not None
    assert status.completion is not None and set(status.completion) == {
        "t50",
        "t90",
        "t99",
        "t100",
    }


async def test_a_retryable_failure_acked_after_the_deadline_ends_at_the_sweep(
    runtime: Runtime,
) -> None:
    queue = runtime.queue()
    batch_id, claims = await past_deadline(runtime, NAMES)
    await queue.ack([retry_later(claims["held.test"])], "w")  # back to pending, past the deadline
    await queue.reap()
    found = await domains_by_name(runtime, batch_id)
    assert found["held.test"].error_code == "deadline_exceeded"
    assert await queue.finalize(batch_id) == "completed"
    await assert_counters_match_rows(runtime, batch_id)


async def test_a_batch_before_its_deadline_or_without_one_is_untouched(runtime: Runtime) -> None:
    queue = runtime.queue()
    later = await runtime.batches().create(["a.test", "b.test"], processor=SCRIPTED, deadline=60)
    never = await runtime.batches().create(["c.test", "d.test"], processor=SCRIPTED)
    for created in (later, never):
        (claim,), _ = await queue.claim(created.id, "w", 1)
        await queue.ack([retry_later(claim)], "w")
    await queue.reap()
    for created in (later, never):
        status = await runtime.batches().status(created.id)
        assert (status.status, status.counts["pending"]) == ("processing", 2)
    assert (await runtime.batches().status(never.id)).deadline_at is None


async def test_a_deadline_must_be_a_positive_number_of_seconds(runtime: Runtime) -> None:
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(InputError, match="deadline"):
            await runtime.batches().create(["a.test"], processor=SCRIPTED, deadline=bad)


async def test_a_retry_after_the_deadline_gets_a_new_one(runtime: Runtime) -> None:
    queue = runtime.queue()
    batch_id, _ = await past_deadline(runtime, NAMES)
    await queue.reap()
    assert await queue.finalize(batch_id) == "completed"
    ended = await runtime.batches().status(batch_id)
    assert await runtime.batches().retry(batch_id) == 4
    reopened = await runtime.batches().status(batch_id)
    assert reopened.completion is None  # measured again at its next end
    assert reopened.deadline_at is not None and ended.deadline_at is not None
    assert reopened.deadline_at > ended.deadline_at + DEADLINE
    await queue.reap()  # not past the new deadline: nothing ends
    assert (await runtime.batches().status(batch_id)).counts["pending"] == 4


async def test_the_completion_percentiles_of_known_finish_times(runtime: Runtime) -> None:
    """100 domains finished 1, 2, ... 100 s after the start (set in the rows): t50 is the
    50th, t90 the 90th, t99 the 99th, t100 the last; invalid entries have no finish time."""
    queue = runtime.queue()
    names = [f"d{i:03d}.test" for i in range(1, 101)]
    created = await runtime.batches().create([*names, "not a domain"], processor=SCRIPTED)
    claims, _ = await queue.claim(created.id, "w", 100)
    await queue.ack([Outcome(c, result={}) for c in claims], "w")
    start = 1_000_000.0
    async with runtime.db.transaction() as conn:
        await conn.execute(
            update(batches).where(batches.c.id == created.id).values(started_at=start)
        )
        for claim in claims:  # d001 finished at +1 s ... d100 at +100 s
            finished = start + int(claim.domain[1:4])
            await conn.execute(
                update(batch_domains)
                .where(batch_domains.c.id == claim.id)
                .values(finished_at=finished)
            )
    assert await queue.finalize(created.id) == "completed"
    status = await runtime.batches().status(created.id)
    assert status.completion == {"t50": 50.0, "t90": 90.0, "t99": 99.0, "t100": 100.0}
    assert (await runtime.batches().page()).items[0].completion == status.completion


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "sqlite"], indirect=True)
async def test_an_ack_racing_the_deadline_sweep_is_ended_by_it(runtime: Runtime) -> None:
    """Postgres: an ack that puts an in-flight domain back to pending while the sweep runs
    (the sweep waits for its row lock) is ended by the sweep's second statement."""
    name = "deadline-race-test"
    rt = Runtime(runtime.settings.with_overrides(db_application_name=name))
    try:
        queue: BatchStore = rt.queue()
        batch_id, claims = await past_deadline(rt, NAMES)
        with row_locked(claims["held.test"].id):
            ack = asyncio.create_task(queue.ack([retry_later(claims["held.test"])], "w"))
            await wait_blocked(name)
            sweep = asyncio.create_task(queue.reap())
            await asyncio.sleep(0.3)  # the sweep reaches the locked row and waits too
        await asyncio.wait_for(asyncio.gather(ack, sweep), 10)
        found = await domains_by_name(rt, batch_id)
        assert found["held.test"].error_code == "deadline_exceeded"
        await assert_counters_match_rows(rt, batch_id)
    finally:
        await rt.close()


async def test_a_worker_ends_a_batch_at_its_deadline(runtime: Runtime, tmp_path: Path) -> None:
    """Through a real worker: domains that would take 30 s end ``deadline_exceeded`` at the
    deadline (1 s), the quick ones succeed, and the worker is done in about the deadline."""
    names = ["ok-1.test", "ok-2.test", *(f"slow-{i}.test" for i in range(3))]
    created = await runtime.batches().create(
        names, processor=SCRIPTED, options={"slow": 30}, deadline=1.0
    )
    worker = runtime.worker(only_batches=[created.id], burst=True)
    await asyncio.wait_for(worker.run(), 20)  # not the 30 s the slow ones would take
    status = await runtime.batches().status(created.id)
    assert (status.status, status.errors) == ("completed", {"deadline_exceeded": 3})
    assert status.counts["succeeded"] == 2
    assert status.completion is not None and status.completion["t100"] >= 0.9
    await assert_counters_match_rows(runtime, created.id)
