"""On SQLite, a batch's status is read in one snapshot: the batch row, its counters and the clock
come from one statement, so a status never says ``pending`` with domains in flight."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from domainbatch.runtime import Runtime
from tests.conftest import backend_settings


@pytest.fixture
async def sqlite_runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = Runtime(backend_settings("sqlite", tmp_path, extra_suffixes=["test"]))
    await rt.prepare()
    try:
        yield rt
    finally:
        await rt.close()


@contextmanager
def statements(rt: Runtime, after: Any = None) -> Iterator[list[str]]:
    """The SQL statements run through the engine inside the block; ``after(n)`` is called
    after the n-th one (on the driver's thread)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)
        if after is not None:
            after(len(seen))

    target = rt.db.engine.sync_engine
    event.listen(target, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(target, "after_cursor_execute", record)


def claim_behind_the_readers_back(path: Path, batch_id: str, n: int) -> None:
    """What a worker's claim commits: the batch starts and ``n`` domains go in flight."""
    with closing(sqlite3.connect(path, timeout=10, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE batches SET status = 'processing', started_at = 1 WHERE id = ?", (batch_id,)
        )
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM batch_domains WHERE batch_id = ? AND status = 'pending' LIMIT ?",
                (batch_id, n),
            )
        ]
        conn.executemany(
            "UPDATE batch_domains SET status = 'processing' WHERE id = ?", [(i,) for i in ids]
        )
        for status, delta in (("pending", -n), ("processing", n)):
            conn.execute(
                "INSERT INTO batch_counts (batch_id, shard, status, error_code, n) "
                "VALUES (?, 99, ?, '', ?) ON CONFLICT (batch_id, shard, status, error_code) "
                "DO UPDATE SET n = n + excluded.n",
                (batch_id, status, delta),
            )
        conn.execute("COMMIT")


async def test_status_is_one_statement(sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    created = await rt.batches().create(["a.test", "b.test", "bad_"])
    await rt.batches().status(created.id)  # the pool holds a connection: no connect below
    with statements(rt) as seen:
        status = await rt.batches().status(created.id)
    assert len(seen) == 1, seen
    assert status.status == "pending" and status.total == 3
    assert status.counts["pending"] == 2 and status.counts["invalid"] == 1


async def test_a_claim_between_reads_cannot_split_the_status(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    rt = sqlite_runtime
    created = await rt.batches().create([f"d{i}.test" for i in range(5)])
    await rt.batches().status(created.id)

    def claim_after_first(n: int) -> None:
        if n == 1:  # a worker's claim commits right after the status's first statement
            claim_behind_the_readers_back(tmp_path / "domainbatch.db", created.id, 3)

    with statements(rt, after=claim_after_first):
        status = await rt.batches().status(created.id)
    # Whatever the order, the figures belong to one moment: before the claim or after it.
    before = status.status == "pending" and status.counts["processing"] == 0
    after = status.status == "processing" and status.counts["processing"] == 3
    assert before or after, status
    assert sum(status.counts.values()) == 5
    later = await rt.batches().status(created.id)
    assert later.status == "processing" and later.counts["processing"] == 3
