#!/usr/bin/env python3
"""Database connection check.

Opens a session with ``get_session()``, runs queries through SQLAlchemy and checks their
results; checks that the session commits on success, rolls back on error and always gives its
connection back (nothing checked out afterwards). On Postgres it also checks the server side:
pg_stat_activity by this run's application name (no connection left in a transaction, none
left at all once the pool is closed, when there is no pooler in between), and, after a real
queue workload, that no server connection carries session state: no server-side prepared
statement (even for a statement run ten times), no LISTEN, no advisory lock, no open cursor,
no temporary table, no SET. Reports the server version, the pooler mode and, for PgBouncer,
its version.

    python scripts/testing/test_db_connection.py [--verbose]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from typing import Any

from common import (
    Script,
    check,
    check_equal,
    compliance,
    describe_database,
    fact,
    latency_metrics,
    log,
    main,
    metric,
    require_schema,
    step,
)
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.errors import StorageError
from domainbatch.runtime import Runtime
from domainbatch.service import System
from domainbatch.settings import Settings
from domainbatch.storage import migrate
from domainbatch.storage.database import Database, default_database, dispose_default, get_session
from domainbatch.storage.tables import batches

# Parameters a pooler itself sets on the server connection it lends (PgBouncer tracks these
# and issues SET for them): they are the pooler's doing, not session state of ours.
POOLER_TRACKED = ("application_name", "client_encoding", "datestyle", "timezone", "intervalstyle")
POOLER_TRACKED += ("standard_conforming_strings",)
# These describe the current transaction only (a BEGIN ISOLATION LEVEL ... sets them, and
# pg_settings reports a transaction-local value as "session"); a session-wide change shows
# in default_transaction_isolation & co, which stay checked.
TRANSACTION_SCOPED = ("transaction_isolation", "transaction_read_only", "transaction_deferrable")

STATE_QUERIES = {
    "prepared statements": "SELECT count(*) FROM pg_prepared_statements",
    "LISTEN channels": "SELECT count(*) FROM pg_listening_channels()",
    "advisory locks": (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    ),
    "open cursors": "SELECT count(*) FROM pg_cursors",
    "temporary tables": "SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()",
}


class _Abort(Exception):
    """Raised inside a session on purpose: its work must be rolled back."""


def probe_row(batch_id: str) -> dict[str, Any]:
    # A cancelled (ended) batch: no worker of a live deployment would ever pick it up.
    return {
        "id": batch_id,
        "status": "cancelled",
        "processor": "noop",
        "options": {},
        "max_attempts": 1,
        "total": 0,
        "invalid": 0,
        "duplicates": 0,
        "created_at": time.time(),
        "finished_at": time.time(),
    }


async def exists(settings: Settings, batch_id: str) -> bool:
    async with get_session(settings) as session:
        found = await session.scalar(
            select(func.count()).select_from(batches).where(batches.c.id == batch_id)
        )
    return found == 1


async def body(script: Script) -> None:
    # A name of this run alone: pg_stat_activity then shows exactly this process's connections.
    app_name = f"domainbatch-dbcheck-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    settings = script.settings.with_overrides(db_application_name=app_name)
    db = default_database(settings)
    postgres = not db.is_sqlite
    fact("database", describe_database(settings))
    log.info("application name for this run: %s", app_name)
    try:
        with step("get_session(): a query through SQLAlchemy, and its result"):
            started = time.perf_counter()
            async with get_session(settings) as session:
                one = await session.scalar(text("SELECT 1"))
                arithmetic = await session.scalar(select(func.abs(-41) + 1))
            metric("db_first_session_ms", (time.perf_counter() - started) * 1000, "ms")
            check_equal(one, 1, "SELECT 1 returns 1")
            check_equal(arithmetic, 42, "an expression is computed by the server")
            check_equal(db.checked_out(), 0, "connections checked out after the session")

        with step("server, schema and pooler mode (the `domainbatch db check` code)"):
            if db.is_sqlite:
                await migrate.upgrade(db)  # the embedded default migrates itself, as the CLI does
            report = await System(db).check()
            fact("server_version", report.server_version)
            fact("schema_revision", report.schema_revision)
            log.info("server %s, pooler mode %s", report.server_version, report.pooler_mode)
            fact("pooler_mode", report.pooler_mode)
            if report.pooler is not None:
                # POOLER_MODE=auto decides at the first connection (the server's port against
                # the URL's): a PgBouncer found on the admin console must not be run as direct.
                check(
                    db.pooler_mode != "direct",
                    "a pooler in front is run in a pooler mode",
                    f"{report.pooler} answers, but this process runs in mode {db.pooler_mode}",
                )
            await require_schema(Runtime(settings, db))
            check(report.ok, "the database check passes", str(report.as_dict()))
            check_equal(db.checked_out(), 0, "connections checked out after the check")
            if postgres and db.pooler_mode != "direct":
                fact("pooler_version", report.pooler or "unknown (no PgBouncer admin console)")

        with step("get_session() commits on success and rolls back on error"):
            kept, dropped = str(uuid.uuid4()), str(uuid.uuid4())
            script.cleanup.batch(kept)
            with contextlib.suppress(_Abort):
                async with get_session(settings) as session:
                    await session.execute(batches.insert().values(**probe_row(dropped)))
                    raise _Abort
            check(not await exists(settings, dropped), "a session that raised was rolled back")
            async with get_session(settings) as session:
                await session.execute(batches.insert().values(**probe_row(kept)))
            check(await exists(settings, kept), "a session that ended normally was committed")
            check_equal(db.checked_out(), 0, "connections checked out after commit and rollback")

        with step("a database error inside get_session() is a StorageError; nothing leaks"):
            try:
                async with get_session(settings) as session:
                    await session.execute(text(f"SELECT * FROM no_table_{uuid.uuid4().hex}"))
            except StorageError as exc:
                log.info("got StorageError as expected: %s", exc.message)
            else:
                check(False, "a query on a missing table raises StorageError")
            check_equal(db.checked_out(), 0, "connections checked out after a failed query")
            async with get_session(settings) as session:  # the pool is still usable
                check_equal(await session.scalar(text("SELECT 2")), 2, "next session works")

        with step("round trips through get_session()"):
            samples = []
            for _ in range(30):
                started = time.perf_counter()
                async with get_session(settings) as session:
                    await session.scalar(text("SELECT 1"))
                samples.append(time.perf_counter() - started)
            latency_metrics("db_roundtrip_ms", samples)
            check_equal(db.checked_out(), 0, "connections checked out after the round trips")

        if postgres:
            with step("a queue workload on this pool (create, claim, ack, finalize, status)"):
                await queue_workload(script, db, settings)
                check_equal(db.checked_out(), 0, "connections checked out after the workload")
            with step("no session state on the server connections"):
                await inspect_connections(db)
            with step("pg_stat_activity: no connection of this run is left in a transaction"):
                states = await activity(settings, app_name)
                log.info("server connections of this run by state: %s", states or "none")
                busy = {s: n for s, n in states.items() if s != "idle"}
                compliance("connections in a transaction", sum(busy.values()), sum(states.values()))
                check(not busy, "every connection of this run is idle", str(busy))
        else:
            with step("SQLite pragmas: WAL, busy timeout, foreign keys"):
                async with get_session(settings) as session:
                    mode = await session.scalar(text("PRAGMA journal_mode"))
                    busy_ms = await session.scalar(text("PRAGMA busy_timeout"))
                    keys = await session.scalar(text("PRAGMA foreign_keys"))
                check_equal(mode, "wal", "journal mode (readers beside the writer)")
                check(int(busy_ms or 0) > 0, "a busy timeout is set", f"got {busy_ms}")
                check_equal(keys, 1, "foreign keys are enforced")
    finally:
        await dispose_default()

    if postgres:
        with step("pg_stat_activity after the pool is closed"):
            await after_dispose(settings, app_name, db.pooler_mode)


async def queue_workload(script: Script, db: Database, settings: Settings) -> None:
    """What a worker does, on the very pool inspected next: if the library left session state
    anywhere (a SET, a prepared statement, a lock), the inspection finds it."""
    quick = settings.with_overrides(
        extra_suffixes=["test"],
        poll_min_seconds=0.01,
        poll_max_seconds=0.1,
        ack_interval_seconds=0.02,
        claim_size=8,
        insert_chunk_size=20,
    )
    runtime = Runtime(quick, db)  # this very pool: not closed here, the script disposes it
    batches = runtime.batches()
    entries = [f"probe{i}.test" for i in range(50)] + ["localhost"]
    created = await batches.create(entries, processor="noop")
    script.cleanup.batch(created.id)
    worker = runtime.worker(only_batches=[created.id], burst=True)
    await asyncio.wait_for(worker.run(), 60)
    status = await batches.status(created.id)
    check_equal(status.status, "completed", "the workload batch completed")
    check_equal(status.counts["succeeded"], 50, "domains the noop processor succeeded")


async def inspect_connections(db: Database) -> None:
    """Hold several connections at once, so each is a distinct server connection (through a
    transaction pooler too: a transaction pins one), and look at each one's session state."""
    pool: Any = db.engine.sync_engine.pool
    wanted = 2 if db.pooler_mode != "direct" else max(2, int(pool.checkedin()))
    barrier = asyncio.Barrier(wanted)
    found: list[dict[str, Any]] = []

    async def one() -> None:
        async with db.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
            await barrier.wait()  # all open now: no two share a server connection
            # The same parametrized statement ten times: psycopg's default would prepare it
            # from the fifth run on; prepare_threshold=None must keep it unnamed.
            for i in range(10):
                await conn.execute(select(batches.c.id).where(batches.c.id == f"probe-{i}"))
            found.append({"pid": pid, **await session_state(conn)})
            await barrier.wait()

    try:
        await asyncio.wait_for(asyncio.gather(*(one() for _ in range(wanted))), 60)
    except TimeoutError:
        check(False, f"{wanted} concurrent connections could be opened within 60 s")
    pids = {f["pid"] for f in found}
    check_equal(len(pids), wanted, "distinct server connections inspected")
    for what in STATE_QUERIES:
        compliance(what, sum(state[what] for state in found), len(found))
    compliance("SET parameters", sum(len(state["settings set"]) for state in found), len(found))
    for state in found:
        log.info("server connection pid %s: %s", state["pid"], state)
        for what in STATE_QUERIES:
            check_equal(state[what], 0, f"{what} on server connection {state['pid']}")
        check_equal(state["settings set"], [], f"SET parameters on connection {state['pid']}")


