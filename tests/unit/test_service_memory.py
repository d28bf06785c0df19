"""The service on the in-memory store: what a caller may do (which processor, which options,
whose batch), pages, exports, cancel and retry, and a batch from creation to its end with a
worker, with no database (tests/integration and tests/acceptance run the same on SQL)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from domainbatch.core.domains import DomainNormalizer
from domainbatch.engine.worker import Worker
from domainbatch.errors import (
    AmbiguousIdError,
    ConflictError,
    InvalidOptionsError,
    NotFoundError,
    ProcessorNotFoundError,
)
from domainbatch.service import Batches, Caller
from domainbatch.settings import Settings
from domainbatch.storage.memory import MemoryQueue

SCRIPTED = "tests.support.processors:scripted"
# The default processor is ``noop``: these tests never resolve or fetch anything.
SETTINGS = Settings(
    default_processor="noop",
    concurrency=4,
    poll_min_seconds=0.001,
    poll_max_seconds=0.01,
    ack_interval_seconds=0.01,
    retry_base_seconds=0.0,
    retry_max_seconds=0.0,
)
NORMALIZER = DomainNormalizer(extra_suffixes=["test"])


def service(store: MemoryQueue, caller: Caller | None = None) -> Batches:
    return Batches(store, SETTINGS, NORMALIZER, caller or Caller())


async def test_create_normalizes_deduplicates_and_keeps_input_order() -> None:
    store = MemoryQueue()
    batches = service(store)
    created = await batches.create(["B.test", "https://a.test/x", "b.test", "not a domain"])
    assert (created.total, created.entries, created.invalid, created.duplicates) == (3, 4, 1, 1)
    assert created.invalid_entries[0]["input"] == "not a domain"
    page = await batches.domains(created.id)
    assert [(d.domain, d.input, d.status) for d in page.items] == [
        ("b.test", "B.test", "pending"),
        ("a.test", "https://a.test/x", "pending"),
        (None, "not a domain", "invalid"),
    ]
    report = await batches.status(created.id)
    assert (report.status, report.total, report.done, report.counts["invalid"]) == (
        "pending",
        3,
        1,
        1,
    )


async def test_only_valid_choices_are_stored() -> None:
    store = MemoryQueue()
    tenant = service(store, Caller(tenant_id="t1", operator=False))
    with pytest.raises(ProcessorNotFoundError):
        await tenant.create(["a.test"], processor=SCRIPTED)  # a dotted path: operators only
    with pytest.raises(InvalidOptionsError):
        await tenant.create(["a.test"], processor="noop", options={"x": 1})
    with pytest.raises(ProcessorNotFoundError):
        await tenant.create(["a.test"], processor="nope")
    assert store.batches == {}
    created = await service(store).create(["a.test"], processor=SCRIPTED, options={"delay": 0})
    assert store.batches[created.id].processor == SCRIPTED


async def test_a_tenant_sees_and_steers_only_its_own_batches() -> None:
    store = MemoryQueue()
    mine = service(store, Caller(tenant_id="t1", operator=False))
    theirs = service(store, Caller(tenant_id="t2", operator=False))
    created = await mine.create(["a.test", "b.test"])
    for call in (
        theirs.status(created.id),
        theirs.cancel(created.id),
        theirs.retry(created.id),
        theirs.domains(created.id),
        theirs.domain(created.id, 1),
        theirs.export(created.id, "jsonl"),
        theirs.delete(created.id),
    ):
        with pytest.raises(NotFoundError):
            await call
    assert (await theirs.page()).items == []
    assert [b.id for b in (await mine.page()).items] == [created.id]
    assert [b.id for b in (await service(store).page()).items] == [created.id]  # the operator


async def test_pages_walk_every_batch_newest_first() -> None:
    now = [0.0]
    store = MemoryQueue(clock=lambda: now[0])
    batches = service(store)
    ids = []
    for i in range(5):
        now[0] = float(i)
        ids.append((await batches.create([f"d{i}.test"])).id)
    seen, cursor = [], None
    while True:
        page = await batches.page(limit=2, cursor=cursor)
        seen += [b.id for b in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ids[::-1]


async def test_cancel_and_retry_through_the_service() -> None:
    store = MemoryQueue()
    batches = service(store)
    created = await batches.create(["a.test", "b.test"])
    assert await batches.cancel(created.id) == 2
    with pytest.raises(ConflictError):
        await batches.cancel(created.id)
    failing = await batches.create(["ok.test", "fail-1.test"], processor=SCRIPTED)
    await run_worker(store)
    assert (await batches.status(failing.id)).counts["failed"] == 1
    assert await batches.retry(failing.id) == 1
    assert (await batches.status(failing.id)).status == "processing"


async def test_a_batch_from_creation_to_its_export() -> None:
    store = MemoryQueue()
    batches = service(store)
    created = await batches.create(["a.test", "b.test", "bad entry"])
    await run_worker(store)
    report = await batches.status(created.id)
    assert (report.status, report.progress, report.counts["succeeded"]) == ("completed", 100, 2)
    export = await batches.export(created.id, "jsonl")
    lines = [orjson.loads(x) for c in [c async for c in export.chunks()] for x in c.splitlines()]
    assert [(x["input"], x["status"]) for x in lines] == [
        ("a.test", "succeeded"),
        ("b.test", "succeeded"),
        ("bad entry", "invalid"),
    ]
    assert await batches.delete(created.id) == 3
    with pytest.raises(NotFoundError):
        await batches.status(created.id)


async def run_worker(store: MemoryQueue) -> None:
    await asyncio.wait_for(Worker(store, SETTINGS, burst=True).run(), 10)


async def test_ids_resolve_by_unique_prefix_within_the_callers_batches() -> None:
    store = MemoryQueue()
    shared = ["abcd0000-0000-4000-8000-000000000001", "abcd0000-0000-4000-8000-000000000002"]
    for new_id, tenant in zip(shared, ("t1", None), strict=True):
        batch = store.batches.pop(store.add_batch(["a.test"], tenant_id=tenant))
        batch.id = new_id
        store.batches[new_id] = batch
    operator, tenant = service(store), service(store, Caller(tenant_id="t1", operator=False))
    assert await operator.resolve("ABCD0000-0000-4000-8000-000000000002") == shared[1]
    with pytest.raises(AmbiguousIdError, match="abcd starts several batch ids"):
        await operator.resolve("abcd")
    assert await tenant.resolve("abcd") == shared[0]  # the other is not the tenant's
    with pytest.raises(NotFoundError, match="at least 4 characters"):
        await operator.resolve("abc")
