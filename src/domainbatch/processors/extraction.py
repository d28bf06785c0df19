"""Where the ``homepage`` processor runs extraction: beside the event loop, never on it.

Extraction is CPU-bound (milliseconds on a typical page, tens on a large one) and holds the
GIL. In a thread it shares one core with the fetching loop, and the two contend for the GIL;
in processes it uses the machine's other cores while the loop keeps fetching. So by default
pages go to up to ``extract_processes`` child processes (one per core, at most four), started
as the load needs them; ``0`` keeps extraction in one thread of the worker process (less
memory, one core).

Each child (``extraction_child``) is a plain ``python -m`` process fed one page at a time
over its stdin and stdout by the event loop itself. ``multiprocessing`` was measured first:
its children import the worker's main module again (the whole CLI: +0.46 s CPU and +50 MB
per child), a crash breaks the whole pool and fails every page in flight, and results come
back as pickles. Here a child that dies (a parser crash on a hostile page, the OOM killer)
costs exactly the page it held: that page is tried once more in a fresh child, and if it
kills that one too it is recorded as extracted with nothing but the error. A page whose
task is cancelled (the task timeout, shutdown) ends its child, so a page that hangs the
parser cannot hold a process either. Where children cannot start, the worker logs one
warning and extracts in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from domainbatch.extract.extractor import MAX_ERROR_CHARS, empty_result
from domainbatch.extract.wappalyzer import FingerprintsMode
from domainbatch.processors.extraction_child import (
    READY,
    Page,
    child_arguments,
    extractor,
    frame,
    load_function,
)

log = logging.getLogger("domainbatch.worker")

# One fetching event loop spends 0.5-1 ms of CPU per domain and extraction about 2 ms per
# page (bench/README.md): four processes keep up with everything one worker can fetch.
MAX_DEFAULT_PROCESSES = 4
START_TIMEOUT = 60.0
STOP_TIMEOUT = 2.0
# The module is ``python -m domainbatch...``: children find the package where we did.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def default_processes() -> int:
    """One extraction process per core this worker may use, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_PROCESSES, cores))


class ChildDied(Exception):
    """The child process ended (or could not start) while it held a page."""


class Child:
    """One extraction process, one page at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, function: str | None, options: list[str]) -> Child:
        paths = [_PACKAGE_ROOT, *(path for path in sys.path if path)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
        args = [sys.executable, "-m", "domainbatch.processors.extraction_child"]
        try:
            process = await asyncio.create_subprocess_exec(
                *args,
                *options,
                *([function] if function else []),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise ChildDied(f"the extraction process could not start: {exc}") from exc
        child = cls(process)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                ready = await child._read()
        except (ChildDied, TimeoutError) as exc:
            child.kill()
            raise ChildDied(f"the extraction process did not start: {exc}") from exc
        except BaseException:
            child.kill()
            raise
        if ready != READY:
            child.kill()
            raise ChildDied(f"the extraction process said {ready[:40]!r}, not ready")
        return child

    async def _read(self) -> bytes:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            header = await stdout.readexactly(4)
            return await stdout.readexactly(int.from_bytes(header, "big"))
        except asyncio.IncompleteReadError as exc:
            code = await self.process.wait()
            raise ChildDied(f"the extraction process died (exit code {code})") from exc

    async def extract(self, page: Page) -> Any:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(frame(pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)))
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            code = await self.process.wait()
            raise ChildDied(f"the extraction process died (exit code {code})") from exc
        return orjson.loads(await self._read())

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def stop(self) -> None:
        # End of stdin ends the child's loop; a child that does not leave is killed.
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await self.process.wait()
        except TimeoutError:
            self.kill()
            await self.process.wait()


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
        self._idle: list[Child] = []
        self._children: set[Child] = set()
        self._started = 0
        self._free = asyncio.Condition()
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
                child = await self._acquire()
            except ChildDied as exc:
                await self._fall_back(exc)
                break
            try:
                result, seconds = await child.extract(page)
            except ChildDied as exc:
                await self._discard(child)
                crashed = exc
                continue
            except BaseException:
                # Cancelled mid-page: its answer would reach the next page; end the child.
                child.kill()
                await self._discard(child)
                raise
            await self._release(child)
            return result, float(seconds)
        if crashed is not None:
            # Never in the thread: a page that killed a process would take the worker down.
            failed = empty_result()
            failed["errors"].append(f"parse: {crashed}"[:MAX_ERROR_CHARS])
            return failed, 0.0
        return await self._in_thread(page)

    async def _acquire(self) -> Child:
        async with self._free:
            while not self._idle and self._started >= self.processes:
                if self.processes <= 0:
                    raise ChildDied("extraction processes are off")
                await self._free.wait()
            if self._idle:
                return self._idle.pop()
            self._started += 1
        try:
            options = child_arguments(self.fingerprints, self.fingerprints_mode)
            child = await Child.start(self.function, options)
        except BaseException:
            await self._discard(None)
            raise
        self._children.add(child)
        return child

    async def _release(self, child: Child) -> None:
        async with self._free:
            self._idle.append(child)
            self._free.notify()

    async def _discard(self, child: Child | None) -> None:
        self._children.discard(child)
        async with self._free:
            self._started -= 1
            self._free.notify()

    async def _fall_back(self, exc: BaseException) -> None:
        if self.processes > 0:
            log.warning(
                "extraction processes cannot start (%s); extracting in a thread instead "
                "(EXTRACT_PROCESSES=0 chooses this)",
                exc,
            )
            self.processes = 0
        async with self._free:
            self._free.notify_all()  # pages waiting for a process go to the thread

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
        children, self._children, self._idle = self._children, set(), []
        await asyncio.gather(*(child.stop() for child in children))
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None
