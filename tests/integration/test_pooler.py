"""Pooler compliance: PgBouncer 1.18 in transaction mode with a pool of 2 server connections.

4 workers and 20 status readers share it; everything must work, and the same workload with
psycopg's default prepared statements must fail there (so this test can fail).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
import pytest

from domainbatch.core.models import BatchReport
from domainbatch.errors import StorageError
from domainbatch.runtime import Runtime
from domainbatch.settings import Settings
from domainbatch.storage import database
from tests.conftest import BACKENDS, PG_URL, PGBOUNCER_URL, backend_settings, wipe_postgres

pytestmark = pytest.mark.skipif("pgbouncer" not in BACKENDS, reason="PgBouncer backend disabled")


def reconnect_bouncer() -> None:
    """Make PgBouncer replace its server connections, so no test sees another's leftovers."""
    admin = PGBOUNCER_URL.rsplit("/", 1)[0] + "/pgbouncer"
    with psycopg.connect(admin, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("RECONNECT " + PGBOUNCER_URL.rsplit("/", 1)[1])


@pytest.fixture
def bouncer_settings(postgres_schema: None, tmp_path: Any) -> Any:
    reconnect_bouncer()
    yield backend_settings(
        "pgbouncer",
        tmp_path,
        poll_min_seconds=0.01,
        poll_max_seconds=0.1,
        concurrency=16,
        claim_size=16,
        db_application_name="domainbatch-pooler-test",
        extra_suffixes=["test"],
    )
    wipe_postgres()
    reconnect_bouncer()


async def workload(settings: Settings) -> tuple[BatchReport, list[BaseException], list[Runtime]]:
    """2,000 noop domains, 4 workers and 20 status readers, each with its own engine."""
    creator = Runtime(settings)
    created = await creator.batches().create([f"d{i}.test" for i in range(2000)], processor="noop")
    workers = [Runtime(settings) for _ in range(4)]
    readers = [
        Runtime(settings.with_overrides(db_pool_size=1, db_max_overflow=0)) for _ in range(20)
    ]
    errors: list[BaseException] = []
    finished = asyncio.Event()

    async def read(rt: Runtime) -> None:
        while not finished.is_set():
            try:
                await rt.batches().status(created.id)
            except StorageError as exc:
                errors.append(exc)
            await asyncio.sleep(0.005)

    # Workers survive database errors by logging them and backing off: collect those too.
    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info and record.exc_info[1] is not None:
                errors.append(record.exc_info[1])

    handler = Collect(level=logging.ERROR)
    logging.getLogger("domainbatch").addHandler(handler)
    reading = [asyncio.create_task(read(rt)) for rt in readers]
    runs = [rt.worker(only_batches=[created.id], burst=True).run() for rt in workers]
    try:
        await asyncio.wait_for(asyncio.gather(*runs), 120)
    except TimeoutError as exc:
        errors.append(exc)
    finished.set()
    await asyncio.gather(*reading)
    logging.getLogger("domainbatch").removeHandler(handler)
    final = await creator.batches().status(created.id)
    return final, errors, [creator, *workers, *readers]


async def test_transaction_pooler_workload_completes(bouncer_settings: Settings) -> None:
    final, errors, runtimes = await workload(bouncer_settings)
    try:
        assert errors == []
        assert final.status == "completed" and final.counts["succeeded"] == 2000
        assert [rt.db.checked_out() for rt in runtimes] == [0] * len(runtimes)
    finally:
        for rt in runtimes:
            await rt.close()
    # Nothing lingers on the server: no open transaction from our clients, and no prepared
    # statement on any server connection PgBouncer hands out.
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        lingering = conn.execute(
            "select count(*) from pg_stat_activity where application_name = %s "
            "and state like 'idle in transaction%%'",
            ("domainbatch-pooler-test",),
        ).fetchone()
        assert lingering == (0,)
    for _ in range(6):
        with psycopg.connect(PGBOUNCER_URL, prepare_threshold=None, autocommit=True) as conn:
            assert conn.execute("select count(*) from pg_prepared_statements").fetchone() == (0,)


async def test_negative_control_prepared_statements_break_there(
    bouncer_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = database.postgres_connect_args

    def with_psycopg_defaults(settings: Settings) -> dict[str, Any]:
        args = real(settings)
        args.pop("prepare_threshold")  # psycopg's default: prepare after 5 executions
        return args

    monkeypatch.setattr(database, "postgres_connect_args", with_psycopg_defaults)
    _, errors, runtimes = await workload(bouncer_settings)
    for rt in runtimes:
        await rt.close()
    assert any("prepared statement" in str(e) for e in errors), errors[:3]
