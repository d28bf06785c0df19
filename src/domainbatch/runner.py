"""The runner: one claimed domain through its batch's processor, under the task timeout, and
every way that can end turned into an ``Outcome`` (a result, a retry after a backoff, or a
failure). Each processor is opened once per worker and closed when the runner closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

import orjson

from domainbatch.core.status import backoff_seconds
from domainbatch.errors import DomainbatchError, DomainProcessingError
from domainbatch.processors.registry import Processor, load_processor
from domainbatch.settings import Settings
from domainbatch.storage.acks import Outcome
from domainbatch.storage.claims import ActiveBatch, Claimed

# Part of a worker, so its lines belong in the worker's log.
log = logging.getLogger("domainbatch.worker")


class Runner:
    def __init__(self, settings: Settings, worker_id: str) -> None:
        self.settings = settings
        self.worker_id = worker_id
        self._processors: dict[str, Processor] = {}
        self._broken: set[str] = set()
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
        name = batch.processor
        if name in self._processors:
            return self._processors[name]
        if name in self._broken:
            return None
        try:
            factory = load_processor(name)
            processor = await self._stack.enter_async_context(factory(self.settings))
        except DomainbatchError as exc:
            # Another worker may have the plugin: leave the batch to it instead of failing it.
            log.error("worker %s cannot run processor %r: %s", self.worker_id, name, exc)
            self._broken.add(name)
            return None
        self._processors[name] = processor
        return processor

    async def run(self, processor: Processor, batch: ActiveBatch, claim: Claimed) -> Outcome:
        try:
            async with asyncio.timeout(self.settings.task_timeout):
                result = await processor(claim.domain, batch.options)
            # A result that cannot be stored fails here, not in the ack; the text is reused.
            encoded = orjson.dumps(result)
            return Outcome(claim, result=result, encoded=encoded)
        except DomainProcessingError as exc:
            return self._failure(batch, claim, exc.code, exc.message, exc.transient)
        except TimeoutError:
            message = f"processing took longer than {self.settings.task_timeout:g}s"
            return self._failure(batch, claim, "timeout", message, True)
        except Exception as exc:  # one bad domain never aborts its batch
            log.exception("processor %r failed on %s", batch.processor, claim.domain)
            return self._failure(batch, claim, "internal", f"{type(exc).__name__}: {exc}", False)

    def _failure(
        self, batch: ActiveBatch, claim: Claimed, code: str, message: str, transient: bool
    ) -> Outcome:
        retry_in = None
        if transient and claim.attempt < batch.max_attempts:
            retry_in = backoff_seconds(
                claim.attempt, self.settings.retry_base_seconds, self.settings.retry_max_seconds
            )
        return Outcome(claim, error_code=code, error_message=message, retry_in=retry_in)