async def session_state(conn: AsyncConnection) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for what, query in STATE_QUERIES.items():
        state[what] = int(await conn.scalar(text(query)) or 0)
    rows = await conn.execute(
        text("SELECT name FROM pg_settings WHERE source = 'session' ORDER BY name")
    )
    ignored = POOLER_TRACKED + TRANSACTION_SCOPED
    state["settings set"] = [r[0] for r in rows if r[0].lower() not in ignored]
    return state


async def activity(settings: Settings, app_name: str) -> dict[str, int]:
    """Connections of this run by state, seen from a separate observer connection."""
    observer = Database(
        settings.with_overrides(
            db_application_name=f"{app_name}-observer", db_pool_size=1, db_max_overflow=0
        )
    )
    try:
        async with observer.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
                    "WHERE application_name = :name GROUP BY 1"
                ),
                {"name": app_name},
            )
            return {str(state): int(n) for state, n in rows}
    finally:
        await observer.dispose()


async def after_dispose(settings: Settings, app_name: str, pooler_mode: str) -> None:
    if pooler_mode == "direct":
        # A closed connection's backend exits a moment later: wait for it, briefly.
        for _ in range(50):
            states = await activity(settings, app_name)
            if not states:
                break
            await asyncio.sleep(0.2)
        check(not states, "no server connection of this run is left", str(states))
        return
    # Through a pooler the server connections stay in its pool (that is its job), still
    # labelled with the last client's name; none may be busy or inside a transaction.
    states = await activity(settings, app_name)
    log.info("pooler's server connections last used by this run: %s", states or "none")
    busy = {s: n for s, n in states.items() if s != "idle"}
    check(not busy, "no server connection of this run is busy or in a transaction", str(busy))


if __name__ == "__main__":
    main("test_db_connection", __doc__, body)
