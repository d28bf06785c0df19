"""The queue store in memory (``core.queue.BatchStore`` in plain Python): the same transitions
as the SQL stores, on the rows of ``memory_batches.MemoryBatches``, with no database, for fast
tests of the worker, runner and service. Every transition keeps the SQL stores' guards: an ack
lands only on the attempt it belongs to, and a batch ends once, by ``core.status.batch_ending``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from domainbatch.core.completion import DEADLINE_CODE, completion, deadline_message, ranks
from domainbatch.core.queue import ActiveBatch, Claimed, Heartbeat, Outcome
from domainbatch.core.status import (
    ACTIVE_BATCH,
    OPEN_DOMAIN,
    BatchEvent,
    BatchStatus,
    DomainStatus,
    batch_ending,
)
from domainbatch.errors import ConflictError
from domainbatch.storage.cancellation import CANCELLED_MESSAGE
from domainbatch.storage.memory_batches import MemoryBatch, MemoryBatches, MemoryDomain
from domainbatch.storage.queue import REAPED_MESSAGE

if TYPE_CHECKING:
    from domainbatch.core.queue import BatchStore


class MemoryQueue(MemoryBatches):
    def _held(self, claimed: Claimed, worker_id: str) -> MemoryDomain | None:
        """The domain row, if this worker's attempt still holds it (the SQL attempt guard)."""
        batch = self.batches.get(claimed.batch_id)
        for dom in batch.domains if batch is not None else ():
            if dom.id == claimed.id:
                held = dom.status == DomainStatus.PROCESSING and dom.worker_id == worker_id
                return dom if held and dom.attempts == claimed.attempt else None
        return None

    def _requeue(self, batch: MemoryBatch, dom: MemoryDomain) -> None:
        """Back to pending, unless the batch was cancelled meanwhile: nothing claims from an
        ended batch, so the domain ends cancelled (the SQL stores: cancellation.py)."""
        dom.status, dom.worker_id, dom.lease_expires_at = DomainStatus.PENDING, None, None
        if batch.status == BatchStatus.CANCELLED:
            self._cancel(dom)

    def _cancel(self, dom: MemoryDomain) -> None:
        dom.status, dom.finished_at = DomainStatus.CANCELLED, self.clock()
        dom.error_code, dom.error_message = "cancelled", CANCELLED_MESSAGE

    # Transitions ------------------------------------------------------------------------------
    async def active_batches(self, only: Sequence[str] | None = None) -> list[ActiveBatch]:
        now, monotonic = self.clock(), time.monotonic()
        listed = []
        for b in sorted(self.batches.values(), key=lambda b: (b.created_at, b.id)):
            if b.status not in ACTIVE_BATCH or (only is not None and b.id not in only):
                continue
            deadline = None if b.deadline_at is None else monotonic + b.deadline_at - now
            args = (b.id, b.processor, b.options, b.max_attempts, b.status, b.deadline_seconds)
            listed.append(ActiveBatch(*args, deadline))
        return listed

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
            dom.lease_expires_at, dom.started_at = now + self.lease_seconds, now
            # A pending row always has a domain (only invalid rows have none).
            claimed.append(Claimed(dom.id, batch_id, dom.domain or "", dom.attempts))
        started = bool(claimed) and maybe_pending and batch.status == BatchStatus.PENDING
        if started:
            batch.status, batch.started_at = BatchStatus.PROCESSING, now
            if batch.deadline_seconds is not None:
                batch.deadline_at = now + batch.deadline_seconds
            self.events.append((BatchEvent.STARTED, batch_id))
        return claimed, started

    async def extend(self, ids: Iterable[int], worker_id: str) -> None:
        held = set(ids)
        for batch in self.batches.values():
            for dom in batch.domains:
                mine = dom.id in held and dom.worker_id == worker_id
                if mine and dom.status == DomainStatus.PROCESSING:
                    dom.lease_expires_at = self.clock() + self.lease_seconds

    async def beat(self, heartbeat: Heartbeat) -> None:
        self.workers[heartbeat.worker_id] = heartbeat

    async def leave(self, worker_id: str) -> None:
        self.workers.pop(worker_id, None)

    async def reap(self) -> set[str]:
        now, touched = self.clock(), set()
        for batch in self.batches.values():
            for dom in batch.domains:
                expired = dom.lease_expires_at is not None and dom.lease_expires_at < now
                if dom.status != DomainStatus.PROCESSING or not expired:
                    continue
                touched.add(batch.id)
                if dom.attempts >= batch.max_attempts:
                    dom.worker_id, dom.lease_expires_at = None, None
                    dom.status, dom.finished_at = DomainStatus.FAILED, now
                    dom.error_code, dom.error_message = "internal", REAPED_MESSAGE
                else:
                    self._requeue(batch, dom)
        return touched | self._expire(now)

    def _expire(self, now: float) -> set[str]:
        """End the open domains of active batches past their deadline (storage.completion)."""
        touched = set()
        for batch in self.batches.values():
            due = batch.deadline_at is not None and batch.deadline_at <= now
            if not due or batch.status not in ACTIVE_BATCH or batch.deadline_seconds is None:
                continue
            for dom in batch.domains:
                if dom.status in OPEN_DOMAIN:
                    dom.status, dom.finished_at = DomainStatus.FAILED, now
                    dom.worker_id, dom.lease_expires_at = None, None
                    dom.error_code = DEADLINE_CODE
                    dom.error_message = deadline_message(batch.deadline_seconds)
                    touched.add(batch.id)
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
                dom.next_attempt_at = now + o.retry_in
                self._requeue(self.batches[o.claimed.batch_id], dom)
            else:
                dom.status, dom.finished_at = DomainStatus.FAILED, now
        return {o.claimed.batch_id for o in outcomes if o.retry_in is None}

    async def release(self, claims: Iterable[Claimed], worker_id: str) -> None:
        for claimed in claims:
            dom = self._held(claimed, worker_id)
            if dom is not None:
                dom.attempts -= 1
                self._requeue(self.batches[claimed.batch_id], dom)

    async def finalize(self, batch_id: str) -> str | None:
        batch = self.batches.get(batch_id)
        if batch is None or batch.status not in ACTIVE_BATCH:
            return None
        ending = batch_ending(self.counts(batch_id))
        if ending is None:
            return None
        batch.status, batch.error = ending
        batch.finished_at = self.clock()
        times = sorted(d.finished_at for d in batch.domains if d.finished_at is not None)
        found = {rank: times[rank - 1] for rank in ranks(len(times)).values()}
        for name, value in (completion(batch.started_at, found, len(times)) or {}).items():
            setattr(batch, name, value)
        self.events.append((BatchEvent.ending(batch.status), batch_id))
        return batch.status

    async def cancel(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        batch = self._batch(batch_id, tenant_id)
        if batch.status not in ACTIVE_BATCH:
            raise ConflictError(f"batch {batch_id} is already {batch.status}")
        cancelled = 0
        for dom in batch.domains:
            if dom.status == DomainStatus.PENDING:
                self._cancel(dom)
                cancelled += 1
        batch.status, batch.finished_at = BatchStatus.CANCELLED, self.clock()
        self.events.append((BatchEvent.CANCELLED, batch_id))
        return cancelled

    async def retry_failed(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        batch = self._batch(batch_id, tenant_id)
        failed = [dom for dom in batch.domains if dom.status == DomainStatus.FAILED]
        for dom in failed:
            dom.status, dom.attempts, dom.next_attempt_at = DomainStatus.PENDING, 0, 0.0
            dom.finished_at = None
        if failed:
            if batch.finished_at is not None:
                batch.idle_seconds += self.clock() - batch.finished_at  # as SqlQueue does
            batch.status, batch.finished_at, batch.error = BatchStatus.PROCESSING, None, None
            batch.t50 = batch.t90 = batch.t99 = batch.t100 = None
            if batch.deadline_seconds is not None:
                batch.deadline_at = self.clock() + batch.deadline_seconds
        return len(failed)


if TYPE_CHECKING:

    def _conforms(store: MemoryQueue) -> BatchStore:  # mypy checks the protocol here
        return store
