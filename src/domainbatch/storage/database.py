"""Engines and sessions. One ``Database`` per process and URL; nothing connects at import time.

Postgres goes through psycopg 3 with ``prepare_threshold=None`` so that a transaction-mode
pooler (PgBouncer, Supavisor) never sees a named prepared statement; nothing here sets session
state (no SET, no advisory locks, no LISTEN), so every mode is pooler-safe.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from domainbatch.errors import (
    ConfigurationError,
    SchemaError,
    StorageConflictError,
    StorageError,
)
from domainbatch.settings import Settings, default_sqlite_path

SUPABASE_POOLER_SUFFIX = ".pooler.supabase.com"
# Postgres' deadlock_detected and serialization_failure: one transaction of two was aborted.
# After an outage a worker's ack and its own sweep's reap both move the domains whose leases
# ran out meanwhile, in different row orders (CI saw "deadlock detected" through PgBouncer).
CONFLICTS = frozenset({"40P01", "40001"})
SUPABASE_TRANSACTION_PORT = 6543


def normalize_url(raw: str) -> URL:
    """Map ``postgres://`` / ``postgresql://`` (as Supabase prints them) and plain ``sqlite://``
    to the async drivers we use."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigurationError(f"DOMAINBATCH_DATABASE_URL is not a database URL: {exc}") from exc
    backend = url.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    raise ConfigurationError(f"unsupported database {backend!r}: use sqlite or postgresql")


def sync_url(url: URL) -> URL:
    """The same database through a synchronous driver (for Alembic)."""
    return url.set(drivername="sqlite") if url.get_backend_name() == "sqlite" else url


def detect_pooler_mode(url: URL, configured: str) -> str:
    if configured != "auto":
        return configured
    if url.get_backend_name() == "sqlite":
        return "direct"
    host = (url.host or "").lower()
    if url.port == SUPABASE_TRANSACTION_PORT or host.endswith(SUPABASE_POOLER_SUFFIX):
        return "transaction"
    return "direct"


def postgres_connect_args(settings: Settings) -> dict[str, Any]:
    # application_name is a startup parameter, not a SET, so poolers pass it through.
    return {"prepare_threshold": None, "application_name": settings.db_application_name}


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tune_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets status readers run beside the single writer; busy_timeout makes concurrent
    # writers (several worker processes) wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


PING_AFTER_IDLE_SECONDS = 10.0


