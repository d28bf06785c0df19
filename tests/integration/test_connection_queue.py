"""A domain's timeouts measure the site, never the worker's own connection queue.

Through the ``homepage`` processor against a real local server: hung hosts hold every
connection slot (``HTTP_CONNECTION_LIMIT``) or every slot of one host that many domains redirect
to (``HTTP_LIMIT_PER_HOST``) until their own ``TOTAL_TIMEOUT``; the healthy domains queued behind
them must still succeed, and the hung ones still end ``timeout``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from domainbatch.errors import DomainProcessingError
from domainbatch.processors.homepage import build
from tests.support.servers import HOST, free_port
from tests.testweb import TestWeb
from tests.testweb.fixtures import loopback_only, testweb

pytestmark = pytest.mark.usefixtures("loopback_only")
__all__ = ["loopback_only", "testweb"]  # fixtures, imported for pytest

TIMEOUT = 0.4  # TOTAL_TIMEOUT: each hung host holds its slot this long
HUB = "hub.test"  # the one host the parked domains redirect to, like a parking provider's
HUNG, HEALTHY = 10, 40

Outcome = dict[str, Any] | DomainProcessingError


@dataclass
class Site:
    """Plain HTTP for every ``*.test`` name: names starting with ``hung`` never answer, the
    rest answer at once; ``*.parked.test`` redirect to the hub (``/hung`` for hung names).
    Counts the requests in flight (each on its own connection: the fetcher reuses none)."""

    port: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host.split(":")[0]
        hung = host.startswith("hung")
        if host.endswith(".parked.test"):
            raise web.HTTPFound(f"http://{HUB}:{self.port}/{'hung' if hung else ''}")
        for key in (host, "*"):
            self.in_flight[key] += 1
            self.peak[key] = max(self.peak[key], self.in_flight[key])
        try:
            if hung or request.path == "/hung":
                await asyncio.Event().wait()  # until the client gives up and disconnects
            return web.Response(text="<title>Up</title>", content_type="text/html")
        finally:
            for key in (host, "*"):
                self.in_flight[key] -= 1


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    served = Site(port=free_port())
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", served.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, HOST, served.port).start()
    try:
        yield served
    finally:
        await runner.cleanup()


def mixed(suffix: str) -> list[str]:
    """Every fifth domain hung, as they come in a real batch."""
    healthy = iter(range(HEALTHY))
    return [
        f"hung{i // 5}{suffix}" if i % 5 == 0 else f"up{next(healthy)}{suffix}"
        for i in range(HUNG + HEALTHY)
    ]


async def crawl(
    web_: TestWeb, site: Site, domains: list[str], **settings: Any
) -> dict[str, Outcome]:
    # https aims at a closed port: refused, so each domain falls back to http (the site).
    config = web_.settings(
        http_port=site.port,
        https_port=free_port(),
        total_timeout=TIMEOUT,
        extract_processes=0,
        **settings,
    )
    async with build(config) as processor:

        async def one(domain: str) -> Outcome:
            try:
                return await processor(domain, {})
            except DomainProcessingError as error:
                return error

        outcomes = await asyncio.gather(*(one(domain) for domain in domains))
    return dict(zip(domains, outcomes, strict=True))


def check_outcomes(outcomes: dict[str, Outcome]) -> None:
    healthy = {d: o for d, o in outcomes.items() if d.startswith("up")}
    failed = Counter(o.code for o in healthy.values() if isinstance(o, DomainProcessingError))
    assert not failed, f"{failed.total()} of {len(healthy)} healthy domains failed: {failed}"
    hung = Counter(
        o.code if isinstance(o, DomainProcessingError) else "ok"
        for d, o in outcomes.items()
        if d.startswith("hung")
    )
    assert hung == {"timeout": HUNG}
    records = [o for o in healthy.values() if not isinstance(o, DomainProcessingError)]
    # The queue was real: a healthy domain waited longer than its own timeout, and succeeded;
    # its fetch timings are the site's, without the wait.
    assert max(r["timings"]["total_ms"] for r in records) > TIMEOUT * 1000
    assert max(r["timings"]["fetch_ms"] for r in records) < TIMEOUT * 1000


async def test_hung_hosts_holding_every_connection_slot(testweb: TestWeb, site: Site) -> None:
    started = time.perf_counter()
    outcomes = await crawl(testweb, site, mixed(".test"), http_connection_limit=2)
    elapsed = time.perf_counter() - started
    check_outcomes(outcomes)
    assert site.peak["*"] == 2  # the limit still holds
    # Bounded: the queue drains as the hung hosts' own timeouts end (5 rounds of TIMEOUT).
    assert elapsed < HUNG / 2 * TIMEOUT * 3


async def test_hung_requests_holding_every_slot_of_one_host(testweb: TestWeb, site: Site) -> None:
    started = time.perf_counter()
    outcomes = await crawl(testweb, site, mixed(".parked.test"), http_limit_per_host=2)
    elapsed = time.perf_counter() - started
    check_outcomes(outcomes)
    assert site.peak[HUB] == 2
    assert elapsed < HUNG / 2 * TIMEOUT * 3
