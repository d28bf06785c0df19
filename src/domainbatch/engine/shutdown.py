"""How a worker's domains in flight end when it stops: they finish within the grace period
(``SHUTDOWN_GRACE_SECONDS``), or are cancelled and handed back for the worker to release.

A stop that waits says what it waits for, and one that runs out of grace names the domains it
gave up and where each one was waiting (a fetch, a DNS lookup, an extraction process), so a slow
or stuck stop can be explained from the log alone.
"""

from __future__ import annotations

import asyncio
import logging
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

from domainbatch.core.queue import Claimed

log = logging.getLogger("domainbatch.worker")

NAMED = 5  # domains named in the warning; the rest are counted
_PACKAGE = f"{Path(__file__).resolve().parents[1]}/"  # src/domainbatch: our own code
_LIBRARIES = tuple(
    f"{path}/" for path in {sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")}
)


async def settle(
    inflight: Mapping[asyncio.Task[None], Claimed],
    grace: float,
    hurry: asyncio.Event,
    worker_id: str,
) -> list[Claimed]:
    """Wait for the domains in flight until they all finish, ``grace`` seconds pass or
    ``hurry`` is set; cancel the others and return their claims, to be released."""
    tasks = list(inflight)
    if not tasks:
        return []
    finished = asyncio.ensure_future(asyncio.wait(tasks))
    hurried = asyncio.ensure_future(hurry.wait())
    await asyncio.wait({finished, hurried}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
    for waiter in (finished, hurried):
        waiter.cancel()
    pending = [task for task in tasks if not task.done()]
    if not pending:
        return []
    claims = [inflight[task] for task in pending if task in inflight]
    if grace > 0 and not hurry.is_set():  # not as asked (a second signal, no grace at all)
        log.warning(
            "worker %s: %d domains still in flight after the %g s grace period are released "
            "for another worker: %s",
            worker_id,
            len(pending),
            grace,
            describe(pending, inflight),
        )
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return claims


def describe(
    tasks: Sequence[asyncio.Task[None]], inflight: Mapping[asyncio.Task[None], Claimed]
) -> str:
    """``a.test (in Fetcher._send), b.test (in Extraction._in_process), +3 more``."""
    named = [
        f"{inflight[task].domain} (in {waiting_in(task)})"
        for task in tasks[:NAMED]
        if task in inflight
    ]
    more = len(tasks) - NAMED
    return ", ".join(named + ([f"+{more} more"] if more > 0 else []))


def waiting_in(task: asyncio.Task[None]) -> str:
    """Where the task is suspended: the innermost coroutine on its chain of awaits that is
    ours or a processor's (not the standard library's or another installed library's), by its
    qualified name."""
    coro: object = task.get_coro()
    found = innermost = None
    while coro is not None:
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is None:
            break  # a Future, an async generator's step: the chain ends here
        innermost = code.co_qualname
        if code.co_filename.startswith(_PACKAGE) or not code.co_filename.startswith(_LIBRARIES):
            found = innermost
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return found or innermost or "?"
