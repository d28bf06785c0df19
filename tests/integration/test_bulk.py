"""Batch creation at scale on every backend (COPY on Postgres, executemany on SQLite): exact
deduplication across chunks, entries that need escaping, input order, counters; and the pooled
connections' ping after idling."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domainbatch.runtime import Runtime
from domainbatch.settings import Settings
from domainbatch.storage import bulk
from domainbatch.storage.batches import iter_domains
from domainbatch.storage.database import Database
from domainbatch.storage.tables import batch_domains
from tests.conftest import PG_URL
from tests.integration.test_batches import assert_counters_match_rows

ENTRIES = [
    "a.test",
    "B.test",
    "a.test",  # duplicate in the same chunk
    "tab\there",  # invalid, needs COPY escaping
    "back\\slash",  # invalid, needs COPY escaping
    "new\nline",  # invalid, needs COPY escaping
    "Bücher.test",  # Unicode: stored as an A-label, displayed in Unicode
    "c.test",
    "https://A.test/x",  # duplicate of a chunk sent earlier
    "d.test",
    "b.test.",  # duplicate (trailing dot) of a chunk sent earlier
    "e.test",
    "bücher.TEST",  # duplicate of the Unicode name
    "e.test",
]


@pytest.mark.parametrize("bloom", ["real", "everything-collides"])
async def test_chunks_dedupe_exactly_and_keep_input_order(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, bloom: str
) -> None:
    if bloom == "everything-collides":
        # Every domain "may have been seen": every one is looked up in the table instead.
        monkeypatch.setattr(bulk, "BLOOM_MASK", 0)
    rt = Runtime(runtime.settings.with_overrides(insert_chunk_size=3))
    try:
        created = await rt.batches().create(ENTRIES, processor="noop")
        assert (created.entries, created.invalid) == (14, 3)
        assert created.total == 9 and created.duplicates == 5
        rows = [d async for d in iter_domains(rt.db, created.id)]
        assert [r.input for r in rows] == [
            "a.test",
            "B.test",
            "tab\there",
            "back\\slash",
            "new\nline",
            "Bücher.test",
            "c.test",
            "d.test",
            "e.test",
        ]
        by_input = {r.input: r for r in rows}
        assert by_input["Bücher.test"].domain == "xn--bcher-kva.test"
        assert by_input["Bücher.test"].display == "bücher.test"
        assert by_input["B.test"].domain == "b.test"
        assert by_input["a.test"].input == "a.test"
        assert by_input["new\nline"].status == "invalid"
        assert by_input["new\nline"].error_code == "invalid_domain"
        status = await rt.batches().status(created.id)
        assert status.counts["pending"] == 6 and status.counts["invalid"] == 3
        await assert_counters_match_rows(rt, created.id)
    finally:
        await rt.close()


async def test_many_chunks(runtime: Runtime) -> None:
    rt = Runtime(runtime.settings.with_overrides(insert_chunk_size=1_000))
    try:
        names = [f"n{i}.test" for i in range(12_000)]
        created = await rt.batches().create([*names, *names[::7]], processor="noop")
        assert created.total == 12_000 and created.duplicates == len(names[::7])
        async with rt.db.connect() as conn:
            stored = (
                await conn.execute(
                    select(batch_domains.c.domain)
                    .where(batch_domains.c.batch_id == created.id)
                    .order_by(batch_domains.c.id)
                )
            ).scalars()
            assert list(stored) == names
        await assert_counters_match_rows(rt, created.id)
    finally:
        await rt.close()


async def test_idle_pooled_connection_is_pinged_and_replaced(
    postgres_schema: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a pooler, a connection that idled in our pool is pinged before use; a dead one
    is replaced transparently (here: its server process is terminated while it idles)."""
    import psycopg
    from sqlalchemy import text

    from domainbatch.storage import database

    db = Database(Settings(database_url=PG_URL, pooler_mode="transaction"))
    try:
        async with db.connect() as conn:
            first = await conn.scalar(text("select pg_backend_pid()"))
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (first,))
        monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
        async with db.connect() as conn:
            second = await conn.scalar(text("select pg_backend_pid()"))
        assert second != first
        assert db.checked_out() == 0
    finally:
        await db.dispose()


async def test_the_ping_leaves_no_transaction_open_for_the_autocommit_hot_paths(
    postgres_schema: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ping's SELECT starts a transaction on a non-autocommit connection: left open, the
    claim, ack and status read that take the connection next (``Database.autocommit``) failed
    with "can't change 'autocommit' now: connection in transaction status INTRANS" (found by
    scripts/testing/test_recovery.py through PgBouncer: a status read after 10 s idle)."""
    from sqlalchemy import text

    from domainbatch.storage import database

    db = Database(Settings(database_url=PG_URL, pooler_mode="transaction"))
    try:
        async with db.connect() as conn:
            await conn.scalar(text("select 1"))
        monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
        async with db.autocommit() as driver, driver.cursor() as cur:
            await cur.execute("select 1")
            assert await cur.fetchone() == (1,)
        assert db.checked_out() == 0
    finally:
        await db.dispose()
