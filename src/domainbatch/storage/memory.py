"""The queue store in memory (``core.queue.QueueStore`` in plain Python): the same transitions
as the SQL stores, with no database, for fast tests of the worker, runner and service. One
process, one event loop: every method runs without awaiting in between, so each is atomic as
a transaction would be. The clock is injectable, so lease expiry and retry backoff can be
tested without sleeping.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.models import BatchRecord, BatchReport
from domainbatch.core.queue import ActiveBatch, BatchSpec, Claimed, CreatedBatch, Outcome
from domainbatch.core.status import (
    ACTIVE_BATCH,
    BatchEvent,
    BatchStatus,
    DomainStatus,
    Progress,
    batch_ending,
)
from domainbatch.errors import ConflictError, EmptyBatchError, LimitExceededError, NotFoundError
from domainbatch.storage.queue import CANCELLED_MESSAGE, REAPED_MESSAGE


@dataclass
class MemoryDomain:
    id: int
    batch_id: str
    domain: str
    status: str = DomainStatus.PENDING
    attempts: int = 0
    worker_id: str | None = None
    lease_expires_at: float | None = None
    next_attempt_at: float = 0.0
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] | None = None
    finished_at: float | None = None


@dataclass
class MemoryBatch:
    id: str
    processor: str
    options: dict[str, Any]
    max_attempts: int
    tenant_id: str | None = None
    status: str = BatchStatus.PENDING
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    domains: list[MemoryDomain] = field(default_factory=list)


class MemoryQueue:
    def __init__(self, lease_seconds: float = 60.0, clock: Callable[[], float] = time.time):
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.batches: dict[str, MemoryBatch] = {}
        self.events: list[tuple[BatchEvent, str]] = []  # the outbox: (event, batch id)
        self._ids = itertools.count(1)

    # Creation ------------------------------------------------------------------------------
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
        valid: dict[str, None] = {}
        invalid: list[dict[str, str]] = []
        for text in taken:
            entry = normalizer.normalize(text)
            if entry.domain is None:
                invalid.append({"input": text, "reason": entry.reason or "invalid domain"})
            else:
                valid.setdefault(entry.domain)
        batch_id = self.add_batch(
            valid,
            processor=spec.processor,
            options=dict(spec.options),
            max_attempts=spec.max_attempts,
            tenant_id=spec.tenant_id,
        )
        batch = self.batches[batch_id]
        for sample in invalid:
            dom = MemoryDomain(next(self._ids), batch_id, "", DomainStatus.INVALID)
            dom.error_code, dom.error_message = "invalid_domain", sample["reason"]
            batch.domains.append(dom)
        total = len(batch.domains)
        if invalid and len(invalid) == total:
            batch.status, batch.error = BatchStatus.FAILED, "every entry is invalid"
            self.events.append((BatchEvent.FAILED, batch_id))
        return CreatedBatch(
            batch_id,
            batch.status,
            total,
            len(taken),
            len(invalid),
            len(taken) - total,
            invalid[:100],
        )

    # Seeding (tests) --------------------------------------------------------------------------
    def add_batch(
        self,
        domains: Iterable[str],
        *,
        processor: str = "noop",
        options: dict[str, Any] | None = None,
        max_attempts: int = 3,
        tenant_id: str | None = None,
    ) -> str:
        batch = MemoryBatch(
            str(uuid.uuid4()), processor, dict(options or {}), max_attempts, tenant_id
        )
        batch.created_at = self.clock()
        batch.domains = [MemoryDomain(next(self._ids), batch.id, name) for name in domains]
        self.batches[batch.id] = batch
        return batch.id

    def counts(self, batch_id: str) -> Counter[str]:
        """Domains of the batch by status (what the SQL stores keep as counters)."""
        return Counter(dom.status for dom in self.batches[batch_id].domains)

    def _batch(self, batch_id: str, tenant_id: str | None = None) -> MemoryBatch:
        batch = self.batches.get(batch_id)
        if batch is None or (tenant_id is not None and batch.tenant_id != tenant_id):
            raise NotFoundError(f"no batch {batch_id}")
        return batch

    def _held(self, claimed: Claimed, worker_id: str) -> MemoryDomain | None:
        """The domain row, if this worker's attempt still holds it (the SQL attempt guard)."""
        batch = self.batches.get(claimed.batch_id)
        for dom in batch.domains if batch is not None else ():
            if dom.id == claimed.id:
                held = dom.status == DomainStatus.PROCESSING and dom.worker_id == worker_id
                return dom if held and dom.attempts == claimed.attempt else None
        return None

    # QueueStore ------------------------------------------------------------------------------
    async def status(self, batch_id: str, *, tenant_id: str | None = None) -> BatchReport:
        batch = self._batch(batch_id, tenant_id)
        counts = self.counts(batch_id)
        errors = Counter(
            d.error_code or "" for d in batch.domains if d.status == DomainStatus.FAILED
        )
        record = BatchRecord(
            id=batch.id,
            status=BatchStatus(batch.status),
            processor=batch.processor,
            options=batch.options,
            total=len(batch.domains),
            invalid=counts.get(DomainStatus.INVALID, 0),
            duplicates=0,
            error=batch.error,
            created_at=batch.created_at,
            started_at=batch.started_at,
            finished_at=batch.finished_at,
            webhook_url=None,
        )
        progress = Progress(
            total=record.total,
            counts=dict(counts),
            errors=dict(errors),
            started_at=batch.started_at,
            finished_at=batch.finished_at,
            now=self.clock(),
        )
        return BatchReport.of(record, progress)

    async def active_batches(self, only: Sequence[str] | None = None) -> list[ActiveBatch]:
        return [
            ActiveBatch(b.id, b.processor, b.options, b.max_attempts, b.status)
            for b in sorted(self.batches.values(), key=lambda b: (b.created_at, b.id))
            if b.status in ACTIVE_BATCH and (only is None or b.id in only)
        ]

    async def claim(
        self, batch_id: str, worker_id: str, limit: int, *, maybe_pending: bool = True
    ) -> tuple[list[Claimed], bool]:
        now = self.clock()
        batch = self.batches[batch_id]
        due = [
            dom
            for dom in batch.domains
            if dom.status == DomainStatus.PENDING and dom.next_attempt_at <= now
        ]
        due.sort(key=lambda dom: dom.next_attempt_at)
        claimed = []
        for dom in due[:limit]:
            dom.status, dom.worker_id = DomainStatus.PROCESSING, worker_id
            dom.attempts += 1
            dom.lease_expires_at = now + self.lease_seconds
            claimed.append(Claimed(dom.id, batch_id, dom.domain, dom.attempts))
        started = bool(claimed) and maybe_pending and batch.status == BatchStatus.PENDING
        if started:
            batch.status, batch.started_at = BatchStatus.PROCESSING, now
            self.events.append((BatchEvent.STARTED, batch_id))
        return claimed, started

    async def extend(self, ids: Iterable[int], worker_id: str) -> None:
        held = set(ids)
        for batch in self.batches.values():
            for dom in batch.domains:
                mine = dom.id in held and dom.worker_id == worker_id
                if mine and dom.status == DomainStatus.PROCESSING:
                    dom.lease_expires_at = self.clock() + self.lease_seconds

    async def reap(self) -> set[str]:
        now, touched = self.clock(), set()
        for batch in self.batches.values():
            for dom in batch.domains:
                expired = dom.lease_expires_at is not None and dom.lease_expires_at < now
                if dom.status != DomainStatus.PROCESSING or not expired:
                    continue
                touched.add(batch.id)
                dom.worker_id, dom.lease_expires_at = None, None
                if dom.attempts >= batch.max_attempts:
                    dom.status, dom.finished_at = DomainStatus.FAILED, now
                    dom.error_code, dom.error_message = "internal", REAPED_MESSAGE
                else:
                    dom.status = DomainStatus.PENDING
        return touched

    async def ack(self, outcomes: Sequence[Outcome], worker_id: str) -> set[str]:
        now = self.clock()
        for o in outcomes:
            dom = self._held(o.claimed, worker_id)
            if dom is None:
                continue  # a late ack: another attempt owns the domain now
            dom.lease_expires_at = None
            dom.error_code, dom.error_message = o.error_code, o.error_message
            if o.error_code is None:
                dom.status, dom.result, dom.finished_at = DomainStatus.SUCCEEDED, o.result, now
            elif o.retry_in is not None:
                dom.status, dom.worker_id = DomainStatus.PENDING, None
                dom.next_attempt_at = now + o.retry_in
            else:
                dom.status, dom.finished_at = DomainStatus.FAILED, now
        return {o.claimed.batch_id for o in outcomes if o.retry_in is None}

    async def release(self, claims: Iterable[Claimed], worker_id: str) -> None:
        for claimed in claims:
            dom = self._held(claimed, worker_id)
            if dom is not None:
                dom.status, dom.worker_id, dom.lease_expires_at = DomainStatus.PENDING, None, None
                dom.attempts -= 1

    async def finalize(self, batch_id: str) -> str | None:
        batch = self.batches.get(batch_id)
        if batch is None or batch.status not in ACTIVE_BATCH:
            return None
        ending = batch_ending(self.counts(batch_id))
        if ending is None:
            return None
        batch.status, batch.error = ending
        batch.finished_at = self.clock()
        self.events.append((BatchEvent.ending(batch.status), batch_id))
        return batch.status

    async def cancel(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        batch = self._batch(batch_id, tenant_id)
        if batch.status not in ACTIVE_BATCH:
            raise ConflictError(f"batch {batch_id} is already {batch.status}")
        now, cancelled = self.clock(), 0
        for dom in batch.domains:
            if dom.status == DomainStatus.PENDING:
                dom.status, dom.finished_at = DomainStatus.CANCELLED, now
                dom.error_code, dom.error_message = "cancelled", CANCELLED_MESSAGE
                cancelled += 1
        batch.status, batch.finished_at = BatchStatus.CANCELLED, now
        self.events.append((BatchEvent.CANCELLED, batch_id))
        return cancelled

    async def retry_failed(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        batch = self._batch(batch_id, tenant_id)
        failed = [dom for dom in batch.domains if dom.status == DomainStatus.FAILED]
        for dom in failed:
            dom.status, dom.attempts, dom.next_attempt_at = DomainStatus.PENDING, 0, 0.0
            dom.finished_at = None
        if failed:
            batch.status, batch.finished_at, batch.error = BatchStatus.PROCESSING, None, None
        return len(failed)
