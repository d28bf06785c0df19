"""Shared fixtures: the three storage backends every integration test runs on.

- ``sqlite``: a fresh file per test.
- ``postgres``: the local PostgreSQL, database ``domainbatch_test``.
- ``pgbouncer``: the same database through PgBouncer in transaction mode (pool size 2).

Postgres and PgBouncer are required (``.ci/run`` starts them): a missing server is an error,
never a skip. Set ``DOMAINBATCH_TEST_BACKENDS=sqlite`` to run on SQLite alone, knowingly.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from domainbatch.runtime import Runtime
from domainbatch.settings import Settings
from domainbatch.storage import migrate
from domainbatch.storage.database import Database

PG_URL = os.environ.get(
    "DOMAINBATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/domainbatch_test"
)
PGBOUNCER_URL = os.environ.get(
    "DOMAINBATCH_TEST_PGBOUNCER_URL", "postgresql://postgres@127.0.0.1:6432/domainbatch_test"
)
BACKENDS = [
    b.strip()
    for b in os.environ.get("DOMAINBATCH_TEST_BACKENDS", "sqlite,postgres,pgbouncer").split(",")
]
REPO = Path(__file__).resolve().parents[1]


def backend_settings(backend: str, tmp_path: Path, **extra: object) -> Settings:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'domainbatch.db'}"
        return Settings(database_url=url, **extra)  # type: ignore[arg-type]
    if backend == "postgres":
        return Settings(database_url=PG_URL, pooler_mode="direct", **extra)  # type: ignore[arg-type]
    return Settings(database_url=PGBOUNCER_URL, pooler_mode="transaction", **extra)  # type: ignore[arg-type]


def _ensure_postgres_database() -> None:
    admin = PG_URL.rsplit("/", 1)[0] + "/postgres"
    name = PG_URL.rsplit("/", 1)[1]
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("select 1 from pg_database where datname=%s", (name,)).fetchone():
                conn.execute(f'create database "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for the tests ({admin}): {exc}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_schema() -> None:
    if not {"postgres", "pgbouncer"} & set(BACKENDS):
        return
    _ensure_postgres_database()

    async def upgrade() -> None:
        db = Database(Settings(database_url=PG_URL))
        try:
            await migrate.upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(upgrade())
    if "pgbouncer" in BACKENDS:
        try:
            psycopg.connect(PGBOUNCER_URL, prepare_threshold=None).close()
        except psycopg.OperationalError as exc:
            pytest.fail(f"PgBouncer is required (run .ci/pgbouncer.sh): {exc}", pytrace=False)


def wipe_postgres() -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE batch_domains, batch_counts, webhook_deliveries, batches, api_keys, tenants"
        )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, postgres_schema: None) -> Iterator[str]:
    """The backend name; the test's data is removed afterwards."""
    yield request.param
    if request.param != "sqlite":
        wipe_postgres()


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    return backend_settings(
        backend,
        tmp_path,
        poll_min_seconds=0.01,
        poll_max_seconds=0.2,
        ack_interval_seconds=0.05,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
        extra_suffixes=["test"],
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime(settings)
    await rt.prepare()
    try:
        yield rt
    finally:
        await rt.close()
