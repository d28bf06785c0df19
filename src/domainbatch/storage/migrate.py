"""Schema migrations (Alembic), run on a synchronous driver in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import SQLAlchemyError

from domainbatch.errors import StorageError
from domainbatch.storage.database import (
    Database,
    driver_error,
    first_line,
    postgres_connect_args,
    sync_url,
)

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option(
        "sqlalchemy.url", sync_url(db.url).render_as_string(hide_password=False).replace("%", "%%")
    )
    if not db.is_sqlite:
        cfg.attributes["connect_args"] = postgres_connect_args(db.settings)
    return cfg


def head_revision() -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _current(db: Database) -> str | None:
    connect_args = {} if db.is_sqlite else postgres_connect_args(db.settings)
    engine = create_engine(sync_url(db.url), poolclass=pool.NullPool, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


@contextlib.contextmanager
def _sqlite_lock(db: Database) -> Iterator[None]:
    # Several processes may start on a fresh file at once; only one may create the schema.
    # The lock is an flock on the database file itself (created empty here, which SQLite
    # takes as a new database): no lock file is left beside it. SQLite's own locks are POSIX
    # record locks, which Linux keeps apart from flock, so the two never meet.
    path = db.sqlite_path
    if path is None:
        yield
        return
    with open(path, "ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _upgrade(db: Database) -> str | None:
    db.check_sqlite_folder()
    try:
        with _sqlite_lock(db) if db.is_sqlite else contextlib.nullcontext():
            if _current(db) != head_revision():
                command.upgrade(_config(db), "head")
            return _current(db)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(f"migration failed: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    """One line for the CLI; a file error (the lock file, a full disk) by its reason alone."""
    detail = driver_error(exc)
    if isinstance(detail, OSError) and detail.strerror:
        return detail.strerror
    return first_line(exc)


async def upgrade(db: Database) -> str | None:
    """Bring the schema to the newest revision; returns it."""
    return await asyncio.to_thread(_upgrade, db)


async def current_revision(db: Database) -> str | None:
    try:
        return await asyncio.to_thread(_current, db)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read the schema revision: {_one_line(exc)}") from exc
