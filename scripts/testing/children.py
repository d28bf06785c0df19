"""``domainbatch`` subprocesses of the validation scripts (a server, workers): their output in a
log file of their own, their peak RSS sampled, stopped without blocking the event loop; a
server waited for until it is ready."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

from common import CheckFailed, check, log, peak_rss_mb
from tests.support.processes import Process, domainbatch_argv, kill
from tests.support.servers import wait_for_url

from domainbatch.cli.worker_processes import EXIT_MARGIN_SECONDS
from domainbatch.settings import Settings

# A WARNING/ERROR line of domainbatch's text log format ("2026-11-30 10:00:00,123 WARNING x: y").
PROBLEM = re.compile(r"^\S+ \S+ (?P<level>WARNING|ERROR|CRITICAL) (?P<rest>.*)$")


class Child(Process):
    """A ``domainbatch`` subprocess with its output in a log file and its peak RSS sampled."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path) -> None:
        # One process unless the script says otherwise: the scripts kill, count and sample
        # one worker process (its claims, its leases, its RSS, its log).
        env = {"DOMAINBATCH_WORKER_PROCESSES": "1", **env}
        super().__init__(domainbatch_argv(*args), env=env, log=logdir / f"{name}.log")
        self.name = name
        self.args = args
        self.peak_rss_mb: float | None = None
        self._relayed = False

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
            if await self.wait(self.stop_seconds()) is None:
                # Its last lines and its threads' stacks say where the stop hung.
                log.warning(
                    "%s did not stop on SIGTERM: killing it; its last lines:\n%s\n%s",
                    self.name,
                    self.tail(12),
                    await asyncio.to_thread(stacks, self.pid),
                )
                kill(self.proc)
        self.relay_problems()
        return self.proc.returncode

    def stop_seconds(self) -> float:
        """How long a stop may take: the worker's grace period for its domains in flight, then
        its last flush and exit (waiting less would kill a worker keeping its contract)."""
        grace = self.env.get("DOMAINBATCH_SHUTDOWN_GRACE_SECONDS")
        default = Settings.model_fields["shutdown_grace_seconds"].default
        return (float(grace) if grace else default) + EXIT_MARGIN_SECONDS

    def relay_problems(self) -> None:
        """The child's WARNING and ERROR lines, and a count of its tracebacks, into this
        script's log at their level (once), so the report's warnings and errors list them."""
        if self._relayed:
            return
        self._relayed = True
        tracebacks = 0
        for line in self.output().splitlines():
            if line.startswith("Traceback (most recent call last)"):
                tracebacks += 1
            elif m := PROBLEM.match(line):
                level = logging.ERROR if m["level"] != "WARNING" else logging.WARNING
                log.log(level, "%s: %s", self.name, m["rest"])
        if tracebacks:
            log.error("%s: logged %d traceback(s) (see its log)", self.name, tracebacks)


@contextlib.asynccontextmanager
async def started(child: Child) -> AsyncIterator[Child]:
    """The child, started; stopped on the way out (its last lines logged after a failure)."""
    child.start()
    try:
        yield child
    except BaseException:
        log.warning("%s log (last lines):\n%s", child.name, child.tail())
        raise
    finally:
        await child.shut_down()


def stacks(pid: int) -> str:
    """Every thread's Python stack in the process and its children (py-spy), or why not."""
    try:
        dump = subprocess.run(
            ["py-spy", "dump", "--subprocesses", "--pid", str(pid)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(no stacks: py-spy: {exc})"
    return dump.stdout or f"(no stacks: py-spy: {dump.stderr.strip()})"


async def wait_ready(base: str, server: Child) -> None:
    """Until ``/readyz`` answers 200 (60 s at most); ``CheckFailed`` if the server exits."""
    try:
        await asyncio.to_thread(wait_for_url, f"{base}/readyz", timeout=60, process=server.proc)
    except RuntimeError:
        raise CheckFailed(f"the API server is running: it exited:\n{server.tail()}") from None
    except TimeoutError as exc:
        raise CheckFailed(f"the API server is ready within 60 s: {exc}\n{server.tail()}") from None


def check_clean_exit(child: Child, codes: tuple[int, ...] = (0, -signal.SIGTERM)) -> None:
    """After ``shut_down``: an expected exit status (uvicorn re-raises the SIGTERM it handled
    once it has shut down gracefully) and no traceback in the log."""
    code = child.proc.returncode if child.proc else None
    check(code in codes, f"{child.name} shuts down cleanly", f"exit {code}")
    no_traceback(child)


def no_traceback(child: Child) -> None:
    check("Traceback" not in child.output(), f"{child.name} logged no traceback", child.tail(20))