def _stamp_idle(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        # The SELECT opened a transaction: left open, the autocommit hot paths (claim, ack,
        # the status read) could not switch this connection to autocommit.
        dbapi_connection.rollback()
    except Exception as exc:
        # The pool discards this connection and checks out (or opens) another.
        raise DisconnectionError(f"idle pooled connection is gone: {exc}") from exc


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """The one place driver and SQLAlchemy errors become ``StorageError``."""
    try:
        yield
    except (SQLAlchemyError, psycopg.Error, OSError) as exc:  # psycopg's: the raw hot paths
        if sqlstate(exc) in CONFLICTS:
            raise StorageConflictError(f"database conflict: {first_line(exc)}") from exc
        if is_missing_table(exc):
            raise SchemaError(
                "the database has no domainbatch tables (or an older schema): "
                "run `domainbatch db upgrade`"
            ) from exc
        raise StorageError(f"database error: {first_line(exc)}") from exc


def driver_error(exc: BaseException) -> BaseException:
    """The driver's own error under SQLAlchemy's wrapper (``orig``), or ``exc`` itself."""
    return getattr(exc, "orig", None) or exc


def sqlstate(exc: BaseException) -> str | None:
    """Postgres' SQLSTATE of the error (under SQLAlchemy's wrapper or not); None elsewhere."""
    state = getattr(driver_error(exc), "sqlstate", None)
    return state if isinstance(state, str) else None


def is_missing_table(exc: BaseException) -> bool:
    """Postgres' undefined_table (42P01), or SQLite's "no such table"."""
    return sqlstate(exc) == "42P01" or str(driver_error(exc)).startswith("no such table")


def first_line(exc: BaseException) -> str:
    """The driver's message (``orig`` under SQLAlchemy's wrapper) without SQLAlchemy's SQL
    echo and links: errors are shown as one line."""
    detail = driver_error(exc)
    lines = str(detail).strip().splitlines()
    return lines[0] if lines else type(detail).__name__


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = normalize_url(settings.database_url.get_secret_value())
        self.dialect = self.url.get_backend_name()
        self.pooler_mode = detect_pooler_mode(self.url, settings.pooler_mode)
        if self.dialect == "sqlite":
            self.engine: AsyncEngine = create_async_engine(
                self.url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
            event.listen(self.engine.sync_engine, "connect", _tune_sqlite)
        else:
            self.engine = create_async_engine(
                self.url,
                connect_args=postgres_connect_args(settings),
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
            # A pooler may drop idle client links: ping (a plain SELECT 1) a connection
            # that sat idle in our pool, not one used a moment ago. Pinging on every
            # checkout doubled the round trips of the queue's one-statement operations.
            event.listen(self.engine.sync_engine, "checkin", _stamp_idle)
            event.listen(self.engine.sync_engine, "checkout", self._ping_if_pooled)
            if settings.pooler_mode == "auto" and self.pooler_mode == "direct":
                event.listen(self.engine.sync_engine, "first_connect", self._detect_pooler)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._folder_checked = not self.is_sqlite

    def _ping_if_pooled(
        self, dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any
    ) -> None:
        if self.pooler_mode != "direct":
            _ping_if_idle(dbapi_connection, record, proxy)

    def _detect_pooler(self, dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        """``auto`` on a URL that names no known pooler: ask the server which port it
        accepted the connection on. A pooler (PgBouncer on 6432, Supavisor) or any proxy in
        between connects on another port (or over a socket: NULL) than the URL's, and then
        the strictest mode is the safe one. One query, on the engine's first connection."""
        host = self.url.host or ""
        if not host or host.startswith("/"):
            return  # a Unix socket: no port to compare
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT inet_server_port()")
            row = cursor.fetchone()
        finally:
            cursor.close()
            dbapi_connection.rollback()
        if row is None or row[0] != (self.url.port or 5432):
            self.pooler_mode = "transaction"

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite file (None in memory, for a URI, or on Postgres)."""
        path = self.url.database
        if not self.is_sqlite or not path or path == ":memory:" or path.startswith("file:"):
            return None
        return os.path.abspath(path)

    def missing_file(self) -> str | None:
        """The SQLite file when it does not exist (yet), else None."""
        path = self.sqlite_path
        return path if path is not None and not os.path.exists(path) else None

    def check_sqlite_folder(self) -> None:
        """A missing folder is the usual reason a SQLite file cannot be opened: say so plainly,
        before aiosqlite's connect thread fails (that failure races the event loop's shutdown
        and can print a thread traceback after the command has ended)."""
        if self._folder_checked:
            return
        path = self.sqlite_path
        if path is not None:
            folder = os.path.dirname(os.path.abspath(path))
            if folder == str(default_sqlite_path().parent):
                os.makedirs(folder, exist_ok=True)  # the default's folder is ours to make
            if not os.path.isdir(folder):
                raise StorageError(
                    f"cannot open the SQLite database {path}: the folder {folder} does not exist"
                )
        self._folder_checked = True

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on error, always close."""
        self.check_sqlite_folder()
        with translate_errors():
            async with self._sessions() as session:
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection in one transaction (hot paths avoid ORM objects)."""
        self.check_sqlite_folder()
        with translate_errors():
            async with self.engine.begin() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for reads; its implicit transaction is rolled back on close."""
        self.check_sqlite_folder()
        with translate_errors():
            async with self.engine.connect() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Any]:
        """The driver connection (psycopg's) in autocommit mode, for hot single statements:
        no BEGIN/COMMIT round trips, no ORM or Core compilation. Postgres only. SQLAlchemy
        puts the connection back in transactional mode when it returns to the pool."""
        with translate_errors():
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                raw = await conn.get_raw_connection()
                yield raw.driver_connection

    def checked_out(self) -> int:
        """Connections currently checked out of this process's pool."""
        checked_out: int = getattr(self.engine.sync_engine.pool, "checkedout", lambda: 0)()
        return checked_out

    async def dispose(self) -> None:
        await self.engine.dispose()


_default: Database | None = None


def default_database(settings: Settings | None = None) -> Database:
    """The process-wide database for ``settings`` (built on first use)."""
    global _default
    if _default is None or (settings is not None and _default.settings != settings):
        _default = Database(settings or Settings())
    return _default


@contextlib.asynccontextmanager
async def get_session(settings: Settings | None = None) -> AsyncIterator[AsyncSession]:
    """An ``AsyncSession`` on the configured database: commits on success, rolls back on error,
    always closes (its connection goes back to the pool)."""
    async with default_database(settings).session() as session:
        yield session


async def dispose_default() -> None:
    global _default
    if _default is not None:
        await _default.dispose()
        _default = None


__all__ = ["Database", "default_database", "dispose_default", "get_session", "translate_errors"]
