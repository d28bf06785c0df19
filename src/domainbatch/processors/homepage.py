"""The ``homepage`` processor (SPEC "Processing a domain"): resolve -> fetch -> extract -> record.

One ``Fetcher`` (one aiohttp session, one connection pool, one DNS cache) serves every domain a
worker processes; ``build`` opens it and closes it on exit.

Per-batch options (all optional; anything else is refused):

- ``default_region``: ISO 3166 region for phone numbers without a country code (setting
  ``default_region``).
- ``user_agent``: the User-Agent for this batch (setting ``user_agent``).
- ``total_timeout``, ``max_body_bytes``, ``max_redirects``: may only tighten the settings of the
  same name, never loosen them: the operator's bounds protect the worker, not the batch.
"""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from domainbatch.errors import ConfigurationError
from domainbatch.fetching.facts import FetchTimer, headers_of_interest
from domainbatch.fetching.http import Fetcher, FetchLimits
from domainbatch.processors.extraction import Extraction, default_processes
from domainbatch.processors.registry import Processor
from domainbatch.settings import Settings

OPTION_NAMES = frozenset(
    {"default_region", "user_agent", "total_timeout", "max_body_bytes", "max_redirects"}
)
MAX_USER_AGENT = 512


@dataclass(frozen=True)
class HomepageOptions:
    limits: FetchLimits
    default_region: str


def parse_options(options: Mapping[str, Any], settings: Settings) -> HomepageOptions:
    """Validate a batch's options against the settings; ``ConfigurationError`` when invalid.

    The API and CLI can call this when a batch is submitted, to refuse bad options up front.
    """
    unknown = set(options) - OPTION_NAMES
    if unknown:
        raise ConfigurationError(
            f"unknown homepage option(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(OPTION_NAMES))}"
        )
    base = FetchLimits.from_settings(settings)
    region = options.get("default_region", settings.default_region)
    if not (isinstance(region, str) and len(region) == 2 and region.isalpha()):
        raise ConfigurationError(f"default_region must be a 2-letter region code, got {region!r}")
    user_agent = options.get("user_agent", base.user_agent)
    if not (isinstance(user_agent, str) and 0 < len(user_agent) <= MAX_USER_AGENT):
        raise ConfigurationError(f"user_agent must be a string of 1-{MAX_USER_AGENT} characters")
    if any(ch in user_agent for ch in "\r\n"):
        raise ConfigurationError("user_agent must not contain line breaks")
    limits = FetchLimits(
        total_timeout=_tighten(options, "total_timeout", base.total_timeout, minimum=0.001),
        max_body_bytes=int(_tighten(options, "max_body_bytes", base.max_body_bytes, minimum=1)),
        max_redirects=int(_tighten(options, "max_redirects", base.max_redirects, minimum=0)),
        user_agent=user_agent,
    )
    return HomepageOptions(limits=limits, default_region=region.upper())


def _tighten(options: Mapping[str, Any], name: str, ceiling: float, *, minimum: float) -> float:
    if name not in options:
        return ceiling
    value = options[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum:g}, got {value!r}")
    return min(float(value), ceiling)


@asynccontextmanager
async def build(
    settings: Settings,
    *,
    ssl_context: ssl.SSLContext | None = None,
    ca_file: str | None = None,
) -> AsyncIterator[Processor]:
    """The processor factory. ``ssl_context``/``ca_file`` add trust (a private or test CA)."""
    processes = settings.extract_processes
    extraction = Extraction(default_processes() if processes is None else processes)
    async with Fetcher(settings, ssl_context=ssl_context, ca_file=ca_file) as fetcher:
        last: tuple[Mapping[str, Any], HomepageOptions] | None = None

        async def process(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
            nonlocal last
            # A worker passes the same options object for a whole batch: parse it once.
            if last is None or last[0] is not options:
                last = (options, parse_options(options, settings))
            parsed = last[1]
            started = time.perf_counter()
            answer = await fetcher.resolver.lookup(domain, want_mx=True)
            # Step 1 of the SPEC: refuse a domain whose every address is blocked, before any
            # connection; aiohttp's connect re-checks each address it actually uses.
            fetcher.resolver.allowed_addresses(domain, answer.addresses)
            dns_seconds = time.perf_counter() - started
            timer = FetchTimer()
            fetched = await fetcher.fetch(domain, limits=parsed.limits, timer=timer)
            extracted, extract_seconds = await extraction.run(
                fetched.final_url, fetched.headers, fetched.body, parsed.default_region
            )
            done = time.perf_counter()
            timings = dict(fetched.timings)
            timings["dns_ms"] = round((dns_seconds + timer.dns) * 1000, 2)
            timings["extract_ms"] = round(extract_seconds * 1000, 2)
            timings["total_ms"] = round((done - started) * 1000, 2)
            return {
                "url": fetched.url,
                "final_url": fetched.final_url,
                "status_code": fetched.status,
                "redirects": fetched.redirects,
                "https_error": fetched.https_error,
                "timings": timings,
                "headers": headers_of_interest(fetched.headers),
                "content_type": fetched.content_type,
                "body_bytes": len(fetched.body),
                "tls": fetched.tls,
                "addresses": answer.addresses,
                "remote_address": fetched.remote_address,
                "mx": answer.mx,
                # A null MX ("0 .", RFC 7505) says the domain accepts no mail at all.
                "accepts_mail": any(answer.mx),
                "extracted": extracted,
            }

        try:
            yield process
        finally:
            await extraction.close()
