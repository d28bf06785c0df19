"""Where the ``homepage`` processor runs extraction: beside the event loop, never on it.

Extraction is CPU-bound (milliseconds on a typical page, tens on a large one) and holds the
GIL. In a thread it shares one core with the fetching loop, and the two contend for the GIL;
in processes it uses the machine's other cores while the loop keeps fetching. So by default
pages go to up to ``extract_processes`` child processes (one per core, at most four), started
as the load needs them; ``0`` keeps extraction in one thread of the worker process (less
memory, one core).

Each child (``extraction_child``) is a plain ``python -m`` process fed one page at a time
over its stdin and stdout by a thread of its own (``extraction_process``), never by the event
loop. ``multiprocessing`` was measured first: its children import the worker's main module
again (the whole CLI: +0.46 s CPU and +50 MB per child), a crash breaks the whole pool and fails
every page in flight, and results come back as pickles. Here a child that dies (a parser crash
on a hostile page, the OOM killer) costs exactly the page it held: that page is tried once more
in a fresh child, and if it kills that one too it is recorded as extracted with nothing but the
error. A page whose task is cancelled (the task timeout, shutdown) ends its child, so a page
that hangs the parser cannot hold a process either. Where children cannot start, the worker
logs one warning and extracts in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from domainbatch.extract.extractor import MAX_ERROR_CHARS, empty_result
from domainbatch.extract.wappalyzer import FingerprintsMode
from domainbatch.processors.extraction_child import (
    Page,
    child_arguments,
    extractor,
    load_function,
)
from domainbatch.processors.extraction_process import CannotStart, Child, ChildDied, Job

log = logging.getLogger("domainbatch.worker")

# One fetching event loop spends 0.5-1 ms of CPU per domain and extraction about 2 ms per
# page (bench/README.md): four processes keep up with everything one worker can fetch.
MAX_DEFAULT_PROCESSES = 4


def default_processes() -> int:
    """One extraction process per core this worker may use, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_PROCESSES, cores))


class Extraction:
    """``await run(url, headers, body, region, infer_region)`` off the event loop;
    ``await close()`` at the end. ``function`` (``"module:function"``, tests only) replaces
    the child's extractor; ``fingerprints`` is the user's database (each child loads it)."""

    def __init__(
        self,
        processes: int,
        function: str | None = None,
        *,
        fingerprints: str | None = None,
        fingerprints_mode: FingerprintsMode = "extend",
    ) -> None:
        self.processes = processes
        self.function = function
        self.fingerprints = fingerprints
        self.fingerprints_mode: FingerprintsMode = fingerprints_mode
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._feeders: list[threading.Thread] = []
        self._idle = 0  # feeders waiting for a page
        self._backlog = 0  # pages no feeder has taken yet
        self._thread: ThreadPoolExecutor | None = None

    async def run(
        self,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        region: str,
        infer_region: bool = False,
    ) -> tuple[dict[str, Any], float]:
        page: Page = (url, headers, body, region, infer_region)
        crashed: ChildDied | None = None
        for _attempt in (1, 2):
            if self.processes <= 0:
                break
            try:
                result, seconds = await self._in_process(page)
            except CannotStart as exc:
                self._fall_back(exc)
                break
            except ChildDied as exc:
                crashed = exc
                continue
            return result, float(seconds)
        if crashed is not None:
            # Never in the thread: a page that killed a process would take the worker down.
            failed = empty_result()
            failed["errors"].append(f"parse: {crashed}"[:MAX_ERROR_CHARS])
            return failed, 0.0
        return await self._in_thread(page)

    async def _in_process(self, page: Page) -> Any:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()

        def settle(job: Job, result: Any, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, answer, result, error)

        job = Job(page, settle)
        self._submit(job)
        try:
            return await answer
        except asyncio.CancelledError:
            job.cancel()
            raise

    def _submit(self, job: Job) -> None:
        """Queue the page; start another feeder (and so another process) only when every
        running one is busy: processes start as the load needs them."""
        with self._lock:
            self._backlog += 1
            if self._backlog > self._idle and len(self._feeders) < self.processes:
                feeder = threading.Thread(
                    target=self._feed, name=f"extract-feeder-{len(self._feeders)}", daemon=True
                )
                self._feeders.append(feeder)
                self._idle += 1  # waiting for a page from its start
                feeder.start()
            self._jobs.put(job)

    def _feed(self) -> None:
        """A feeder thread: its own process, started on its first page and again after one
        died, fed pages from the shared queue until ``close``."""
        child: Child | None = None
        try:
            while (job := self._next()) is not None:
                if child is None:
                    try:
                        child = self._start_child()
                    except CannotStart as exc:
                        self._finish(job, None, exc)
                        continue
                if not job.take(child):
                    self._finish(job, None, None)  # cancelled while queued
                    continue
                try:
                    result, error = child.extract(job.page), None
                except Exception as exc:
                    # Died, or answered what is not a result: the process goes, not the worker.
                    child.kill()
                    child.stop()
                    child = None
                    result, error = None, exc if isinstance(exc, ChildDied) else ChildDied(exc)
                self._finish(job, result, error)
        finally:
            if child is not None:
                child.stop()

    def _next(self) -> Job | None:
        job = self._jobs.get()
        with self._lock:
            self._idle -= 1
            if job is not None:
                self._backlog -= 1
        return job

    def _finish(self, job: Job, result: Any, error: BaseException | None) -> None:
        # Idle before the answer leaves: the next page its task sends must find this feeder
        # idle, not start another process.
        with self._lock:
            self._idle += 1
        job.finish(result, error)

    def _start_child(self) -> Child:
        if self.processes <= 0:
            raise CannotStart("extraction processes are off")
        options = child_arguments(self.fingerprints, self.fingerprints_mode)
        return Child.start(self.function, options)

    def _fall_back(self, exc: BaseException) -> None:
        if self.processes > 0:
            log.warning(
                "extraction processes cannot start (%s); extracting in a thread instead "
                "(EXTRACT_PROCESSES=0 chooses this)",
                exc,
            )
            self.processes = 0  # pages still queued are answered CannotStart: the thread

    async def _in_thread(self, page: Page) -> tuple[dict[str, Any], float]:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")
        if self.function:
            function = load_function(self.function)
        else:
            function = extractor(self.fingerprints, self.fingerprints_mode)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, partial(function, *page))

    async def close(self) -> None:
        # A child still busy finishes its page, then sees its stdin closed.
        with self._lock:
            feeders, self._feeders = self._feeders, []
        for _ in feeders:
            self._jobs.put(None)
        await asyncio.to_thread(_join, feeders)
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join()


def _settle(answer: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if answer.done():  # cancelled meanwhile
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)
