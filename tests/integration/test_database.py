"""get_session(), migrations and the database check on every backend."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from domainbatch.errors import SchemaError, StorageConflictError, StorageError
from domainbatch.service import System
from domainbatch.settings import Settings
from domainbatch.storage import migrate
from domainbatch.storage.database import (
    Database,
    default_database,
    dispose_default,
    get_session,
)
from domainbatch.storage.tables import batches


async def test_get_session_commits_rolls_back_and_closes(settings: Settings) -> None:
    db = Database(settings)
    await migrate.upgrade(db)
    await db.dispose()
    row = {
        "id": "b-1",
        "status": "pending",
        "processor": "noop",
        "options": {},
        "max_attempts": 3,
        "total": 0,
        "invalid": 0,
        "duplicates": 0,
        "created_at": 1.0,
    }
    try:
        async with get_session(settings) as session:
            await session.execute(batches.insert().values(**row))
        with pytest.raises(RuntimeError):
            async with get_session(settings) as session:
                await session.execute(batches.insert().values(**{**row, "id": "b-2"}))
                raise RuntimeError("the caller fails mid-transaction")
        with pytest.raises(StorageError, match="database error"):
            async with get_session(settings) as session:
                await session.execute(text("SELEC 1"))
        with pytest.raises(SchemaError, match="run `domainbatch db upgrade`"):
            async with get_session(settings) as session:
                await session.execute(text("SELECT * FROM no_such_table"))
        async with get_session(settings) as session:
            ids = (await session.scalars(select(batches.c.id))).all()
            assert await session.scalar(select(func.count()).select_from(batches)) == 1
        assert ids == ["b-1"]
        assert default_database(settings).checked_out() == 0
    finally:
        await dispose_default()


async def test_check_reports_server_and_no_leftover_connection(settings: Settings) -> None:
    db = Database(settings)
    try:
        assert await migrate.upgrade(db) == migrate.head_revision()
        report = await System(db).check()
    finally:
        await db.dispose()
    assert report.ok is True and report.checked_out_connections == 0
    assert report.schema_revision == report.schema_head == migrate.head_revision()
    expected = (
        "SQLite" if settings.database_url.get_secret_value().startswith("sqlite") else "PostgreSQL"
    )
    assert report.server_version.startswith(expected)
    expected_mode = "transaction" if settings.pooler_mode == "transaction" else "direct"
    assert report.pooler_mode == expected_mode


async def test_unreachable_database_is_a_storage_error(backend: str) -> None:
    if backend == "sqlite":
        url = "sqlite+aiosqlite:////nonexistent-dir/x.db"
    else:
        url = "postgresql://postgres@127.0.0.1:1/nothing"
    db = Database(Settings(database_url=url))
    try:
        if backend == "sqlite":  # a missing file is reported where it was looked for, not made
            report = await System(db).check()
            assert not report.ok and report.problem == "no database at /nonexistent-dir/x.db"
            assert report.location == "/nonexistent-dir/x.db"
            with pytest.raises(StorageError, match="folder /nonexistent-dir does not exist"):
                await System(db).upgrade()
        else:
            with pytest.raises(StorageError):
                await System(db).check()
    finally:
        await db.dispose()


async def test_a_deadlock_is_a_conflict_to_retry_not_an_outage(
    backend: str, settings: Settings
) -> None:
    """Two transactions locking two rows in opposite orders: Postgres aborts one with
    deadlock_detected, which must come out as ``StorageConflictError`` (the worker retries it
    without reporting a lost database); SQLite has one writer and cannot deadlock so."""
    if backend == "sqlite":
        pytest.skip("SQLite serializes writers: no deadlock to produce")
    db = Database(settings)
    await migrate.upgrade(db)
    row = {"status": "pending", "processor": "noop", "options": {}, "max_attempts": 3}
    counts = {"total": 0, "invalid": 0, "duplicates": 0, "created_at": 1.0}
    try:
        async with db.transaction() as conn:
            for name in ("dl-1", "dl-2"):
                await conn.execute(batches.insert().values(id=name, **row, **counts))
        both_hold_one = asyncio.Barrier(2)

        async def lock(first: str, second: str) -> None:
            async with db.transaction() as conn:
                touch = batches.update().values(total=batches.c.total + 1)
                await conn.execute(touch.where(batches.c.id == first))
                await both_hold_one.wait()
                await conn.execute(touch.where(batches.c.id == second))

        results = await asyncio.gather(
            lock("dl-1", "dl-2"), lock("dl-2", "dl-1"), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        assert len(failed) == 1, results
        assert isinstance(failed[0], StorageConflictError), repr(failed[0])
        assert failed[0].code == "storage_conflict"
        assert "deadlock detected" in failed[0].message
    finally:
        async with db.transaction() as conn:
            await conn.execute(batches.delete().where(batches.c.id.in_(["dl-1", "dl-2"])))
        await db.dispose()
