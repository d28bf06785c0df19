"""The queue store: what the engine needs from wherever batches are kept (pure: no database).

One implementation per backend, chosen once by the composition root (``Runtime.queue``):
``storage.sqlite.SqliteQueue`` (portable SQLAlchemy Core), ``storage.postgres.PostgresQueue``
(its hot statements in ``storage/queries.sql``) and ``storage.memory.MemoryQueue`` (plain
Python, for fast tests of the worker, runner and service). Every transition is guarded by
(worker, attempt), so a late or repeated call changes nothing, and each domain ends once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.models import BatchRecord, BatchReport, DomainRecord, Page
from domainbatch.core.status import BatchStatus


@dataclass(frozen=True)
class BatchSpec:
    """What a new batch runs with (checked by the service before it reaches a store)."""

    processor: str
    options: Mapping[str, Any]
    max_attempts: int
    tenant_id: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)  # never in a log line
    # Seconds from the batch's start after which its unfinished domains fail.
    deadline_seconds: float | None = None


@dataclass
class CreatedBatch:
    """What creating a batch stored (the API's ``CreatedBatch`` schema is derived from it)."""

    id: str
    status: BatchStatus
    total: int = field(metadata={"description": "Domains stored: valid (deduplicated) and invalid"})
    entries: int = field(metadata={"description": "Entries received"})
    invalid: int
    duplicates: int = field(
        metadata={"description": "Entries merged into an earlier identical domain"}
    )
    invalid_entries: list[dict[str, str]] = field(
        default_factory=list, metadata={"description": "The first 100 invalid entries"}
    )


@dataclass(frozen=True, slots=True)
class ActiveBatch:
    """A batch workers may claim from, with what its domains run with."""

    id: str
    processor: str
    options: dict[str, Any]
    max_attempts: int
    status: str = BatchStatus.PENDING  # when listed: ``processing`` skips the start check
    deadline_seconds: float | None = None  # the batch's deadline option
    # When it passes on this process's ``time.monotonic()`` clock (the store converts the
    # database's clock when it lists the batch); None while the batch has not started.
    deadline: float | None = None

    def time_left(self) -> float | None:
        """Seconds until the deadline (negative once it passed); None: the batch has none. A
        batch listed before its start started with the claim being run, or a moment before:
        its whole deadline is left, never less than the truth (reading the list as its start
        cut domains short by the time a processor took to load, 0.7 s for a test's), and the
        sweep ends the domain at the real deadline anyway."""
        if self.deadline_seconds is None:
            return None
        if self.deadline is None:
            return self.deadline_seconds
        return self.deadline - time.monotonic()


@dataclass(frozen=True, slots=True)
class Claimed:
    """One leased attempt at one domain."""

    id: int
    batch_id: str
    domain: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed attempt. ``retry_in`` set means: back to pending later."""

    claimed: Claimed
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_in: float | None = None
    encoded: bytes | None = field(default=None, repr=False)  # ``result`` already as JSON


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a worker tells the fleet about itself on its lease-extension tick."""

    worker_id: str
    host: str
    pid: int
    concurrency: int
    pinned: bool
    inflight: int


class QueueStore(Protocol):
    """The queue's transitions. Each call is one short transaction with nothing
    session-scoped (it runs unchanged through a transaction-mode pooler)."""

    async def create(
        self,
        entries: Iterable[str],
        *,
        spec: BatchSpec,
        normalizer: DomainNormalizer,
        max_entries: int,
        chunk_size: int,
    ) -> CreatedBatch:
        """Store a batch whole or not at all; memory holds one chunk of ``chunk_size``
        entries whatever the size (``LimitExceededError`` past ``max_entries``,
        ``EmptyBatchError`` for none)."""
        ...

    async def status(self, batch_id: str, *, tenant_id: str | None = None) -> BatchReport:
        """The batch with its counts, errors, progress, rate and ETA, one snapshot
        (``NotFoundError`` if there is none, or it is not ``tenant_id``'s)."""
        ...

    async def active_batches(self, only: Sequence[str] | None = None) -> list[ActiveBatch]:
        """Pending and processing batches, oldest first (``only``: just these ids)."""
        ...

    async def claim(
        self, batch_id: str, worker_id: str, limit: int, *, maybe_pending: bool = True
    ) -> tuple[list[Claimed], bool]:
        """Lease up to ``limit`` due domains; also whether this claim started the batch
        (checked only when ``maybe_pending``)."""
        ...

    async def extend(self, ids: Iterable[int], worker_id: str) -> None:
        """Push the lease of every domain this worker still holds."""
        ...

    async def beat(self, heartbeat: Heartbeat) -> None:
        """Record the worker as alive with its level and load (and forget workers silent for
        three leases: they are gone)."""
        ...

    async def leave(self, worker_id: str) -> None:
        """The worker stopped cleanly: it is no longer listed."""
        ...

    async def reap(self) -> set[str]:
        """Hand expired leases back (or fail domains whose attempts are spent); returns the
        batches touched."""
        ...

    async def ack(self, outcomes: Sequence[Outcome], worker_id: str) -> set[str]:
        """Record outcomes; returns the batches that may have ended."""
        ...

    async def release(self, claims: Iterable[Claimed], worker_id: str) -> None:
        """Hand back unfinished work at shutdown without spending an attempt."""
        ...

    async def finalize(self, batch_id: str) -> str | None:
        """End the batch if no domain is open (``core.status.batch_ending``); exactly
        one caller wins and gets the new status."""
        ...

    async def cancel(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        """Cancel the pending domains and the batch; returns how many were cancelled."""
        ...

    async def retry_failed(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        """Re-queue the failed domains with fresh attempts; returns how many."""
        ...


class BatchStore(QueueStore, Protocol):
    """The queue store with the reads the service needs. ``tenant_id`` set means: only that
    tenant's batches (another's is ``NotFoundError``, exactly like one that does not exist)."""

    async def batch(self, batch_id: str, *, tenant_id: str | None = None) -> BatchRecord:
        """The batch as stored (``NotFoundError`` if there is none)."""
        ...

    async def batch_ids(
        self, prefix: str, *, tenant_id: str | None = None, limit: int = 10
    ) -> list[str]:
        """Up to ``limit`` ids of batches whose id starts with ``prefix``."""
        ...

    async def batch_page(
        self,
        *,
        tenant_id: str | None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[BatchRecord]:
        """Batches, newest first, one keyset page (``cursor``: a previous ``next_cursor``)."""
        ...

    async def domain_page(
        self,
        batch_id: str,
        *,
        tenant_id: str | None,
        status: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[DomainRecord]:
        """One page of a batch's domains in input order, optionally of one status."""
        ...

    async def domain(
        self, batch_id: str, domain_id: int, *, tenant_id: str | None
    ) -> DomainRecord: ...

    def domains(
        self, batch_id: str, *, status: str | None = None, tenant_id: str | None = None
    ) -> AsyncIterator[DomainRecord]:
        """Every domain of a batch in input order, read a page at a time."""
        ...

    async def delete(self, batch_id: str, *, tenant_id: str | None = None) -> int:
        """Remove the batch and everything recorded for it; returns the domain rows removed."""
        ...
