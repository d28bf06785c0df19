"""One extraction process and the thread that feeds it.

The worker's event loop never talks to an extraction process itself: each process has a feeder
thread that takes the next page from a shared queue, writes it to the process, blocks on its
answer and hands the result to the loop. A process therefore starts its next page the moment it
is done, whatever the loop is busy with. When the loop did the pipe I/O itself (asyncio
subprocess streams), a process sat idle for the loop iterations between reading one answer and
writing the next page: with 500 domains in flight on a simulated internet those iterations took
tens of milliseconds, two processes did about 28 pages a second while each needed 4-7 ms of CPU
per page, and a domain's median time went to 4.7 s against 0.8 s of DNS, fetching and
extraction (bench/README.md, "internet").
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from domainbatch.processors.extraction_child import READY, Page, frame

START_TIMEOUT = 60.0
STOP_TIMEOUT = 2.0
# The module is ``python -m domainbatch...``: children find the package where we did.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class ChildDied(Exception):
    """The child process ended (or could not start) while it held a page."""


class CannotStart(ChildDied):
    """No extraction process could be started (or they are off): extract in the thread."""


class Child:
    """One extraction process, one page at a time, driven by blocking calls (a feeder thread's)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @classmethod
    def start(cls, function: str | None, options: list[str]) -> Child:
        paths = [_PACKAGE_ROOT, *(path for path in sys.path if path)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
        args = [sys.executable, "-m", "domainbatch.processors.extraction_child", *options]
        try:
            process = subprocess.Popen(
                [*args, *([function] if function else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            raise CannotStart(f"the extraction process could not start: {exc}") from exc
        child = cls(process)
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
            if not ready:
                raise ChildDied(f"no answer within {START_TIMEOUT:g}s")
            said = child._read()
        except ChildDied as exc:
            child.kill()
            raise CannotStart(f"the extraction process did not start: {exc}") from exc
        if said != READY:
            child.kill()
            raise CannotStart(f"the extraction process said {said[:40]!r}, not ready")
        return child

    def _read(self) -> bytes:
        stdout = self.process.stdout
        assert stdout is not None
        header = stdout.read(4)
        size = int.from_bytes(header, "big") if len(header) == 4 else -1
        payload = stdout.read(size) if size >= 0 else b""
        if len(payload) != size:
            raise ChildDied(f"the extraction process died (exit code {self.process.wait()})")
        return payload

    def extract(self, page: Page) -> Any:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(frame(pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL)))
            stdin.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError) as exc:
            raise ChildDied(
                f"the extraction process died (exit code {self.process.wait()})"
            ) from exc
        return orjson.loads(self._read())

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def stop(self) -> None:
        # End of stdin ends the child's loop; a child that does not leave is killed.
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


Settle = Callable[["Job", Any, BaseException | None], None]


@dataclass(eq=False)
class Job:
    """A page on its way through a feeder: ``queued``, ``running`` (in ``child``'s hands),
    ``done``, or ``cancelled`` before any process took it."""

    page: Page
    settle: Settle  # called from the feeder thread with (job, result, error)
    state: str = "queued"
    child: Child | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, child: Child) -> bool:
        """The feeder's claim on the page; False when it was cancelled meanwhile."""
        with self.lock:
            if self.state != "queued":
                return False
            self.state, self.child = "running", child
            return True

    def cancel(self) -> None:
        """The page's task was cancelled: never run it, or end the process running it (a page
        that hangs the parser must not hold a process, and its late answer would reach the next
        page)."""
        with self.lock:
            if self.state == "queued":
                self.state = "cancelled"
            elif self.state == "running" and self.child is not None:
                self.child.kill()

    def finish(self, result: Any, error: BaseException | None) -> None:
        with self.lock:
            self.state, self.child = "done", None
        self.settle(self, result, error)
