"""Databases for a run: where PostgreSQL and PgBouncer are, and creating, migrating and dropping
databases of a run's own.

Where the servers are, first found first:

- PostgreSQL: ``BENCH_POSTGRES_SERVER``, ``TEST_POSTGRES_SERVER``, else 127.0.0.1:5432.
- PgBouncer: ``BENCH_PGBOUNCER_SERVER``, the server of ``DOMAINBATCH_TEST_PGBOUNCER_URL``,
  ``TEST_PGBOUNCER_PORT`` (``scripts/testenv.sh`` exports all three for the PgBouncer it
  started on a free port), else 127.0.0.1:6432 (``bash .ci/pgbouncer.sh`` with no arguments).

A server is a URL without a database (``postgresql://postgres@127.0.0.1:5432``); a database
URL is a server plus ``/name``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import psycopg

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_PGBOUNCER = "postgresql://postgres@127.0.0.1:6432"


def postgres_server() -> str:
    return (
        os.environ.get("BENCH_POSTGRES_SERVER")
        or os.environ.get("TEST_POSTGRES_SERVER")
        or DEFAULT_POSTGRES
    )


def pgbouncer_server() -> str:
    if server := os.environ.get("BENCH_PGBOUNCER_SERVER"):
        return server
    if url := os.environ.get("DOMAINBATCH_TEST_PGBOUNCER_URL"):
        return server_of(url)
    if port := os.environ.get("TEST_PGBOUNCER_PORT"):
        return f"postgresql://postgres@127.0.0.1:{port}"
    return DEFAULT_PGBOUNCER


def server_of(url: str) -> str:
    return url.rsplit("/", 1)[0]


def name_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def on_server(server: str, database: str) -> str:
    return f"{server}/{database}"


def port_of(server: str) -> int:
    port = psycopg.conninfo.conninfo_to_dict(server).get("port")
    return int(port) if port else 5432


def _admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(on_server(server_of(url), "postgres"), autocommit=True)


def create_database(url: str) -> bool:
    """Create the database ``url`` names unless it exists; True when this call made it."""
    name = name_of(url)
    with _admin(url) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            return False
        conn.execute(f'create database "{name}"')
        return True


def drop_database(url: str) -> None:
    """Drop it even if PgBouncer still holds server connections to it (FORCE ends them)."""
    with _admin(url) as conn:
        conn.execute(f'drop database if exists "{name_of(url)}" with (force)')


def reset_database(url: str) -> str:
    """Drop and create it: empty, no schema. Returns ``url``."""
    drop_database(url)
    create_database(url)
    return url


def upgrade_database(url: str) -> None:
    """Apply domainbatch's migrations (in this process; in a thread of its own, so a caller
    inside a running event loop can call it too)."""
    from domainbatch.settings import Settings
    from domainbatch.storage import migrate
    from domainbatch.storage.database import Database

    async def upgrade() -> None:
        db = Database(Settings(database_url=url))  # type: ignore[arg-type]
        try:
            await migrate.upgrade(db)
        finally:
            await db.dispose()

    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(upgrade())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="upgrade-database")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def pgbouncer_show(server: str, what: str) -> list[tuple[Any, ...]]:
    """``SHOW what`` on PgBouncer's admin console (it speaks only the simple query protocol:
    a client-side cursor)."""
    with (
        psycopg.connect(
            on_server(server, "pgbouncer"), autocommit=True, cursor_factory=psycopg.ClientCursor
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(f"SHOW {what}")
        return list(cursor.fetchall())
