"""``domainbatch`` subprocesses of the validation scripts (a server, workers): their output in a
log file of their own, their peak RSS sampled, stopped without blocking the event loop."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from common import log, peak_rss_mb
from tests.support.processes import Process, domainbatch_argv, kill


class Child(Process):
    """A ``domainbatch`` subprocess with its output in a log file and its peak RSS sampled."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path) -> None:
        super().__init__(domainbatch_argv(*args), env=env, log=logdir / f"{name}.log")
        self.name = name
        self.args = args
        self.peak_rss_mb: float | None = None

    def start(self) -> Child:
        super().start()
        log.info("started %s (pid %d): domainbatch %s", self.name, self.pid, " ".join(self.args))
        return self

    def sample_rss(self) -> None:
        # VmHWM is the peak so far: the last sample before exit is the process's peak.
        if self.running():
            self.peak_rss_mb = peak_rss_mb(self.pid) or self.peak_rss_mb

    async def wait(self, seconds: float) -> int | None:
        deadline = time.monotonic() + seconds
        while self.running():
            if time.monotonic() > deadline:
                return None
            self.sample_rss()
            await asyncio.sleep(0.1)
        return self.returncode

    async def shut_down(self) -> int | None:
        """``stop`` without blocking the event loop, sampling the RSS meanwhile."""
        if self.proc is None:
            return None
        if self.running():
            self.sample_rss()
            self.proc.send_signal(signal.SIGTERM)
            if await self.wait(30) is None:
                log.warning("%s did not stop on SIGTERM: killing it", self.name)
                kill(self.proc)
        return self.proc.returncode
