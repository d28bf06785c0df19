"""Wiring: builds the database, normalizer and worker from one ``Settings``. The CLI (and the
API) call this; nothing here is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.inputs import iter_entries
from domainbatch.errors import InputError
from domainbatch.processors.registry import check_options, load_processor
from domainbatch.settings import Settings
from domainbatch.storage import counters, migrate
from domainbatch.storage.control import BatchControl
from domainbatch.storage.creation import BatchSpec, CreatedBatch, create_batch
from domainbatch.storage.database import Database
from domainbatch.worker import Worker


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        self.control = BatchControl(self.db, counters.pick_shard())
        self.normalizer = DomainNormalizer(
            extra_suffixes=settings.extra_suffixes, strip_www=settings.strip_www
        )

    async def prepare(self) -> None:
        """The embedded SQLite default migrates itself; Postgres needs ``db upgrade``."""
        if self.db.is_sqlite:
            await migrate.upgrade(self.db)

    async def close(self) -> None:
        await self.db.dispose()

    async def submit(
        self,
        entries: Iterable[str],
        *,
        processor: str | None = None,
        options: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        operator: bool = True,
    ) -> CreatedBatch:
        """The one way a batch is made (CLI, API, dashboard, validation scripts): the processor
        is resolved and its options checked before anything is stored. ``operator`` False (a
        tenant of the API or dashboard) may name only registered processors or the default."""
        name = processor or self.settings.default_processor
        factory = load_processor(
            name, allow_paths=operator or name == self.settings.default_processor
        )
        options = dict(options or {})
        check_options(name, factory, options, self.settings)
        try:
            orjson.dumps(options)  # what cannot be stored is refused as input, not at insert
        except orjson.JSONEncodeError as exc:
            raise InputError(f"options cannot be stored as JSON: {exc}") from None
        spec = BatchSpec(
            processor=name,
            options=options,
            max_attempts=self.settings.max_attempts,
            tenant_id=tenant_id,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
        )
        return await create_batch(
            self.db,
            entries,
            spec=spec,
            normalizer=self.normalizer,
            max_entries=self.settings.max_entries,
            chunk_size=self.settings.insert_chunk_size,
        )

    async def submit_file(
        self,
        path: Path,
        *,
        processor: str | None = None,
        options: Mapping[str, Any] | None = None,
        fmt: str = "auto",
    ) -> CreatedBatch:
        try:
            handle: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
        with handle:
            entries = iter_entries(handle, fmt=fmt, filename=path.name)  # type: ignore[arg-type]
            return await self.submit(entries, processor=processor, options=options)

    async def cancel(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        return await self.control.cancel(batch_id, tenant_id=tenant_id)

    async def retry(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        return await self.control.retry_failed(batch_id, tenant_id=tenant_id)

    def worker(self, **kwargs: Any) -> Worker:
        return Worker(self.db, self.settings, **kwargs)


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings)
    try:
        await runtime.prepare()
        yield runtime
    finally:
        await runtime.close()
