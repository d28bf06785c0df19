"""Status and progress rules (pure): what is terminal, how a batch ends, which events it
announces, and how progress, rate and ETA are computed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class BatchStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DomainStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INVALID = "invalid"
    CANCELLED = "cancelled"


ACTIVE_BATCH = (BatchStatus.PENDING, BatchStatus.PROCESSING)
TERMINAL_DOMAIN = frozenset(
    {DomainStatus.SUCCEEDED, DomainStatus.FAILED, DomainStatus.INVALID, DomainStatus.CANCELLED}
)
OPEN_DOMAIN = (DomainStatus.PENDING, DomainStatus.PROCESSING)


def batch_ending(counts: Mapping[str, int]) -> tuple[BatchStatus, str | None] | None:
    """How a batch ends, from its counts by domain status: not yet while a domain is open;
    then ``completed`` when one succeeded, else ``failed`` with the reason. Every store ends
    batches by this rule (the SQL stores only guard that no domain is open any more)."""
    if any(counts.get(s, 0) > 0 for s in OPEN_DOMAIN):
        return None
    if counts.get(DomainStatus.SUCCEEDED, 0) > 0:
        return BatchStatus.COMPLETED, None
    return BatchStatus.FAILED, "no domain succeeded"


class BatchEvent(StrEnum):
    """What webhooks and the worker's hooks announce about a batch."""

    STARTED = "batch.started"
    COMPLETED = "batch.completed"
    FAILED = "batch.failed"
    CANCELLED = "batch.cancelled"

    @classmethod
    def ending(cls, status: str) -> BatchEvent:
        """The event of a batch that ended with ``status``."""
        return cls(f"batch.{status}")


@dataclass(frozen=True)
class Progress:
    """A snapshot of one batch's progress, derived from counts by domain status."""

    total: int
    counts: dict[str, int]
    errors: dict[str, int] = field(default_factory=dict)
    started_at: float | None = None
    finished_at: float | None = None
    now: float = 0.0
    # Time the batch sat ended before a retry reopened it: not worked time, so neither
    # duration nor rate count it, while ``started_at`` stays the first start.
    idle_seconds: float = 0.0

    @property
    def done(self) -> int:
        return sum(self.counts.get(s, 0) for s in TERMINAL_DOMAIN)

    @property
    def percent(self) -> float:
        if self.total == 0:
            return 100.0
        # Rounded down, so 100 shows exactly when the last domain is terminal.
        return math.floor(self.done * 10_000 / self.total) / 100

    @property
    def elapsed(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else self.now
        return max(end - self.started_at - self.idle_seconds, 0.0)

    @property
    def processed(self) -> int:
        """Domains that went through a worker (invalid ones never do)."""
        return self.done - self.counts.get(DomainStatus.INVALID, 0)

    @property
    def rate(self) -> float | None:
        """Domains per second of the time the batch was worked on (``idle_seconds`` left out)."""
        elapsed = self.elapsed
        if not elapsed:
            return None
        return round(self.processed / elapsed, 2)

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far. None for an ended batch, and while no domain is
        in flight: the remaining ones wait on a retry's backoff (or for a worker), and no rate
        tells when that ends."""
        if self.finished_at is not None:
            return None
        remaining = self.total - self.done
        if remaining == 0:
            return 0.0
        if not self.counts.get(DomainStatus.PROCESSING, 0):
            return None
        rate = self.rate
        if not rate:
            return None
        return round(remaining / rate, 1)

    @property
    def by_status(self) -> dict[str, int]:
        """Domains by status: every status, in ``DomainStatus`` order, zeros included."""
        return {s.value: self.counts.get(s, 0) for s in DomainStatus}

    @property
    def by_code(self) -> dict[str, int]:
        """Failed domains by error code, codes sorted."""
        return dict(sorted(self.errors.items()))

    @property
    def duration(self) -> float | None:
        """Seconds since the batch started (until it finished), to the millisecond."""
        return None if self.elapsed is None else round(self.elapsed, 3)
