"""The ``dns`` processor: resolves A/AAAA (and MX) so the pipeline does real, cheap work."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from domainbatch.fetching.resolver import Resolver
from domainbatch.processors.registry import NoOptions, Processor, declare_options
from domainbatch.settings import Settings


@declare_options(NoOptions)
@asynccontextmanager
async def build(settings: Settings) -> AsyncIterator[Processor]:
    resolver = Resolver.from_settings(settings)

    async def process(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        answer = await resolver.resolve(domain)
        return {
            "addresses": answer.addresses,
            "mx": answer.mx,
            "accepts_mail": any(answer.mx),  # a null MX ("0 .") is [""]
            "timings": {"dns_ms": round((time.perf_counter() - started) * 1000, 2)},
        }

    yield process
