"""Processors for tests, loaded by dotted path (``tests.support.processors:NAME``).

Their behaviour depends only on the domain name, so every worker process agrees:
``fail-*`` fails for good, ``flaky-*`` fails transiently on its first attempt (recorded in a
file per domain), ``boom-*`` raises a bug, ``slow-*`` sleeps, anything else succeeds.
Negative tests of the validation scripts use broken deployments: ``exploding`` raises a bug on
every domain; ``insecure`` is the homepage processor with certificate verification off;
``leaky`` is the homepage processor keeping memory at a steady rate (a leaking worker).
``hostile`` exits, interrupts or quotes the settings: the trust-boundary tests.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from domainbatch.errors import DomainProcessingError
from domainbatch.processors.homepage import HomepageOptions
from domainbatch.processors.homepage import build as homepage
from domainbatch.processors.registry import Processor, declare_options
from domainbatch.settings import Settings


async def behave(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
    log = os.environ.get("DOMAINBATCH_TEST_PROCESSED_LOG")
    if log:
        # One line per attempt as it starts, appended atomically: tests count double processing.
        with open(log, "a") as handle:  # noqa: ASYNC230 - one tiny append, tests only
            handle.write(f"{os.getpid()} {domain}\n")
    delay = float(options.get("delay", 0))
    if delay:
        await asyncio.sleep(delay)
    if domain.startswith("fail-"):
        raise DomainProcessingError("http_status", "HTTP 404 Not Found", transient=False)
    if domain.startswith("flaky-"):
        marker = Path(str(options.get("marker_dir", "/tmp"))) / f"flaky-{domain}"
        if not marker.exists():
            marker.write_text("1")
            raise DomainProcessingError("connect_error", "connection refused")
    if domain.startswith("boom-"):
        raise RuntimeError("a processor bug")
    if domain.startswith("slow-"):
        await asyncio.sleep(float(options.get("slow", 30)))
    return {"domain": domain, "pid": os.getpid()}


class ScriptedOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay: float = 0
    marker_dir: str = "/tmp"
    slow: float = 30


@declare_options(ScriptedOptions)
@asynccontextmanager
async def scripted(settings: Settings) -> AsyncIterator[Processor]:
    yield behave


async def _explode(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
    raise RuntimeError(f"exploding test processor refuses {domain}")


@declare_options(HomepageOptions)  # a broken homepage deployment: it takes the same options
@asynccontextmanager
async def exploding(settings: Settings) -> AsyncIterator[Processor]:
    yield _explode


class LeakyOptions(HomepageOptions):
    leak_mb_per_minute: float = 0


@declare_options(LeakyOptions)
@asynccontextmanager
async def leaky(settings: Settings) -> AsyncIterator[Processor]:
    """The homepage processor, keeping ``leak_mb_per_minute`` MB for every minute since its
    first domain (a steady rate whatever the throughput); the other options are the homepage
    processor's."""
    kept: list[bytes] = []
    held = 0
    started: float | None = None
    last: tuple[Mapping[str, Any], dict[str, Any]] | None = None

    async with homepage(settings) as process:

        async def leak(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
            nonlocal held, started, last
            now = time.monotonic()
            started = now if started is None else started
            owed = int(float(options.get("leak_mb_per_minute", 0)) * 2**20 * (now - started) / 60)
            if owed > held:
                # Written bytes, not bytearray(n): zeroed pages may stay unmapped, off the RSS.
                kept.append(b"\x01" * (owed - held))
                held = owed
            # The same object for a whole batch, as the worker passes it: parsed once by homepage.
            if last is None or last[0] is not options:
                rest = {k: v for k, v in options.items() if k != "leak_mb_per_minute"}
                last = (options, rest)
            return await process(domain, last[1])

        yield leak


@declare_options(HomepageOptions)
@asynccontextmanager
async def insecure(settings: Settings) -> AsyncIterator[Processor]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    async with homepage(settings, ssl_context=context) as process:
        yield process


@asynccontextmanager
async def hostile(settings: Settings) -> AsyncIterator[Processor]:
    """A processor whose code misbehaves the worst ways: ``exit-*`` calls ``sys.exit`` with the
    settings (which would print them), ``interrupt-*`` raises KeyboardInterrupt, ``leak-*``
    raises an error quoting the database URL; anything else succeeds."""

    async def process(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
        if domain.startswith("exit-"):
            sys.exit(settings)  # type: ignore[arg-type]
        if domain.startswith("interrupt-"):
            raise KeyboardInterrupt
        if domain.startswith("leak-"):
            raise RuntimeError(f"cannot reach {settings.database_url!r}")
        return {"domain": domain}

    yield process
