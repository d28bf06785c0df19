"""The composition root: builds the database, the normalizer, the service (``batches``) and
workers from one ``Settings``. Entry points (CLI, API, dashboard, validation scripts) start here;
nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.queue import BatchStore
from domainbatch.errors import NoDatabaseError
from domainbatch.service import OPERATOR, Batches, Caller, System
from domainbatch.settings import Settings
from domainbatch.storage import counters, migrate
from domainbatch.storage.database import Database
from domainbatch.storage.postgres import PostgresQueue
from domainbatch.storage.sqlite import SqliteQueue

if TYPE_CHECKING:
    from domainbatch.engine.outage import Outage
    from domainbatch.engine.worker import Worker


class Runtime:
    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        """``db``: one already open to share (else one is built from ``settings``)."""
        self.settings = settings
        self.db = db or Database(settings)
        # The backend is chosen here, once: nothing below asks which database it runs on.
        self._queue: type[SqliteQueue | PostgresQueue] = (
            SqliteQueue if self.db.is_sqlite else PostgresQueue
        )
        self.normalizer = DomainNormalizer(
            extra_suffixes=settings.extra_suffixes, strip_www=settings.strip_www
        )

    async def prepare(self, *, create: bool = True) -> None:
        """The embedded SQLite default migrates itself; Postgres needs ``db upgrade``.
        ``create`` False: a missing SQLite file is ``NoDatabaseError`` (a reading command
        leaves no empty database behind)."""
        if not self.db.is_sqlite:
            return
        path = self.db.missing_file()
        if not create and path is not None:
            raise NoDatabaseError(
                f"no database at {path}; point at one with --database-url or "
                "DOMAINBATCH_DATABASE_URL"
            )
        await migrate.upgrade(self.db)

    async def close(self) -> None:
        await self.db.dispose()

    def batches(self, caller: Caller = OPERATOR) -> Batches:
        """The batches as ``caller`` may use them (the operator's by default)."""
        return Batches(self.queue(), self.settings, self.normalizer, caller)

    def queue(self) -> BatchStore:
        """A queue store of its own (one writer, one counter shard)."""
        return self._queue(self.db, self.settings.lease_seconds, counters.pick_shard())

    def system(self) -> System:
        """API keys, the schema, checks and fleet figures (the operator's)."""
        return System(self.db)

    def worker(self, **kwargs: Any) -> Worker:
        # Imported here: the engine (aiohttp, the processors) is not loaded by commands that
        # only read or create batches, which start faster.
        from domainbatch.engine.delivery import WebhookSender
        from domainbatch.engine.worker import Worker

        def sender(worker_id: str, outage: Outage) -> WebhookSender:
            return WebhookSender(
                self.db,
                self.settings,
                worker_id,
                store=store,
                outage=outage,
                only_batches=kwargs.get("only_batches"),
            )

        store = self.queue()
        return Worker(store, self.settings, webhooks=sender, **kwargs)


@asynccontextmanager
async def open_runtime(settings: Settings, *, create: bool = True) -> AsyncIterator[Runtime]:
    """A prepared runtime; ``create`` False for commands that only read or change existing
    batches: they never create a database."""
    runtime = Runtime(settings)
    try:
        await runtime.prepare(create=create)
        yield runtime
    finally:
        await runtime.close()
