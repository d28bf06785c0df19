"""The worker: claims domains in chunks, runs their processor with bounded concurrency, acks in
batches, keeps its leases alive, reclaims expired ones, and ends batches. Many workers (threads
of one process or processes on many machines) share one database and nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence

from domainbatch.core.completion import DEADLINE_CODE
from domainbatch.core.queue import ActiveBatch, Claimed, Heartbeat, Outcome, QueueStore
from domainbatch.core.retry import RetryPolicy
from domainbatch.core.status import BatchEvent, BatchStatus
from domainbatch.engine import shutdown
from domainbatch.engine.concurrency import Concurrency
from domainbatch.engine.delivery import WebhookSender
from domainbatch.engine.headroom import Headroom, raise_fd_limit
from domainbatch.engine.outage import Outage, QuietPoolResets
from domainbatch.engine.runner import Runner
from domainbatch.engine.stats import Throughput, WorkerStats
from domainbatch.processors.registry import Processor
from domainbatch.settings import Settings

log = logging.getLogger("domainbatch.worker")

ACTIVE_TTL = 1.0  # seconds a productive worker may reuse its list of active batches
ADAPT_INTERVAL = 1.0  # seconds between moves of an adaptive concurrency level

EventHook = Callable[[BatchEvent, str], None]  # (event, batch_id)
SenderFactory = Callable[[str, Outage], WebhookSender]  # (worker id, its outage account)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        store: QueueStore,
        settings: Settings,
        *,
        webhooks: SenderFactory | None = None,
        only_batches: Sequence[str] | None = None,
        burst: bool = False,
        on_event: EventHook | None = None,
        fleet_root: int | None = None,
    ) -> None:
        """``store``: this worker's own (one writer, one counter shard; ``Runtime.worker``
        builds both). ``webhooks`` builds the sender of batch events for this worker (its id,
        its outage account); None where no events are sent (the in-memory store's tests).
        ``fleet_root``: the pid of the command's first worker process when this one is one of
        its ``-P N`` children (the CPU its whole process tree uses is this worker's own)."""
        self.store = store
        self.settings = settings
        self.id = new_worker_id()
        self.concurrency = Concurrency(
            settings.min_concurrency, settings.max_concurrency, pinned=settings.concurrency
        )
        self.runner = Runner(settings, self.id)
        self.only_batches = list(only_batches) if only_batches is not None else None
        self.burst = burst
        self.stats = WorkerStats()
        self._on_event = on_event
        self._cpu_root = "self" if fleet_root is None else str(fleet_root)
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._inflight: dict[asyncio.Task[None], Claimed] = {}
        self._unacked: list[Outcome] = []
        self._rotation = 0
        # Demand, for an adaptive level: since the last move, every slot was taken while the
        # last claim round got all it asked for (the queue had more than the level).
        self._demand = False
        self._queue_had_more = False
        self._rng = random.Random()
        self.polling = RetryPolicy.for_polling(settings)
        # Batches a claim of this worker found exhausted: only their acks may end them, so
        # only those try to finalize after an ack (the others cannot end yet).
        self._drained: set[str] = set()
        # The active batches, re-read at most every ACTIVE_TTL while claims keep succeeding.
        self._active_cache: tuple[float, list[ActiveBatch]] | None = None
        # One account of database outages for every loop below, the webhook sender's included.
        self.outage = Outage(f"worker {self.id}", log)
        self.webhooks = webhooks(self.id, self.outage) if webhooks is not None else None

    # Control -------------------------------------------------------------------------------
    def stop(self, *, now: bool = False) -> None:
        """Stop claiming; what is in hand finishes (within the grace period) or is released;
        ``now``: released without waiting (a second Ctrl-C)."""
        if self._inflight and (now or not self._stopping.is_set()):
            # At once: a stop that waits says what for, and how to cut it short.
            grace = self.settings.shutdown_grace_seconds
            wait = "are released now"
            if not now:
                wait = (
                    f"may finish within the {grace:g} s grace period "
                    "(a second signal releases them now)"
                )
            log.info(
                "worker %s stopping: %d domains in flight %s", self.id, len(self._inflight), wait
            )
        if now:
            self._hurry.set()
        self._stopping.set()
        self._wake.set()
        self._slot_free.set()

    def wake(self) -> None:
        """New work was just stored by this process: skip the rest of the poll backoff."""
        self._active_cache = None
        self._wake.set()

    # Main loop ------------------------------------------------------------------------------
    async def run(self) -> WorkerStats:
        log.info("worker %s starting: concurrency %s", self.id, self.concurrency)
        raise_fd_limit()
        with QuietPoolResets():
            await self._run()
        log.info("worker %s stopped: %s", self.id, self.stats)
        return self.stats

    async def _run(self) -> None:
        background = [
            asyncio.create_task(self._every(self._flush, self.settings.ack_interval_seconds)),
            asyncio.create_task(self._every(self._extend, self.settings.lease_seconds / 3)),
            # The heartbeat on the same period, in its own task: a slow one (a pooler with two
            # server connections under load) never delays the leases' extension.
            asyncio.create_task(self._every(self._beat, self.settings.lease_seconds / 3)),
            asyncio.create_task(self._every(self._sweep, self.settings.lease_seconds / 2)),
        ]
        posting = asyncio.create_task(self.webhooks.run()) if self.webhooks is not None else None
        if self.settings.log_interval_seconds > 0:
            background.append(asyncio.create_task(self._report_throughput()))
        if not self.concurrency.pinned:
            background.append(asyncio.create_task(self._adapt()))
        try:
            await self._beat()
        except Exception as exc:
            self.outage.failed("beat", exc)
        try:
            async with self.runner:
                try:
                    await self._claim_loop()
                finally:
                    await self._drain()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._flush()
            if self.webhooks is not None and posting is not None:
                await self.webhooks.finish(posting)
            try:
                await self.store.leave(self.id)
            except Exception as exc:  # listed until its heartbeat is three leases old
                self.outage.failed("leave", exc)

    async def _claim_loop(self) -> None:
        idle_rounds = 0
        while not self._stopping.is_set():
            level = self.concurrency.level
            free = level - len(self._inflight)
            # Claim in chunks: wait until a useful number of slots is free.
            if free < max(1, min(self.settings.claim_size, level) // 2):
                self._demand = self._demand or self._queue_had_more
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            try:
                active = await self._active(cached=idle_rounds == 0)
                if not active and self.burst and not self._inflight:
                    await self._flush()
                    if not await self._active():
                        return
                if active and await self._claim_round(active, free):
                    idle_rounds = 0
                    continue
                if active:
                    await self._sweep()
            except Exception as exc:
                # The database may be restarting or unreachable: back off and keep going.
                self.outage.failed("claim round", exc)
            idle_rounds += 1
            await self._idle(idle_rounds)

    async def _claim_round(self, active: list[ActiveBatch], free: int) -> int:
        """One fair round: every active batch is offered an equal share of the free slots."""
        self._rotation = (self._rotation + 1) % len(active)
        ordered = active[self._rotation :] + active[: self._rotation]
        share = max(1, math.ceil(free / len(ordered)))
        total = asked = 0
        for batch in ordered:
            room = self.concurrency.level - len(self._inflight)
            if room <= 0 or self._stopping.is_set():
                break
            processor = await self.runner.processor(batch)
            if processor is None:
                continue
            limit = min(share, room, self.settings.claim_size)
            asked += limit
            claims, started = await self.store.claim(
                batch.id, self.id, limit, maybe_pending=batch.status == BatchStatus.PENDING
            )
            self.outage.recovered()
            if len(claims) < limit:
                self._drained.add(batch.id)
            if started:
                self._emit(BatchEvent.STARTED, batch.id)
            for claim in claims:
                task = asyncio.create_task(self._execute(processor, batch, claim))
                self._inflight[task] = claim
                task.add_done_callback(self._done)
            self.stats.claimed += len(claims)
            total += len(claims)
        self._queue_had_more = asked > 0 and total == asked
        return total

    async def _idle(self, rounds: int) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.polling.delay(rounds, self._rng))

    async def _active(self, *, cached: bool = False) -> list[ActiveBatch]:
        """The active batches; ``cached``: a list read less than ``ACTIVE_TTL`` ago will do
        (claim rounds that keep finding work need not re-read it every time)."""
        now = time.monotonic()
        if cached and self._active_cache is not None and now - self._active_cache[0] < ACTIVE_TTL:
            return self._active_cache[1]
        active = await self.store.active_batches(self.only_batches)
        self.outage.recovered()
        self._active_cache = (now, active)
        self._drained &= {batch.id for batch in active}  # ended elsewhere: forget them
        return active

    # Processing -----------------------------------------------------------------------------
    async def _execute(self, processor: Processor, batch: ActiveBatch, claim: Claimed) -> None:
        began = time.monotonic()
        outcome = await self.runner.run(processor, batch, claim)
        self.stats.record(outcome, time.monotonic() - began)
        self._unacked.append(outcome)
        if len(self._unacked) >= self.settings.ack_batch_size:
            try:
                await self._flush()
            except Exception as exc:
                self.outage.failed("ack", exc)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._slot_free.set()

    # Acks, leases, reclaim, shutdown ------------------------------------------------------------
    async def _flush(self) -> None:
        if not self._unacked:
            return
        outcomes, self._unacked = self._unacked, []
        try:
            ended = await self.store.ack(outcomes, self.id)
        except Exception:
            # Keep them: leases are extended for unacked work, and the next flush retries.
            self._unacked[:0] = outcomes
            raise
        self.outage.recovered()
        self.stats.succeeded += sum(1 for o in outcomes if o.error_code is None)
        if any(o.error_code == DEADLINE_CODE for o in outcomes):
            await self._sweep()  # a deadline passed: its batch's other domains end now
        for batch_id in ended:
            if batch_id in self._drained:
                await self._finalize(batch_id)

    async def _finalize(self, batch_id: str) -> None:
        status = await self.store.finalize(batch_id)
        self.outage.recovered()
        if status is not None:
            self._drained.discard(batch_id)
            self._emit(BatchEvent.ending(status), batch_id)

    async def _extend(self) -> None:
        held = [c.id for c in self._inflight.values()] + [o.claimed.id for o in self._unacked]
        if held:  # nothing held: nothing is sent, so nothing to learn about the database
            await self.store.extend(held, self.id)
            self.outage.recovered()

    async def _beat(self) -> None:
        """Tell the fleet this worker is alive, at which level and how loaded."""
        await self.store.beat(
            Heartbeat(
                worker_id=self.id,
                host=socket.gethostname(),
                pid=os.getpid(),
                concurrency=self.concurrency.level,
                pinned=self.concurrency.pinned,
                inflight=len(self._inflight),
            )
        )
        self.outage.recovered()

    async def _adapt(self) -> None:
        """Every ``ADAPT_INTERVAL``, move the adaptive level by the headroom signals; a move of
        2x or more since the last one logged makes one INFO line with its reason."""
        headroom = Headroom(self._cpu_root)
        probe = asyncio.create_task(headroom.lag.run())
        try:
            while True:
                await asyncio.sleep(ADAPT_INTERVAL)
                signals = headroom.sample(demand=self._demand)
                step = self.concurrency.step(signals)
                self._demand = False
                log.debug("concurrency %d (%s): %s", step.level, step.reason, signals)
                before = self.concurrency.notable()
                if before is not None:
                    log.info("concurrency %d -> %d (%s)", before, step.level, step.reason)
                self._slot_free.set()  # a higher level frees slots for the claim loop
        finally:
            probe.cancel()

    async def _sweep(self) -> None:
        """Reclaim expired leases and end batches nobody else ended (e.g. after a crash)."""
        await self.store.reap()
        self.outage.recovered()
        for batch in await self._active():
            await self._finalize(batch.id)

    async def _every(self, action: Callable[[], Awaitable[None]], interval: float) -> None:
        while True:
            await asyncio.sleep(interval * self._rng.uniform(0.8, 1.2))
            try:
                await action()
            except Exception as exc:
                self.outage.failed(getattr(action, "__name__", "task").strip("_"), exc)

    async def _report_throughput(self) -> None:
        """Every ``log_interval_seconds``, one INFO line of what this worker did meanwhile."""
        last = Throughput()
        while True:
            await asyncio.sleep(self.settings.log_interval_seconds)
            line, figures = last.since(self.stats, len(self._inflight), self.concurrency.level)
            log.info(line, extra=figures)

    async def _drain(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        claims = await shutdown.settle(self._inflight, grace, self._hurry, self.id)
        if claims:
            await self.store.release(claims, self.id)
            self.stats.released += len(claims)

    def _emit(self, event: BatchEvent, batch_id: str) -> None:
        log.info("%s %s", event, batch_id)
        if self.webhooks is not None:
            self.webhooks.wake()
        if self._on_event is not None:
            self._on_event(event, batch_id)
