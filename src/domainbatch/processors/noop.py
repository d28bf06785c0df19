"""The no-op processor: measures the queue itself (benchmarks, smoke tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from domainbatch.processors.registry import Processor
from domainbatch.settings import Settings


async def _noop(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
    return {"domain": domain}


@asynccontextmanager
async def build(settings: Settings) -> AsyncIterator[Processor]:
    yield _noop
