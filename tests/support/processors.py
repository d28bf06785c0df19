"""Processors for tests, loaded by dotted path (``tests.support.processors:NAME``).

Their behaviour depends only on the domain name, so every worker process agrees:
``fail-*`` fails for good, ``flaky-*`` fails transiently on its first attempt (recorded in a
file per domain), ``boom-*`` raises a bug, ``slow-*`` sleeps, anything else succeeds.
``exploding`` raises a bug on every domain: a broken deployment, for the validation scripts'
negative tests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from domainbatch.errors import DomainProcessingError
from domainbatch.processors.registry import Processor
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


@asynccontextmanager
async def scripted(settings: Settings) -> AsyncIterator[Processor]:
    yield behave


async def _explode(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
    raise RuntimeError(f"exploding test processor refuses {domain}")


@asynccontextmanager
async def exploding(settings: Settings) -> AsyncIterator[Processor]:
    yield _explode
