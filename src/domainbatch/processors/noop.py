"""The no-op processor: measures the queue itself (benchmarks, smoke tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from domainbatch.processors.registry import NoOptions, Processor, declare_options
from domainbatch.settings import Settings


async def _noop(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
    return {"domain": domain}


@declare_options(NoOptions)
@asynccontextmanager
async def build(settings: Settings) -> AsyncIterator[Processor]:
    yield _noop
