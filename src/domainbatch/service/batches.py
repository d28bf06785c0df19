"""Batches, as a caller may use them: create, read, page, export, follow, cancel, retry.

A ``Batches`` is bound to one ``Caller`` when the composition root builds it
(``Runtime.batches``): the operator (CLI, validation scripts), who sees every batch and may
name any processor, or a tenant of the API or dashboard, who sees only its own batches and may
name only registered processors. Entry points translate input and output around it; the rules
(which processor, which options, whose batch) live here once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from domainbatch.core import ids
from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.inputs import iter_entries
from domainbatch.core.models import BatchRecord, BatchReport, DomainRecord, Page
from domainbatch.core.queue import BatchSpec, BatchStore, CreatedBatch
from domainbatch.core.status import ACTIVE_BATCH
from domainbatch.errors import InputError
from domainbatch.fetching.guard import check_url
from domainbatch.processors.registry import check_options, load_processor
from domainbatch.service.columns import parse_fields
from domainbatch.service.exports import Export
from domainbatch.settings import Settings

__all__ = ["Batches", "Caller", "CreatedBatch"]


@dataclass(frozen=True)
class Caller:
    """Who is asking. ``tenant_id`` None is unscoped: the operator, or a ``--no-auth`` server.
    ``operator`` may name processors by dotted path (an import inside the process)."""

    tenant_id: str | None = None
    operator: bool = True


OPERATOR = Caller()
MAX_DEADLINE = 10 * 365 * 86400.0  # seconds: past this, a typo, not a plan (and not inf/NaN)


class Batches:
    def __init__(
        self,
        store: BatchStore,
        settings: Settings,
        normalizer: DomainNormalizer,
        caller: Caller,
    ) -> None:
        """``store``: where batches are kept (SQLite, Postgres, or memory for tests)."""
        self.store = store
        self.settings = settings
        self.normalizer = normalizer
        self.caller = caller
        self._tenant = caller.tenant_id

    # Writing ----------------------------------------------------------------------------------
    async def create(
        self,
        entries: Iterable[str],
        *,
        processor: str | None = None,
        options: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        deadline: float | None = None,
    ) -> CreatedBatch:
        """The one way a batch is made: the webhook URL, the processor and its options are
        checked before anything is stored. ``deadline``: seconds from the batch's start after
        which its unfinished domains fail with ``deadline_exceeded``."""
        if deadline is not None and not (0 < deadline < MAX_DEADLINE):
            raise InputError(
                f"deadline must be seconds above 0 and below {MAX_DEADLINE:.0f}, got {deadline}"
            )
        webhook_url = webhook_url or None
        if webhook_url is not None:
            if not webhook_secret:
                raise InputError(
                    "a webhook_url needs a secret (JSON: webhook.secret; header X-Webhook-Secret)"
                )
            check_url(webhook_url, allow_private=self.settings.allow_private_addresses)
        name = processor or self.settings.default_processor
        allow_paths = self.caller.operator or name == self.settings.default_processor
        factory = load_processor(name, allow_paths=allow_paths)
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
            tenant_id=self._tenant,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            deadline_seconds=deadline,
        )
        return await self.store.create(
            entries,
            spec=spec,
            normalizer=self.normalizer,
            max_entries=self.settings.max_entries,
            chunk_size=self.settings.insert_chunk_size,
        )

    async def create_from_file(
        self,
        path: Path,
        *,
        processor: str | None = None,
        options: Mapping[str, Any] | None = None,
        fmt: str = "auto",
        column: str | None = None,
        on_open: Callable[[IO[bytes]], None] | None = None,
        deadline: float | None = None,
    ) -> CreatedBatch:
        """``fmt``: auto, text, csv or json (anything else is ``invalid_input``); ``column``:
        the CSV column to read, by header name or 1-based number (default: detected).
        ``on_open`` is given the open file (a caller's progress display reads its position)."""
        try:
            handle: IO[bytes] = path.open("rb")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
        with handle:
            if on_open is not None:
                on_open(handle)
            entries = iter_entries(
                handle,
                fmt=fmt,  # type: ignore[arg-type]
                filename=path.name,
                column=column,
            )
            return await self.create(
                entries, processor=processor, options=options, deadline=deadline
            )

    async def cancel(self, batch_id: str) -> int:
        """Cancel the pending domains; in-flight ones finish. ``ConflictError`` if it ended."""
        return await self.store.cancel(batch_id, tenant_id=self._tenant)

    async def retry(self, batch_id: str) -> int:
        """Re-queue the failed domains with fresh attempts; returns how many."""
        return await self.store.retry_failed(batch_id, tenant_id=self._tenant)

    async def delete(self, batch_id: str) -> int:
        """Remove the batch and everything recorded for it; returns the domain rows removed."""
        return await self.store.delete(batch_id, tenant_id=self._tenant)

    # Reading ----------------------------------------------------------------------------------
    async def resolve(self, ref: str) -> str:
        """The id of the caller's batch that ``ref`` names: its id, or a unique prefix of at
        least 4 characters (``AmbiguousIdError`` lists the batches a shared prefix starts)."""
        ref = ref.strip().lower()  # ids are lowercase UUIDs
        found = await self.store.batch_ids(
            ref, tenant_id=self._tenant, limit=ids.SHOWN_CANDIDATES + 1
        )
        return ids.pick(ref, found, "batch")

    async def status(self, batch_id: str) -> BatchReport:
        """Counts by domain status, progress, errors by code, timing, rate and ETA."""
        return await self.store.status(batch_id, tenant_id=self._tenant)

    async def page(
        self, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[BatchRecord]:
        """The caller's batches, newest first, one keyset page."""
        return await self.store.batch_page(
            tenant_id=self._tenant, status=status, limit=limit, cursor=cursor
        )

    async def recent(self, *, limit: int = 20, status: str | None = None) -> list[BatchRecord]:
        """The newest batches: the first page."""
        return (await self.page(status=status, limit=limit)).items

    async def domains(
        self,
        batch_id: str,
        *,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[DomainRecord]:
        """One keyset page of a batch's domains in input order."""
        return await self.store.domain_page(
            batch_id, tenant_id=self._tenant, status=status, limit=limit, cursor=cursor
        )

    async def domain(self, batch_id: str, domain_id: int) -> DomainRecord:
        return await self.store.domain(batch_id, domain_id, tenant_id=self._tenant)

    def items(self, batch_id: str, *, status: str | None = None) -> AsyncIterator[DomainRecord]:
        """Every domain of the batch with its result, in input order, read a page at a time
        (``NotFoundError`` on the first step if the batch is not the caller's)."""
        return self.store.domains(batch_id, status=status, tenant_id=self._tenant)

    async def export(
        self,
        batch_id: str,
        fmt: str,
        *,
        status: str | None = None,
        fields: str | None = None,
        excel: bool = False,
    ) -> Export:
        """Every domain with its result, to export as JSONL, CSV or Parquet (``fields``: the
        columns ``a,b,c``); ``InvalidFieldsError`` and ``NotFoundError`` now (before a
        response starts streaming), not halfway through."""
        columns = None if fields is None else parse_fields(fields)
        await self.store.batch(batch_id, tenant_id=self._tenant)
        return Export(self.items(batch_id, status=status), fmt, columns=columns, excel=excel)

    async def follow(
        self, first: list[BatchReport], interval: float
    ) -> AsyncIterator[tuple[list[BatchReport], list[BatchReport]]]:
        """Snapshots of batches until each has ended: yields (snapshots, those that ended)
        about every ``interval`` seconds, starting with ``first``. Each snapshot is one short
        read: nothing is held open between them."""
        current = first
        while True:
            ended = [s for s in current if s.status not in ACTIVE_BATCH]
            yield current, ended
            still_open = [s.id for s in current if s.status in ACTIVE_BATCH]
            if not still_open:
                return
            await asyncio.sleep(interval)
            current = [await self.status(batch_id) for batch_id in still_open]
