"""Crawler etiquette through the ``homepage`` processor against a real local server: at most
``HTTP_LIMIT_PER_HOST`` connections at once to one host, and a User-Agent that names the
project and the operator's contact."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from domainbatch.core.identity import project
from domainbatch.processors.homepage import build
from tests.support.servers import HOST, free_port
from tests.testweb import TestWeb
from tests.testweb.fixtures import loopback_only, testweb

pytestmark = pytest.mark.usefixtures("loopback_only")
__all__ = ["loopback_only", "testweb"]  # fixtures, imported for pytest

HUB = "hub.test"  # the one host every domain redirects to, like a parking provider's


@dataclass
class Recorder:
    """Requests in flight per Host (each on its own connection: the fetcher never reuses one),
    their peak, and the User-Agents seen."""

    port: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    user_agents: set[str] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = request.host.split(":")[0]
        self.user_agents.add(request.headers.get("User-Agent", ""))
        if host != HUB:
            raise web.HTTPFound(f"http://{HUB}:{self.port}/")
        self.in_flight[host] += 1
        self.peak[host] = max(self.peak[host], self.in_flight[host])
        try:
            await asyncio.sleep(0.15)  # long enough for every fetch to be waiting at once
            return web.Response(text="<title>Parked</title>", content_type="text/html")
        finally:
            self.in_flight[host] -= 1


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder(port=free_port())
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, rec.port).start()
    try:
        yield rec
    finally:
        await runner.cleanup()


async def crawl(web_: TestWeb, rec: Recorder, domains: list[str], **settings: Any) -> None:
    # https aims at a closed port: refused, so each domain falls back to http (our server).
    config = web_.settings(
        http_port=rec.port, https_port=free_port(), extract_processes=0, **settings
    )
    async with build(config) as processor:
        records = await asyncio.gather(*(processor(domain, {}) for domain in domains))
    assert all(r["final_url"] == f"http://{HUB}:{rec.port}/" for r in records)


DOMAINS = [f"parked{i}.test" for i in range(12)]


async def test_connections_to_one_host_are_limited(testweb: TestWeb, recorder: Recorder) -> None:
    await crawl(testweb, recorder, DOMAINS)  # the default: 4
    assert recorder.peak[HUB] == 4


async def test_the_limit_is_a_setting(testweb: TestWeb, recorder: Recorder) -> None:
    await crawl(testweb, recorder, DOMAINS, http_limit_per_host=2)
    assert recorder.peak[HUB] == 2


async def test_zero_means_no_per_host_limit(testweb: TestWeb, recorder: Recorder) -> None:
    # the control: without the limit the same crawl opens one connection per domain at once
    await crawl(testweb, recorder, DOMAINS, http_limit_per_host=0)
    assert recorder.peak[HUB] == len(DOMAINS)


async def test_user_agent_names_the_project_and_the_contact(
    testweb: TestWeb, recorder: Recorder
) -> None:
    version, homepage = project()
    await crawl(testweb, recorder, DOMAINS[:1], contact="crawl-ops@example.test")
    (sent,) = recorder.user_agents
    details = "; ".join([*([f"+{homepage}"] if homepage else []), "crawl-ops@example.test"])
    assert sent == f"domainbatch/{version} ({details})"
    assert re.fullmatch(r"domainbatch/\d+\.\d+\.\d+\S* \(.*\)", sent)
    recorder.user_agents.clear()
    await crawl(testweb, recorder, DOMAINS[:1], user_agent="AcmeAudit/1.0")
    assert recorder.user_agents == {"AcmeAudit/1.0"}
