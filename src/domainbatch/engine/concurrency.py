"""The worker's concurrency level: how many domains it keeps in flight. Pure (no I/O): the
headroom signals come in (sampled by engine/headroom.py), the next level comes out.

On the internet a domain waits on the network almost all of its time (DNS tens of ms, a first
byte 0.25-5 s, hung hosts up to their timeout), so a fixed 32 in flight left 94% of a machine
idle, and 200-500 ran 6x faster (bench/README.md, the internet part). How many a machine can
hold depends on its cores, memory and the mix of sites, so the level is found at run time:
AIMD, as TCP finds a path's bandwidth. While the worker has more work than slots and every
signal shows headroom, the level grows fast but additively (+25% or +16); on pressure it
shrinks multiplicatively (x0.7), so a fleet of workers backs off quickly and settles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GROWTH = 1.25  # per interval with headroom and demand ...
MIN_GROWTH = 16  # ... or at least this many more (a low level climbs in a few seconds)
# Until the first sign of pressure the level doubles per interval instead (TCP's slow start):
# from 16, +25% took 10 s to reach ~300 in flight, a sixth of a 2,000-domain batch's median
# time on the simulated internet.
SLOW_START_GROWTH = 2.0
SHRINK = 0.7  # per interval under pressure

# Event-loop lag: how late a periodic sleep of the worker's loop wakes (p95 of an interval). A
# loop late by more than this has no time to spare for more domains; past the second, the
# ones in flight already wait on it (their timeouts count that wait).
LAG_GROW_BELOW = 0.040
LAG_SHRINK_ABOVE = 0.100
# The machine's busy fraction, extraction processes (on other cores) included. It counts only
# while this worker (with its extraction processes) does at least half of that work: on a host
# busy with other jobs the level would otherwise sit at the floor while its domains only wait
# on the network (measured: a sleeping processor at 16 in flight, 32 domains/s, on a 2-core
# machine kept 100% busy by test runs); what their load does to the worker shows in its loop lag.
CPU_GROW_BELOW = 0.90
CPU_SHRINK_ABOVE = 0.97
CPU_OWN_SHARE = 0.5
# MemAvailable / MemTotal: shrink below this; and never grow into more than half of what is
# available (RSS grows about with the level: pages, parsers and sockets per domain).
MEMORY_SHRINK_BELOW = 0.10
MEMORY_GROWTH_SHARE = 0.5
# Open file descriptors / the soft RLIMIT_NOFILE (a domain holds a socket or two).
FDS_GROW_BELOW = 0.70
FDS_SHRINK_ABOVE = 0.90


@dataclass(frozen=True)
class Signals:
    """One interval's headroom; None: not measurable here (the signal is skipped)."""

    demand: bool  # every slot was taken and the queue had more: a higher level would be used
    loop_lag: float | None = None  # seconds, p95
    cpu_busy: float | None = None  # the machine, 0..1
    cpu_own: float | None = None  # the worker processes of the command and their extraction
    # processes, 0..1 of the machine
    memory_available: int | None = None  # bytes (MemAvailable)
    memory_total: int | None = None  # bytes (MemTotal)
    rss: int | None = None  # the worker's resident bytes
    fds_open: int | None = None
    fds_limit: int | None = None


@dataclass(frozen=True)
class Step:
    level: int
    reason: str


def cpu_bound(signals: Signals, above: float) -> bool:
    """The machine is busier than ``above``, and by this worker's own work."""
    busy = signals.cpu_busy
    if busy is None or busy < above:
        return False
    return signals.cpu_own is None or signals.cpu_own >= busy * CPU_OWN_SHARE


def pressure(signals: Signals) -> str | None:
    """Why the level must come down, or None."""
    if signals.loop_lag is not None and signals.loop_lag > LAG_SHRINK_ABOVE:
        return f"event loop lag {signals.loop_lag * 1000:.0f} ms"
    if cpu_bound(signals, CPU_SHRINK_ABOVE):
        return f"CPU {signals.cpu_busy:.0%} busy"
    if signals.memory_available is not None and signals.memory_total:
        share = signals.memory_available / signals.memory_total
        if share < MEMORY_SHRINK_BELOW:
            return f"memory {share:.0%} available"
    if signals.fds_open is not None and signals.fds_limit:
        use = signals.fds_open / signals.fds_limit
        if use > FDS_SHRINK_ABOVE:
            return f"file descriptors {use:.0%} used"
    return None


