"""Connection slots, and a fetch budget that stands still while a domain waits for one.

A domain's ``TOTAL_TIMEOUT`` (and ``CONNECT_TIMEOUT``) must measure the site, never our own queue.
With ``CONCURRENCY`` above ``HTTP_CONNECTION_LIMIT``, or many domains redirecting to one host
name (``HTTP_LIMIT_PER_HOST``), a request waits for a slot first. While aiohttp's connector held
the limits that wait counted, and hung hosts holding the slots made the healthy domains queued
behind them end ``timeout``: 36 of 40 with 10 hung hosts and a limit of 2, 36 of 40 behind one
host's 2 slots (tests/integration/test_connection_queue.py); 92 of 800 with 500 in flight, a
limit of 100 and 200 hung hosts; 141 of 180 behind one host's 4 slots with 20 hung requests.

So every hop takes its slots here, before aiohttp (whose connector has no limits of its own),
and the domain's budget is paused while it waits; the connect timeout is aiohttp's
``sock_connect``, which starts at the socket, after the slot. Not chosen: sizing aiohttp's pool
to ``CONCURRENCY`` (per-host waits would still count, and ``HTTP_CONNECTION_LIMIT`` is the
operator's bound on open sockets, about 0.3 MiB each with TLS, not ours to widen); pausing the
budget from aiohttp's ``on_connection_queued_*`` traces (aiohttp wakes a waiter of a host
picked at random: measured with 500 in flight, a limit of 100 and 200 hung hosts, the slowest
healthy domain took 3.6-4.0 s against 2.2 s here). These semaphores serve first come, first
served, so a domain waits at most for the fetches ahead of it, each holding a slot no longer
than its own ``TOTAL_TIMEOUT``; ``TASK_TIMEOUT`` stays the backstop over the whole domain.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from yarl import URL

# Host name, port and scheme, as aiohttp keys its pool; not the address: the per-host limit
# spares one site that many domains redirect to (a parking or hosting provider's www host), not
# one server behind many names.
HostKey = tuple[str, int | None, str]


class Budget:
    """A domain's ``TOTAL_TIMEOUT``: the deadline of an entered ``asyncio.timeout`` that stops
    running while the domain waits in our own queue (``paused``)."""

    def __init__(self, deadline: asyncio.Timeout) -> None:
        self._deadline = deadline
        self.waited = 0.0  # seconds spent paused

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        when = self._deadline.when()
        started = loop.time()
        self._deadline.reschedule(None)
        try:
            yield
        finally:
            waited = loop.time() - started
            self.waited += waited
            self._deadline.reschedule(None if when is None else when + waited)


@dataclass
class _Host:
    slots: asyncio.Semaphore
    users: int = 0  # holding or waiting; the entry goes when it drops to zero


@dataclass
class ConnectionSlots:
    """At most ``limit`` requests at once, and ``per_host`` to one host key (0: no such limit),
    each hop holding its slots from before it connects until its response is released."""

    limit: int
    per_host: int
    _all: asyncio.Semaphore = field(init=False)
    _hosts: dict[HostKey, _Host] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._all = asyncio.Semaphore(self.limit)

    @asynccontextmanager
    async def hold(self, url: URL, budget: Budget) -> AsyncIterator[float]:
        """Hold a slot for one request to ``url``; yields the seconds waited for it, which
        ``budget`` did not count. The host's slot first: a domain waiting for a busy host then
        leaves the shared slots to the others."""
        before = budget.waited
        if not self.per_host:
            async with _held(self._all, budget):
                yield budget.waited - before
            return
        key = ((url.raw_host or "").lower(), url.port, url.scheme)
        host = self._hosts.setdefault(key, _Host(asyncio.Semaphore(self.per_host)))
        host.users += 1
        try:
            async with _held(host.slots, budget), _held(self._all, budget):
                yield budget.waited - before
        finally:
            host.users -= 1
            if not host.users:
                del self._hosts[key]


@asynccontextmanager
async def _held(semaphore: asyncio.Semaphore, budget: Budget) -> AsyncIterator[None]:
    async with budget.paused():
        await semaphore.acquire()
    try:
        yield
    finally:
        semaphore.release()
