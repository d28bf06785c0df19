"""Sampling the headroom signals the concurrency level follows (engine/concurrency.py): the
event loop's lag, the machine's CPU, memory and this process's file descriptors. Linux's /proc
gives the last three; where a file is missing (another system) that signal is skipped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import time
from pathlib import Path

from domainbatch.engine.concurrency import Signals

log = logging.getLogger("domainbatch.worker")

PROC = Path("/proc")
LAG_TICK = 0.02  # seconds between the lag probe's wake-ups: 50 samples a second


def raise_fd_limit() -> None:
    """Lift the soft RLIMIT_NOFILE to the hard limit: a thousand domains in flight hold a
    thousand sockets or more, past the common soft limit of 1,024."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            log.debug("open files limit raised from %d to %d", soft, hard)
    except (OSError, ValueError) as exc:
        log.debug("open files limit left as it is: %s", exc)


class LoopLag:
    """How late a periodic sleep on the running loop wakes: a busy loop delays every callback,
    the domains' I/O included."""

    def __init__(self) -> None:
        self._samples: list[float] = []

    async def run(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(LAG_TICK)
            self._samples.append(max(0.0, time.monotonic() - began - LAG_TICK))

    def take(self) -> float | None:
        """The p95 lag since the last take (None: no sample yet)."""
        samples, self._samples = sorted(self._samples), []
        if not samples:
            return None
        return samples[min(len(samples) - 1, int(len(samples) * 0.95))]


class CpuMeter:
    """The machine's busy fraction between two reads of /proc/stat: every process, so the
    extraction processes on the other cores count as well as the worker."""

    def __init__(self) -> None:
        self._last = self._times()

    @staticmethod
    def _times() -> tuple[int, int] | None:
        """(busy, total) jiffies since boot."""
        try:
            fields = (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
            ticks = [int(value) for value in fields]
        except (OSError, ValueError):
            return None
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        # guest and guest_nice (9, 10) are already counted in user and nice.
        total = sum(ticks[:8])
        return total - idle, total

    def take(self) -> float | None:
        now = self._times()
        last, self._last = self._last, now
        if now is None or last is None or now[1] <= last[1]:
            return None
        return (now[0] - last[0]) / (now[1] - last[1])


def _meminfo() -> tuple[int | None, int | None]:
    """(MemAvailable, MemTotal) in bytes."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in (PROC / "meminfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("MemAvailable", "MemTotal"):
                found[name] = int(value.split()[0]) * 1024
    return found.get("MemAvailable"), found.get("MemTotal")


def _rss() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pages = int((PROC / "self" / "statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    return None


def _fds() -> tuple[int | None, int | None]:
    """(open descriptors, soft limit)."""
    try:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        opened = len(os.listdir(PROC / "self" / "fd"))
    except (OSError, ValueError):
        return None, None
    return opened, None if soft == resource.RLIM_INFINITY else soft


class Headroom:
    """One interval's signals; ``lag.run()`` must run on the worker's loop meanwhile."""

    def __init__(self) -> None:
        self.lag = LoopLag()
        self.cpu = CpuMeter()

    def sample(self, *, demand: bool) -> Signals:
        available, total = _meminfo()
        opened, limit = _fds()
        return Signals(
            demand=demand,
            loop_lag=self.lag.take(),
            cpu_busy=self.cpu.take(),
            memory_available=available,
            memory_total=total,
            rss=_rss(),
            fds_open=opened,
            fds_limit=limit,
        )
