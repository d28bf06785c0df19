"""The batch lifecycle on every backend: creation, processing, status, cancel, retry."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domainbatch.core.models import BatchReport, DomainRecord
from domainbatch.core.queue import Outcome
from domainbatch.errors import (
    EmptyBatchError,
    LimitExceededError,
    NotFoundError,
    ProcessorNotFoundError,
)
from domainbatch.runtime import Runtime
from domainbatch.storage import counters
from domainbatch.storage.batches import delete_batch, iter_domains
from domainbatch.storage.tables import batch_counts, batch_domains, batches, webhook_deliveries

SCRIPTED = "tests.support.processors:scripted"


async def process(rt: Runtime, batch_id: str, **worker: Any) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    w = rt.worker(only_batches=[batch_id], burst=True, on_event=lambda e, b: events.append((e, b)))
    await asyncio.wait_for(w.run(), 60)
    await assert_counters_match_rows(rt, batch_id)
    return events


async def assert_counters_match_rows(rt: Runtime, batch_id: str) -> None:
    """The sharded counters that status reads use agree with the domain rows themselves."""
    async with rt.db.connect() as conn:
        counts, errors = await counters.read(conn, batch_id)
        rows = await conn.execute(
            select(batch_domains.c.status, batch_domains.c.error_code, func.count())
            .where(batch_domains.c.batch_id == batch_id)
            .group_by(batch_domains.c.status, batch_domains.c.error_code)
        )
        expected_counts: dict[str, int] = {}
        expected_errors: dict[str, int] = {}
        for status, code, n in rows:
            expected_counts[status] = expected_counts.get(status, 0) + n
            if status == "failed":
                expected_errors[code] = expected_errors.get(code, 0) + n
    assert {k: v for k, v in counts.items() if v} == expected_counts
    assert errors == expected_errors


async def domains_by_name(rt: Runtime, batch_id: str) -> dict[str, DomainRecord]:
    return {d.input: d async for d in iter_domains(rt.db, batch_id)}


async def count_rows(rt: Runtime) -> tuple[int, int]:
    async with rt.db.connect() as conn:
        n_batches = await conn.scalar(select(func.count()).select_from(batches))
        n_domains = await conn.scalar(select(func.count()).select_from(batch_domains))
    return int(n_batches or 0), int(n_domains or 0)


async def test_single_domain(runtime: Runtime) -> None:
    created = await runtime.batches().create(["One.test"], processor=SCRIPTED)
    assert (created.total, created.invalid, created.duplicates) == (1, 0, 0)
    before = await runtime.batches().status(created.id)
    assert before.status == "pending" and before.progress == 0
    events = await process(runtime, created.id)
    after = await runtime.batches().status(created.id)
    assert after.status == "completed"
    assert after.counts["succeeded"] == 1 and after.progress == 100
    assert events == [("batch.started", created.id), ("batch.completed", created.id)]
    row = (await domains_by_name(runtime, created.id))["One.test"]
    assert row.domain == "one.test" and row.result["domain"] == "one.test"


async def test_many_domains_with_duplicates(runtime: Runtime) -> None:
    names = [f"site{i}.test" for i in range(300)]
    entries = [*names, "SITE1.test", "site2.test.", "https://site3.test/x"]
    created = await runtime.batches().create(entries, processor=SCRIPTED)
    assert (created.total, created.duplicates, created.entries) == (300, 3, 303)
    await process(runtime, created.id)
    status = await runtime.batches().status(created.id)
    assert status.status == "completed"
    assert status.counts["succeeded"] == 300 and status.done == 300


async def test_empty_batch_is_refused_and_nothing_stored(runtime: Runtime) -> None:
    with pytest.raises(EmptyBatchError, match="no entries"):
        await runtime.batches().create([])
    assert await count_rows(runtime) == (0, 0)


async def test_over_the_entry_limit_is_refused_whole(runtime: Runtime) -> None:
    rt = Runtime(runtime.settings.with_overrides(max_entries=10, insert_chunk_size=4))
    try:
        with pytest.raises(LimitExceededError, match="more than 10"):
            await rt.batches().create([f"d{i}.test" for i in range(11)])
        assert await count_rows(rt) == (0, 0)
    finally:
        await rt.close()


async def test_unknown_processor_is_refused(runtime: Runtime) -> None:
    with pytest.raises(ProcessorNotFoundError):
        await runtime.batches().create(["a.test"], processor="no-such-processor")
    assert await count_rows(runtime) == (0, 0)


async def test_invalid_entries_are_recorded_with_reasons(runtime: Runtime) -> None:
    created = await runtime.batches().create(
        ["ok.test", "localhost", "10.0.0.1", "bad_name.test", "a..b"]
    )
    assert created.invalid == 4 and created.total == 5
    reasons = {e["input"]: e["reason"] for e in created.invalid_entries}
    assert set(reasons) == {"localhost", "10.0.0.1", "bad_name.test", "a..b"}
    rows = await domains_by_name(runtime, created.id)
    assert rows["10.0.0.1"].status == "invalid"
    assert rows["10.0.0.1"].error_code == "invalid_domain"
    assert rows["10.0.0.1"].error_message == reasons["10.0.0.1"]


async def test_mixed_batch_completes_with_accurate_counts(runtime: Runtime, tmp_path: Path) -> None:
    entries = [
        *(f"ok{i}.test" for i in range(20)),
        *(f"fail-{i}.test" for i in range(5)),
        *(f"boom-{i}.test" for i in range(2)),
        *(f"flaky-{i}.test" for i in range(3)),
        "not a domain",
        "127.0.0.1",
    ]
    created = await runtime.batches().create(
        entries, processor=SCRIPTED, options={"marker_dir": str(tmp_path)}
    )
    await process(runtime, created.id)
    status = await runtime.batches().status(created.id)
    assert status.status == "completed"
    assert status.counts == {
        "pending": 0,
        "processing": 0,
        "succeeded": 23,
        "failed": 7,
        "invalid": 2,
        "cancelled": 0,
    }
    assert status.errors == {"http_status": 5, "internal": 2}
    assert status.progress == 100 and status.total == 32
    rows = await domains_by_name(runtime, created.id)
    assert rows["flaky-0.test"].attempts == 2 and rows["flaky-0.test"].status == "succeeded"
    assert rows["fail-0.test"].attempts == 1
    assert "processor bug" in rows["boom-0.test"].error_message


async def test_transient_errors_stop_at_max_attempts(runtime: Runtime) -> None:
    rt = Runtime(runtime.settings.with_overrides(max_attempts=2))
    try:
        # The marker dir does not exist, so "flaky" fails every time it tries to write it.
        created = await rt.batches().create(
            ["flaky-x.test"], processor=SCRIPTED, options={"marker_dir": "/nonexistent/dir"}
        )
        await process(rt, created.id)
        row = (await domains_by_name(rt, created.id))["flaky-x.test"]
        assert row.status == "failed" and row.error_code == "internal"
    finally:
        await rt.close()


async def test_all_invalid_batch_ends_failed_at_once(runtime: Runtime) -> None:
    created = await runtime.batches().create(["localhost", "-bad-.test", "x"])
    assert created.status == "failed"
    status = await runtime.batches().status(created.id)
    assert status.status == "failed" and status.progress == 100
    assert status.error == "every entry is invalid"
    assert status.finished_at is not None


async def test_every_domain_failing_ends_failed(runtime: Runtime) -> None:
    created = await runtime.batches().create(["fail-a.test", "fail-b.test"], processor=SCRIPTED)
    events = await process(runtime, created.id)
    assert (await runtime.batches().status(created.id)).status == "failed"
    assert ("batch.failed", created.id) in events


async def test_progress_reaches_100_exactly_when_the_last_domain_ends(runtime: Runtime) -> None:
    created = await runtime.batches().create(
        [f"d{i}.test" for i in range(40)], processor=SCRIPTED, options={"delay": 0.02}
    )
    rt = Runtime(runtime.settings.with_overrides(concurrency=4, claim_size=4))
    seen: list[BatchReport] = []
    try:
        task = asyncio.create_task(process(rt, created.id))
        while not task.done():
            seen.append(await runtime.batches().status(created.id))
            await asyncio.sleep(0.01)
        await task
        seen.append(await runtime.batches().status(created.id))
    finally:
        await rt.close()
    statuses = [s.status for s in seen]
    assert "processing" in statuses and statuses[-1] == "completed"
    assert statuses.index("processing") < statuses.index("completed")
    for snap in seen:
        done = sum(snap.counts[k] for k in ("succeeded", "failed", "invalid", "cancelled"))
        assert snap.done == done
        assert snap.progress == int(done * 10000 / 40) / 100
        assert (snap.progress == 100) == (done == 40)
        if snap.status == "completed":
            assert done == 40
    assert any(0 < s.progress < 100 for s in seen)


async def test_cancel_stops_pending_domains(runtime: Runtime) -> None:
    created = await runtime.batches().create([f"d{i}.test" for i in range(50)], processor=SCRIPTED)
    cancelled = await runtime.batches().cancel(created.id)
    assert cancelled == 50
    await assert_counters_match_rows(runtime, created.id)
    status = await runtime.batches().status(created.id)
    assert status.status == "cancelled" and status.counts["cancelled"] == 50
    assert status.errors == {}
    events = await process(runtime, created.id)
    assert events == []


async def test_retry_requeues_failed_domains(runtime: Runtime, tmp_path: Path) -> None:
    created = await runtime.batches().create(["ok.test", "fail-1.test"], processor=SCRIPTED)
    await process(runtime, created.id)
    assert (await runtime.batches().status(created.id)).counts["failed"] == 1
    assert await runtime.batches().retry(created.id) == 1
    await assert_counters_match_rows(runtime, created.id)
    status = await runtime.batches().status(created.id)
    assert status.status == "processing" and status.counts["pending"] == 1
    events = await process(runtime, created.id)
    assert events == [("batch.completed", created.id)]
    rows = await domains_by_name(runtime, created.id)
    assert rows["fail-1.test"].status == "failed" and rows["fail-1.test"].attempts == 1


async def test_duration_after_a_retry_leaves_out_the_idle_time(runtime: Runtime) -> None:
    created = await runtime.batches().create(["ok.test", "fail-1.test"], processor=SCRIPTED)
    await process(runtime, created.id)
    first = await runtime.batches().status(created.id)
    assert first.duration_seconds is not None and first.eta_seconds is None  # ended: no ETA
    await asyncio.sleep(1.5)  # the batch sits ended
    await runtime.batches().retry(created.id)
    await process(runtime, created.id)
    again = await runtime.batches().status(created.id)
    assert again.duration_seconds is not None and again.rate_per_second is not None
    # Worked on for the first run plus the retry (each well under a second), not the idle 1.5 s.
    assert first.duration_seconds <= again.duration_seconds < first.duration_seconds + 1.0
    assert again.rate_per_second > 3 / (first.duration_seconds + 1.0)
    assert again.started_at == first.started_at  # "started" stays the first start


async def test_expired_lease_is_reclaimed_by_another_worker(runtime: Runtime) -> None:
    rt = Runtime(runtime.settings.with_overrides(lease_seconds=0.5))
    try:
        created = await rt.batches().create(["a.test", "b.test"], processor=SCRIPTED)
        # A "crashed" worker claims both and never acknowledges them.
        dead = rt.queue()
        claims, started = await dead.claim(created.id, "dead-worker", 10)
        assert len(claims) == 2 and started
        await asyncio.sleep(0.7)
        events = await process(rt, created.id)
        assert events == [("batch.completed", created.id)]
        rows = await domains_by_name(rt, created.id)
        assert {r.status for r in rows.values()} == {"succeeded"}
        assert {r.attempts for r in rows.values()} == {2}
        # The dead worker's late acknowledgement does not overwrite the outcome.
        await dead.ack(
            [Outcome(claims[0], error_code="timeout", error_message="late")], "dead-worker"
        )
        rows = await domains_by_name(rt, created.id)
        assert rows["a.test"].status == "succeeded"
    finally:
        await rt.close()


async def test_final_transition_happens_once_with_concurrent_workers(runtime: Runtime) -> None:
    created = await runtime.batches().create([f"d{i}.test" for i in range(200)], processor=SCRIPTED)
    events: list[tuple[str, str]] = []
    workers = [
        Runtime(runtime.settings.with_overrides(concurrency=8, claim_size=8)) for _ in range(3)
    ]
    try:
        runs = [
            rt.worker(
                only_batches=[created.id], burst=True, on_event=lambda e, b: events.append((e, b))
            ).run()
            for rt in workers
        ]
        stats = await asyncio.wait_for(asyncio.gather(*runs), 60)
    finally:
        for rt in workers:
            await rt.close()
    assert sorted(events) == [("batch.completed", created.id), ("batch.started", created.id)]
    assert sum(s.claimed for s in stats) == 200
    assert (await runtime.batches().status(created.id)).counts["succeeded"] == 200


async def test_small_batch_is_not_starved_by_a_big_one(runtime: Runtime) -> None:
    big = await runtime.batches().create(
        [f"big{i}.test" for i in range(3000)], processor=SCRIPTED, options={"delay": 0.002}
    )
    small = await runtime.batches().create(
        [f"small{i}.test" for i in range(10)], processor=SCRIPTED
    )
    rt = Runtime(runtime.settings.with_overrides(concurrency=8, claim_size=8))
    try:
        w = rt.worker(only_batches=[big.id, small.id], burst=True)
        task = asyncio.create_task(w.run())
        while (await runtime.batches().status(small.id)).status != "completed":
            assert not task.done()
            await asyncio.sleep(0.02)
        big_done = (await runtime.batches().status(big.id)).done
        w.stop()
        await task
        await assert_counters_match_rows(rt, big.id)
    finally:
        await rt.close()
    assert big_done < 1500, f"the small batch waited for {big_done} big-batch domains"


async def test_live_worker_extends_its_leases(runtime: Runtime) -> None:
    """Work outlasting several lease periods is not reclaimed while its worker lives. (A
    0.4 s lease, extended every ~0.13 s, expired under a loaded CI machine: 1 s leaves room
    for a 0.6 s stall.)"""
    settings = runtime.settings.with_overrides(lease_seconds=1.0)
    created = await runtime.batches().create(
        ["slow-1.test"], processor=SCRIPTED, options={"slow": 3.5}
    )
    holder, rival = Runtime(settings), Runtime(settings)
    try:
        first = asyncio.create_task(process(holder, created.id))
        while (await runtime.batches().status(created.id)).counts["processing"] == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        # A rival keeps sweeping for expired leases while the slow domain is in hand.
        second = asyncio.create_task(process(rival, created.id))
        await asyncio.gather(first, second)
    finally:
        await holder.close()
        await rival.close()
    row = (await domains_by_name(runtime, created.id))["slow-1.test"]
    assert row.status == "succeeded" and row.attempts == 1


async def test_delete_batch_removes_it_and_nothing_else(runtime: Runtime) -> None:
    kept = await runtime.batches().create(["keep.test", "fail-keep.test"], processor=SCRIPTED)
    doomed = await runtime.batches().create(
        ["a.test", "fail-b.test", "localhost"], processor=SCRIPTED
    )
    await process(runtime, doomed.id)
    async with runtime.db.transaction() as conn:  # an outbox row, as a webhook batch would have
        await conn.execute(
            webhook_deliveries.insert().values(
                id="w-1",
                batch_id=doomed.id,
                event="batch.completed",
                status="pending",
                created_at=1.0,
            )
        )
    assert await delete_batch(runtime.db, doomed.id) == 3
    with pytest.raises(NotFoundError):
        await runtime.batches().status(doomed.id)
    with pytest.raises(NotFoundError):
        await delete_batch(runtime.db, doomed.id)
    async with runtime.db.connect() as conn:
        for table in (batch_domains, batch_counts, webhook_deliveries):
            left = await conn.scalar(
                select(func.count()).select_from(table).where(table.c.batch_id == doomed.id)
            )
            assert left == 0, table.name
    assert await count_rows(runtime) == (1, 2)
    status = await runtime.batches().status(kept.id)
    assert status.status == "pending" and status.counts["pending"] == 2


async def test_deleting_a_batch_under_a_live_worker_writes_nothing_back(runtime: Runtime) -> None:
    created = await runtime.batches().create(
        [f"d{i}.test" for i in range(6)], processor=SCRIPTED, options={"delay": 0.3}
    )
    started = asyncio.Event()
    worker = runtime.worker(
        only_batches=[created.id], burst=True, on_event=lambda event, _: started.set()
    )
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 30)  # its first claim is in hand
    await delete_batch(runtime.db, created.id)
    await asyncio.wait_for(task, 30)  # its acks match no row; the batch is gone, it exits
    assert worker.stats.claimed == 6
    assert await count_rows(runtime) == (0, 0)
    async with runtime.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(batch_counts)) == 0
