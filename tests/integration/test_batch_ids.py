"""Batch ids by unique prefix, on every backend: the store's prefix query (LIKE wildcards taken
literally, scoped to a tenant) and the service's rules on top of it."""

from __future__ import annotations

import pytest

from domainbatch.errors import AmbiguousIdError, NotFoundError
from domainbatch.runtime import Runtime
from domainbatch.service import Caller
from domainbatch.storage.tables import batches

IDS = [
    "abcd0000-0000-4000-8000-000000000001",
    "abcd0000-0000-4000-8000-000000000002",
    "abce0000-0000-4000-8000-000000000003",
    "a_cd0000-0000-4000-8000-000000000004",
]


async def seed(rt: Runtime) -> None:
    async with rt.db.transaction() as conn:
        await conn.execute(
            batches.insert(),
            [
                {
                    "id": batch_id,
                    "status": "pending",
                    "processor": "noop",
                    "options": {},
                    "max_attempts": 1,
                    "total": 0,
                    "invalid": 0,
                    "duplicates": 0,
                    "created_at": float(n),
                    "tenant_id": "t2" if batch_id.startswith("abce") else None,
                }
                for n, batch_id in enumerate(IDS)
            ],
        )


async def test_the_store_lists_ids_by_prefix(runtime: Runtime) -> None:
    await seed(runtime)
    store = runtime.queue()
    assert await store.batch_ids("abcd") == IDS[:2]
    assert await store.batch_ids("abc") == IDS[:3]
    assert await store.batch_ids("abc", limit=2) == IDS[:2]
    assert await store.batch_ids("abc", tenant_id="t2") == [IDS[2]]
    assert await store.batch_ids("a_c") == [IDS[3]]  # "_" is not a wildcard
    assert await store.batch_ids("a%") == []
    assert await store.batch_ids(IDS[0]) == [IDS[0]]


async def test_the_service_resolves_a_unique_prefix(runtime: Runtime) -> None:
    await seed(runtime)
    operator = runtime.batches()
    assert await operator.resolve(IDS[0]) == IDS[0]
    assert await operator.resolve("ABCE") == IDS[2]  # ids are lowercase; input may not be
    assert await operator.resolve(IDS[1][:-1] + "2") == IDS[1]
    with pytest.raises(AmbiguousIdError) as ambiguous:
        await operator.resolve("abcd0000")
    assert IDS[0] in ambiguous.value.message and IDS[1] in ambiguous.value.message
    with pytest.raises(NotFoundError, match="at least 4 characters"):
        await operator.resolve("a_c")  # unique, but too short to be a prefix
    with pytest.raises(NotFoundError):
        await operator.resolve("ffff")
    tenant = runtime.batches(Caller(tenant_id="t2", operator=False))
    assert await tenant.resolve("abce") == IDS[2]
    with pytest.raises(NotFoundError):
        await tenant.resolve("abcd")  # another's batches are not there
