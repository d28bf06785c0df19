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


def _process_ticks(pid: str) -> int:
    """A process's CPU ticks (user and system, its reaped children's included); 0 if gone."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:
        return 0
    fields = text[text.rfind(")") + 2 :].split()  # after the command name, which may hold ")"
    return sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime


def _tree_ticks(root: str) -> int:
    """CPU ticks of ``root`` ("self" or a pid) and every process under it: the extraction
    processes, and for the first process of ``worker -P N`` its sibling worker processes and
    theirs."""
    total, pending, seen = 0, [root], set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _process_ticks(pid)
        with contextlib.suppress(OSError):
            for task in (PROC / pid / "task").iterdir():
                with contextlib.suppress(OSError):
                    pending.extend((task / "children").read_text().split())
    return total


class CpuMeter:
    """The machine's busy fraction between two reads of /proc/stat: every process, so the
    extraction processes on the other cores count as well as the worker; and the share of the
    machine the worker's own processes used (ticks of the same clock): the process tree under
    ``root``, the first process of the command's worker processes (``worker -P N``), so each
    of N processes sees the whole command's work as its own, not 1/N of it."""

    def __init__(self, root: str = "self") -> None:
        self._root = root
        self._last = self._times()
        self._own = _tree_ticks(root)

    @staticmethod
    def _times() -> tuple[int, int] | None:
        """(busy, total) jiffies since boot, over every core."""
        try:
            fields = (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
            ticks = [int(value) for value in fields]
        except (OSError, ValueError):
            return None
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        # guest and guest_nice (9, 10) are already counted in user and nice.
        total = sum(ticks[:8])
        return total - idle, total

    def take(self) -> tuple[float | None, float | None]:
        """(machine busy, own share), each 0..1."""
        now, own = self._times(), _tree_ticks(self._root)
        (last, self._last), (last_own, self._own) = (self._last, now), (self._own, own)
        if now is None or last is None or now[1] <= last[1]:
            return None, None
        total = now[1] - last[1]
        return (now[0] - last[0]) / total, min(1.0, max(0, own - last_own) / total)


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

    def __init__(self, cpu_root: str = "self") -> None:
        self.lag = LoopLag()
        self.cpu = CpuMeter(cpu_root)

    def sample(self, *, demand: bool) -> Signals:
        available, total = _meminfo()
        opened, limit = _fds()
        busy, own = self.cpu.take()
        return Signals(
            demand=demand,
            loop_lag=self.lag.take(),
            cpu_busy=busy,
            cpu_own=own,
            memory_available=available,
            memory_total=total,
            rss=_rss(),
            fds_open=opened,
            fds_limit=limit,
        )