def obstacle(signals: Signals, level: int, grown: int) -> str | None:
    """Why the level may not grow to ``grown`` now (it holds), or None."""
    if not signals.demand:
        return "no demand"
    if signals.loop_lag is not None and signals.loop_lag >= LAG_GROW_BELOW:
        return f"event loop lag {signals.loop_lag * 1000:.0f} ms"
    if cpu_bound(signals, CPU_GROW_BELOW):
        return f"CPU {signals.cpu_busy:.0%} busy"
    if signals.rss is not None and signals.memory_available is not None:
        extra = signals.rss * (grown - level) / max(level, 1)
        if extra > signals.memory_available * MEMORY_GROWTH_SHARE:
            return "memory"
    if signals.fds_open is not None and signals.fds_limit:
        projected = signals.fds_open * grown / max(level, 1)  # sockets grow with the level
        if projected >= signals.fds_limit * FDS_GROW_BELOW:
            return "file descriptors"
    return None


def decide(
    level: int, signals: Signals, floor: int, ceiling: int, *, growth: float = GROWTH
) -> Step:
    """The next level from ``level`` and one interval's ``signals``, within floor..ceiling;
    ``growth``: the factor of a step up."""
    level = min(max(level, floor), ceiling)
    why = pressure(signals)
    if why is not None:
        return Step(max(floor, int(level * SHRINK)), why)
    grown = min(ceiling, max(level + MIN_GROWTH, math.ceil(level * growth)))
    held = obstacle(signals, level, grown)
    if held is not None or grown == level:
        return Step(level, held or "at the ceiling")
    return Step(grown, "headroom")


class Concurrency:
    """A worker's level: pinned (``CONCURRENCY`` set: it never moves) or adaptive between a
    floor and a ceiling. Remembers the level last logged, so only changes of 2x or more since
    then make a log line."""

    def __init__(self, floor: int, ceiling: int, *, pinned: int | None = None) -> None:
        self.pinned = pinned is not None
        self.floor = pinned if pinned is not None else min(floor, ceiling)
        self.ceiling = pinned if pinned is not None else ceiling
        # Starting at the floor: a worker on a small machine, or one of many sharing a
        # database, is never above what it can hold; growth reaches 200 in ~9 intervals.
        self.level = self.floor
        self.logged = self.level
        self.slow_start = True  # doubling, until the first interval that does not grow
        self.intervals = 0

    def __str__(self) -> str:
        if self.pinned:
            return f"{self.level} (pinned)"
        return f"adaptive {self.floor}..{self.ceiling}"

    def step(self, signals: Signals) -> Step:
        """Move the level by one interval's signals (a pinned one stays)."""
        if self.pinned:
            return Step(self.level, "pinned")
        growth = SLOW_START_GROWTH if self.slow_start else GROWTH
        step = decide(self.level, signals, self.floor, self.ceiling, growth=growth)
        # Any interval that did not grow ends the slow start, except one without demand (a
        # worker waiting for work has shown nothing about its headroom) and the first: its CPU
        # is the start-up of the worker processes and their extraction processes (measured
        # 98% busy at 16 in flight on 2 cores), which left the first of `-P 2` growing by 25%
        # from 16 while the other doubled to 256.
        self.intervals += 1
        if step.level <= self.level and step.reason != "no demand" and self.intervals > 1:
            self.slow_start = False
        self.level = step.level
        return step

    def notable(self) -> int | None:
        """The level last logged, if the level moved 2x or more since (then the new level
        counts as logged); else None."""
        before = self.logged
        if max(self.level, before) < 2 * min(self.level, before):
            return None
        self.logged = self.level
        return before
