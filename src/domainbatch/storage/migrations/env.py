"""Alembic environment: runs migrations synchronously on the URL passed in by ``migrate.py``.

Every pending revision runs in ONE transaction, on SQLite too, so an upgrade that fails (a full
disk, a killed process) leaves the database as it found it and the next start simply retries.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine, event, pool
from sqlalchemy.engine import Connection, Engine

from domainbatch.storage.tables import metadata

config = context.config


def _sqlite_transactional_ddl(engine: Engine) -> None:
    """SQLite can roll back DDL, but pysqlite's legacy transaction handling (Python < 3.12)
    never BEGINs before DDL, so each CREATE TABLE committed on its own and a failed upgrade
    left a half-made schema. SQLAlchemy's documented recipe ("Serializable isolation /
    Savepoints / Transactional DDL" in its SQLite dialect notes): put the driver in autocommit
    mode so it emits nothing itself, and emit our own BEGIN when SQLAlchemy begins."""

    @event.listens_for(engine, "connect")
    def _driver_emits_nothing(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE: take the write lock now, so a concurrent writer makes us wait (busy
        # timeout) at the start instead of failing the upgrade halfway.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    connect_args = config.attributes.get("connect_args", {})
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        _sqlite_transactional_ddl(engine)
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=metadata,
            render_as_batch=sqlite,
            # One transaction for every pending revision (Alembic's default off SQLite); on
            # SQLite, Alembic would otherwise commit after each revision, assuming no
            # transactional DDL.
            transaction_per_migration=False,
            transactional_ddl=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
