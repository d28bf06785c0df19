"""What a worker did: its totals (``WorkerStats``, logged when it stops) and the periodic
throughput line (``Throughput``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from domainbatch.core.queue import Outcome
from domainbatch.engine.metrics import Histogram


@dataclass
class WorkerStats:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    started_at: float = field(default_factory=time.monotonic)
    latency: Histogram = field(default_factory=Histogram)  # seconds per processing attempt

    def record(self, outcome: Outcome, seconds: float) -> None:
        self.latency.observe(seconds)
        if outcome.retry_in is not None:
            self.retried += 1
        elif outcome.error_code is not None:
            self.failed += 1

    def __str__(self) -> str:
        seconds = time.monotonic() - self.started_at
        return (
            f"{self.claimed:,} claimed, {self.succeeded:,} succeeded, {self.failed:,} failed, "
            f"{self.retried:,} retried, {self.released:,} released in {seconds:.1f}s; "
            f"latency {self.latency}"
        )


@dataclass
class Throughput:
    """What a worker did since its last throughput line."""

    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    at: float = field(default_factory=time.monotonic)

    def since(self, stats: WorkerStats, inflight: int, level: int) -> tuple[str, dict[str, float]]:
        """The line (and its figures, for JSON logs) from ``self`` to ``stats`` now."""
        now = time.monotonic()
        seconds = max(now - self.at, 1e-9)
        figures: dict[str, float] = {
            "claimed": stats.claimed - self.claimed,
            "succeeded": stats.succeeded - self.succeeded,
            "failed": stats.failed - self.failed,
            "interval_seconds": round(seconds, 1),
            "inflight": inflight,
            "concurrency": level,
        }
        figures["per_second"] = round((figures["succeeded"] + figures["failed"]) / seconds, 2)
        self.claimed, self.succeeded, self.failed, self.at = (
            stats.claimed,
            stats.succeeded,
            stats.failed,
            now,
        )
        line = (
            "throughput: {claimed:,} claimed, {succeeded:,} succeeded, {failed:,} failed "
            "in {interval_seconds:g}s ({per_second:,.1f} domains/s), {inflight:,} in flight, "
            "concurrency {concurrency:,}"
        ).format(**figures)
        return line, figures
