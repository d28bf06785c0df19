"""Where the ``homepage`` processor runs extraction: beside the event loop, never on it.

Extraction is CPU-bound (milliseconds on a typical page, tens on a large one) and holds the
GIL. In a thread it shares one core with the fetching loop, and the two contend for the GIL;
in processes it uses the machine's other cores while the loop keeps fetching. So by default
pages go to up to ``extract_processes`` child processes (one per core, at most four), started
as the load needs them; ``0`` keeps extraction in one thread of the worker process (less
memory, one core).

Processes are started with ``spawn`` (a fork would copy the locks the worker's threads hold),
which imports the main module again in each child: a script that embeds domainbatch needs
the usual ``if __name__ == "__main__":`` guard. Where processes cannot start at all (no
guard, no ``/dev/shm``), extraction falls back to the thread, with one warning.

A child process that dies (a crash in the HTML parser on a hostile page, the OOM killer)
breaks its pool and fails every page it held. The pool is then rebuilt, and each of those
pages is tried once more, one at a time, in a process of its own: the page that kills that
one too is recorded as extracted with nothing but the error, and the others get their
results. One page never costs its neighbours or its batch. (In a thread, nothing can
contain a crash: it ends the worker, and the lease hands its domains to another.)
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from domainbatch.extract import extract
from domainbatch.extract.extractor import MAX_ERROR_CHARS, empty_result

log = logging.getLogger("domainbatch.worker")

Extract = Callable[[str, list[tuple[str, str]], bytes, str], tuple[dict[str, Any], float]]


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


def timed_extract(
    url: str, headers: list[tuple[str, str]], body: bytes, region: str
) -> tuple[dict[str, Any], float]:
    # Timed where it runs, so the figure excludes the wait for a free thread or process.
    started = time.perf_counter()
    result = extract(url, headers, body, default_region=region)
    return result, time.perf_counter() - started


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(0)


def _start_process() -> None:
    # The worker decides when to stop: Ctrl-C or a service manager's SIGTERM reaches the whole
    # process group, and a child dying of it would fail the pages it holds. The worker drains
    # its tasks, then closes the pool; a child whose worker died sees its queue close and exits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        # A worker killed outright (SIGKILL, OOM) never closes the pool: leave with it.
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    # Compiles the extractors' patterns and loads phone metadata before the first page.
    extract("https://warm.up/", [("content-type", "text/html")], b"<p>+1 202 555 0100</p>")


class Extraction:
    """``run(url, headers, body, region)`` off the event loop; ``close()`` when done.

    ``function`` is what runs (a module-level callable: processes import it by name).
    """

    def __init__(self, processes: int, function: Extract = timed_extract) -> None:
        self.processes = processes
        self.function = function
        self._executor: Executor | None = None
        self._generation = 0
        self._starting = asyncio.Lock()
        self._quarantine: ProcessPoolExecutor | None = None
        self._alone = asyncio.Lock()
        self._suspects = 0

    async def _pool(self) -> tuple[Executor, int]:
        # Started on first use: a worker running the noop or dns processor never pays for it.
        async with self._starting:
            if self._executor is None:
                self._executor = await self._start()
            return self._executor, self._generation

    async def _start(self) -> Executor:
        if self.processes > 0:
            pool: ProcessPoolExecutor | None = None
            try:
                pool = self._process_pool(self.processes)
                # A first call proves processes can start here, so that a pool breaking
                # later means a page crashed one, never that none can run.
                await asyncio.get_running_loop().run_in_executor(pool, os.getpid)
                return pool
            except (OSError, ImportError, NotImplementedError, BrokenProcessPool) as exc:
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                log.warning(
                    "extraction processes cannot start (%s: %s); extracting in a thread "
                    "instead (extract_processes=0 chooses this; a script that embeds "
                    'domainbatch needs an `if __name__ == "__main__":` guard for processes)',
                    type(exc).__name__,
                    exc,
                )
                self.processes = 0
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")

    @staticmethod
    def _process_pool(processes: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_process,
        )

    def _replace(self, generation: int) -> None:
        # Only the first task to see a broken pool replaces it; the others retry in the new one.
        if generation == self._generation and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._generation += 1

    async def run(
        self, url: str, headers: list[tuple[str, str]], body: bytes, region: str
    ) -> tuple[dict[str, Any], float]:
        call = partial(self.function, url, headers, body, region)
        executor, generation = await self._pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, call)
        except BrokenProcessPool:
            self._replace(generation)
        return await self._run_alone(call)

    async def _run_alone(
        self, call: Callable[[], tuple[dict[str, Any], float]]
    ) -> tuple[dict[str, Any], float]:
        # Every page the broken pool held is a suspect: each runs again alone in a process of
        # its own, so the one that kills it is known and cannot take the others down again.
        self._suspects += 1
        try:
            async with self._alone:
                if self._quarantine is None:
                    self._quarantine = self._process_pool(1)
                try:
                    loop = asyncio.get_running_loop()
                    return await loop.run_in_executor(self._quarantine, call)
                except BrokenProcessPool as exc:
                    self._quarantine.shutdown(wait=False, cancel_futures=True)
                    self._quarantine = None
                    failed = empty_result()
                    message = f"parse: the extraction process died: {exc}"
                    failed["errors"].append(message[:MAX_ERROR_CHARS])
                    return failed, 0.0
        finally:
            self._suspects -= 1
            if not self._suspects and self._quarantine is not None:
                self._quarantine.shutdown(wait=False)
                self._quarantine = None

    def close(self) -> None:
        for executor in (self._executor, self._quarantine):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._quarantine = None
