"""Batches kept in memory: the rows, their creation and every read the service makes (the
``BatchStore`` reads). ``memory.MemoryQueue`` adds the queue's transitions. One process, one
event loop: every method runs without awaiting in between, so each is atomic as a transaction
would be; the clock is injectable, so tests need not sleep."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.models import BatchRecord, BatchReport, DomainRecord, Page
from domainbatch.core.queue import BatchSpec, CreatedBatch, Heartbeat
from domainbatch.core.status import BatchEvent, BatchStatus, DomainStatus, Progress
from domainbatch.errors import EmptyBatchError, LimitExceededError, NotFoundError
from domainbatch.storage.batches import batch_record, domain_record
from domainbatch.storage.creation import INVALID_SAMPLE
from domainbatch.storage.pages import batch_after, batches_page, domain_after, domains_page


@dataclass
class MemoryDomain:
    """A domain row (the column names of ``batch_domains``)."""

    id: int
    batch_id: str
    domain: str | None
    raw_input: str | None = None
    display: str | None = None
    status: str = DomainStatus.PENDING
    attempts: int = 0
    worker_id: str | None = None
    lease_expires_at: float | None = None
    next_attempt_at: float = 0.0
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] | None = None
    started_at: float | None = None
    finished_at: float | None = None


@dataclass
class MemoryBatch:
    """A batch row (the column names of ``batches``) and its domains in input order."""

    id: str
    processor: str
    options: dict[str, Any]
    max_attempts: int
    tenant_id: str | None = None
    status: str = BatchStatus.PENDING
    total: int = 0
    invalid: int = 0
    duplicates: int = 0
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    idle_seconds: float = 0.0
    webhook_url: str | None = None
    deadline_seconds: float | None = None
    deadline_at: float | None = None
    t50: float | None = None
    t90: float | None = None
    t99: float | None = None
    t100: float | None = None
    domains: list[MemoryDomain] = field(default_factory=list)


class MemoryBatches:
    def __init__(self, lease_seconds: float = 60.0, clock: Callable[[], float] = time.time):
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.batches: dict[str, MemoryBatch] = {}
        self.events: list[tuple[BatchEvent, str]] = []  # the outbox: (event, batch id)
        self.workers: dict[str, Heartbeat] = {}  # live workers by id: their last heartbeat
        self._ids = itertools.count(1)

    # Writing ----------------------------------------------------------------------------------
    def add_batch(
        self,
        domains: Iterable[str],
        *,
        processor: str = "noop",
        options: dict[str, Any] | None = None,
        max_attempts: int = 3,
        tenant_id: str | None = None,
    ) -> str:
        """A batch of valid, distinct domains (tests seed with it; ``create`` builds on it)."""
        batch = MemoryBatch(str(uuid.uuid4()), processor, dict(options or {}), max_attempts)
        batch.tenant_id, batch.created_at = tenant_id, self.clock()
        batch.domains = [MemoryDomain(next(self._ids), batch.id, name) for name in domains]
        batch.total = len(batch.domains)
        self.batches[batch.id] = batch
        return batch.id

    async def create(
        self,
        entries: Iterable[str],
        *,
        spec: BatchSpec,
        normalizer: DomainNormalizer,
        max_entries: int,
        chunk_size: int,
    ) -> CreatedBatch:
        taken = list(itertools.islice(entries, max_entries + 1))
        if len(taken) > max_entries:
            raise LimitExceededError(f"the batch has more than {max_entries:,} entries")
        if not taken:
            raise EmptyBatchError("the batch has no entries: nothing to process")
        batch_id = self.add_batch(
            (),
            processor=spec.processor,
            options=dict(spec.options),
            max_attempts=spec.max_attempts,
            tenant_id=spec.tenant_id,
        )
        batch = self.batches[batch_id]
        batch.webhook_url, batch.deadline_seconds = spec.webhook_url, spec.deadline_seconds
        seen: set[str] = set()
        samples: list[dict[str, str]] = []
        for text in taken:
            entry = normalizer.normalize(text)
            row = MemoryDomain(next(self._ids), batch_id, entry.domain, raw_input=text)
            if entry.domain is None:
                row.status, row.error_code = DomainStatus.INVALID, "invalid_domain"
                row.error_message = entry.reason or "invalid domain"
                batch.invalid += 1
                if len(samples) < INVALID_SAMPLE:
                    samples.append({"input": text, "reason": row.error_message})
            elif entry.domain in seen:
                continue
            else:
                seen.add(entry.domain)
                row.display = entry.display if entry.display != entry.domain else None
            batch.domains.append(row)
        batch.total = len(batch.domains)
        batch.duplicates = len(taken) - batch.total
        if batch.invalid == batch.total:
            batch.status, batch.error = BatchStatus.FAILED, "every entry is invalid"
            batch.finished_at = self.clock()
            self.events.append((BatchEvent.FAILED, batch_id))
        return CreatedBatch(
            batch_id,
            BatchStatus(batch.status),
            batch.total,
            len(taken),
            batch.invalid,
            batch.duplicates,
            samples,
        )

    async def delete(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        batch = self._batch(batch_id, tenant_id)
        del self.batches[batch_id]
        return len(batch.domains)

    # Reading ----------------------------------------------------------------------------------
    def counts(self, batch_id: str) -> Counter[str]:
        """Domains of the batch by status (what the SQL stores keep as counters)."""
        return Counter(dom.status for dom in self.batches[batch_id].domains)

    def _batch(self, batch_id: str, tenant_id: str | None = None) -> MemoryBatch:
        batch = self.batches.get(batch_id)
        if batch is None or (tenant_id is not None and batch.tenant_id != tenant_id):
            raise NotFoundError(f"no batch {batch_id}")
        return batch

    async def batch(self, batch_id: str, *, tenant_id: str | None = None) -> BatchRecord:
        return batch_record(self._batch(batch_id, tenant_id))

    async def status(self, batch_id: str, *, tenant_id: str | None = None) -> BatchReport:
        batch = self._batch(batch_id, tenant_id)
        failed = (d for d in batch.domains if d.status == DomainStatus.FAILED)
        progress = Progress(
            total=batch.total,
            counts=dict(self.counts(batch_id)),
            errors=dict(Counter(d.error_code or "" for d in failed)),
            started_at=batch.started_at,
            finished_at=batch.finished_at,
            now=self.clock(),
            idle_seconds=batch.idle_seconds,
        )
        return BatchReport.of(batch_record(batch), progress)

    async def batch_ids(
        self, prefix: str, *, tenant_id: str | None = None, limit: int = 10
    ) -> list[str]:
        ids = (
            b.id
            for b in self.batches.values()
            if b.id.startswith(prefix) and (tenant_id is None or b.tenant_id == tenant_id)
        )
        return sorted(ids)[:limit]

    async def batch_page(
        self,
        *,
        tenant_id: str | None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[BatchRecord]:
        rows = sorted(self.batches.values(), key=lambda b: (b.created_at, b.id), reverse=True)
        rows = [b for b in rows if tenant_id is None or b.tenant_id == tenant_id]
        rows = [b for b in rows if not status or b.status == status]
        if cursor:
            after = batch_after(cursor)
            rows = [b for b in rows if (b.created_at, b.id) < after]
        return batches_page(rows[: limit + 1], limit)

    async def domain_page(
        self,
        batch_id: str,
        *,
        tenant_id: str | None,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[DomainRecord]:
        after = domain_after(cursor)
        rows = [
            d
            for d in self._batch(batch_id, tenant_id).domains
            if d.id > after and (not status or d.status == status)
        ]
        return domains_page(rows[: limit + 1], limit)

    async def domain(self, batch_id: str, domain_id: int, *, tenant_id: str | None) -> DomainRecord:
        for row in self._batch(batch_id, tenant_id).domains:
            if row.id == domain_id:
                return domain_record(row)
        raise NotFoundError(f"no domain {domain_id} in batch {batch_id}")

    async def domains(
        self, batch_id: str, *, status: str | None = None, tenant_id: str | None = None
    ) -> AsyncIterator[DomainRecord]:
        for row in list(self._batch(batch_id, tenant_id).domains):
            if not status or row.status == status:
                yield domain_record(row)
