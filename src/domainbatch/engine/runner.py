"""The runner: one claimed domain through its batch's processor, under the task timeout, and
every way that can end turned into an ``Outcome`` (a result, a retry after a backoff, or a
failure). Each processor is opened once per worker and closed when the runner closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson

from domainbatch.core.completion import DEADLINE_CODE, deadline_message
from domainbatch.core.queue import ActiveBatch, Claimed, Outcome
from domainbatch.core.retry import RetryPolicy
from domainbatch.errors import (
    DomainProcessingError,
    InvalidOptionsError,
    ProcessorNotFoundError,
)
from domainbatch.processors.registry import (
    Processor,
    ProcessorFactory,
    check_options,
    load_processor,
)
from domainbatch.settings import Settings

# Part of a worker, so its lines belong in the worker's log.
log = logging.getLogger("domainbatch.worker")


class Runner:
    def __init__(self, settings: Settings, worker_id: str) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self._processors: dict[str, Processor] = {}
        self._factories: dict[str, ProcessorFactory] = {}
        self._missing: set[str] = set()
        # Per batch: the reason its stored options are refused, or None when they are fine.
        self._refused: dict[str, str | None] = {}
        self._logged: set[tuple[str, str]] = set()
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Runner:
        await self._stack.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._stack.__aexit__(exc_type, exc, tb)

    async def processor(self, batch: ActiveBatch) -> Processor | None:
        """The batch's processor, built on first use; None when this worker does not have it
        (another worker may: the batch is left to it)."""
        name = batch.processor
        if name in self._processors:
            return self._processors[name]
        if name in self._missing:
            return None
        try:
            factory = load_processor(name)
        except ProcessorNotFoundError as exc:
            log.error("worker %s cannot run processor %r: %s", self.worker_id, name, exc.message)
            self._missing.add(name)
            return None
        self._factories[name] = factory
        try:
            processor = await self._stack.enter_async_context(factory(self.settings))
        except PROCESSOR_FAULTS as exc:
            # A factory that raises (or exits) is the processor's fault, never the worker's:
            # its domains fail with a stable code and the worker goes on.
            reason = f"processor {name!r} cannot start: {_describe(exc)}"
            log.error("worker %s: %s", self.worker_id, reason)
            processor = _unavailable(reason)
        self._processors[name] = processor
        return processor

    async def run(self, processor: Processor, batch: ActiveBatch, claim: Claimed) -> Outcome:
        refused = self._options_refused(batch)
        if refused is not None:
            return self._failure(batch, claim, "invalid_options", refused, False)
        budget, left = self.settings.task_timeout, batch.time_left()
        if left is not None and batch.deadline_seconds is not None:
            # Never past the batch's deadline: its domain would end deadline_exceeded anyway,
            # and the slot is better given back then.
            if left <= 0:
                return self._past_deadline(claim, batch.deadline_seconds)
            budget = min(budget, left)
        try:
            async with asyncio.timeout(budget):
                result = await processor(claim.domain, batch.options)
            # A result that cannot be stored fails here, not in the ack; the text is reused.
            encoded = orjson.dumps(result)
            return Outcome(claim, result=result, encoded=encoded)
        except DomainProcessingError as exc:
            return self._failure(batch, claim, exc.code, exc.message, exc.transient)
        except TimeoutError:
            if budget < self.settings.task_timeout and batch.deadline_seconds is not None:
                return self._past_deadline(claim, batch.deadline_seconds)
            message = f"processing took longer than {self.settings.task_timeout:g}s"
            return self._failure(batch, claim, "timeout", message, True)
        except PROCESSOR_FAULTS as exc:  # one bad domain never aborts its batch, or the worker
            self._log_fault(batch.processor, claim.domain, exc)
            return self._failure(batch, claim, "internal", _describe(exc), False)

    def _options_refused(self, batch: ActiveBatch) -> str | None:
        """Options are checked at submission; a batch stored otherwise (an older version, a
        direct insert) is checked once here so its domains fail cleanly, not one by one."""
        if batch.id not in self._refused:
            if len(self._refused) >= 4096:  # bounded over a long run; a re-check is cheap
                self._refused.clear()
            reason = None
            factory = self._factories.get(batch.processor)  # loaded by ``processor()``
            if factory is not None:
                try:
                    check_options(batch.processor, factory, batch.options, self.settings)
                except InvalidOptionsError as exc:
                    reason = exc.message
            self._refused[batch.id] = reason
        return self._refused[batch.id]

    def _log_fault(self, name: str, domain: str, exc: BaseException) -> None:
        # The first fault of a kind gets its traceback; repeats get one line each, so a
        # processor failing every domain cannot flood the log.
        kind = (name, type(exc).__name__)
        if kind in self._logged:
            log.error("processor %r failed on %s: %s", name, domain, _describe(exc))
            return
        self._logged.add(kind)
        log.error("processor %r failed on %s", name, domain, exc_info=exc)

    def _failure(
        self, batch: ActiveBatch, claim: Claimed, code: str, message: str, transient: bool
    ) -> Outcome:
        retry_in = None
        policy = RetryPolicy.for_domains(self.settings, batch.max_attempts)
        if transient and policy.retries(claim.attempt, code):
            retry_in = policy.delay(claim.attempt)
        return Outcome(claim, error_code=code, error_message=message, retry_in=retry_in)

    @staticmethod
    def _past_deadline(claim: Claimed, deadline_seconds: float) -> Outcome:
        message = deadline_message(deadline_seconds)
        return Outcome(claim, error_code=DEADLINE_CODE, error_message=message)


# What a processor's own code may raise and the worker survives. SystemExit and
# KeyboardInterrupt from a processor are its bugs (the worker's own signals arrive through the
# event loop's handlers, never as exceptions inside a task); CancelledError is never caught.
PROCESSOR_FAULTS = (Exception, SystemExit, KeyboardInterrupt)
MAX_MESSAGE = 500


def _describe(exc: BaseException) -> str:
    """One line naming the exception; an exit's argument is not shown (``sys.exit(obj)`` would
    print any object, settings included)."""
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        return f"{type(exc).__name__} raised by the processor"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:MAX_MESSAGE]


def _unavailable(reason: str) -> Processor:
    async def fail(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
        raise DomainProcessingError("processor_unavailable", reason, transient=False)

    return fail
