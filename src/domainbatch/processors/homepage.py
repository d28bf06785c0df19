"""The ``homepage`` processor: resolve -> fetch -> extract -> record.

One ``Fetcher`` (one aiohttp session, one connection pool, one DNS cache) serves every domain a
worker processes; ``build`` opens it and closes it on exit.

Per-batch options (``HomepageOptions``; all optional; anything else is refused at submission):

- ``default_region``: ISO 3166 region for phone numbers without a country code, on every
  page. Without it, each page is read in its own region when it tells one (its country-code
  TLD, language, hreflang alternates, JSON-LD address), else in the setting
  ``default_region``.
- ``user_agent``: the User-Agent for this batch (setting ``user_agent``).
- ``total_timeout``, ``max_body_bytes``, ``max_redirects``: may only tighten the settings of the
  same name, never loosen them: the operator's bounds protect the worker, not the batch.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from domainbatch.extract.wappalyzer import load_table
from domainbatch.fetching.facts import headers_of_interest
from domainbatch.fetching.http import Fetcher, FetchLimits
from domainbatch.processors.extraction import Extraction, default_processes
from domainbatch.processors.registry import Processor, check_options, declare_options
from domainbatch.settings import Settings

MAX_USER_AGENT = 512


class HomepageOptions(BaseModel):
    """The options a batch may give the homepage processor (strict: ``"5"`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    default_region: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = None
    user_agent: (
        Annotated[
            str, StringConstraints(min_length=1, max_length=MAX_USER_AGENT, pattern=r"^[^\r\n]*$")
        ]
        | None
    ) = None
    total_timeout: Annotated[float, Field(ge=0.001, allow_inf_nan=False)] | None = None
    max_body_bytes: Annotated[int, Field(ge=1)] | None = None
    max_redirects: Annotated[int, Field(ge=0)] | None = None

    @field_validator("total_timeout", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # strict floats still accept True
            raise ValueError("must be a number")
        return value


@dataclass(frozen=True)
class BatchLimits:
    """A batch's options applied to the settings: what one fetch may use."""

    limits: FetchLimits
    default_region: str
    infer_region: bool  # no region given: each page's own, ``default_region`` the fallback


def parse_options(options: Mapping[str, Any], settings: Settings) -> BatchLimits:
    """Check a batch's options (``InvalidOptionsError``) and apply them to the settings: they
    may only tighten the bounds, never loosen them."""
    given = check_options("homepage", build, options, settings)
    assert isinstance(given, HomepageOptions)
    base = FetchLimits.from_settings(settings)
    limits = FetchLimits(
        total_timeout=min(given.total_timeout or base.total_timeout, base.total_timeout),
        max_body_bytes=min(given.max_body_bytes or base.max_body_bytes, base.max_body_bytes),
        max_redirects=base.max_redirects
        if given.max_redirects is None
        else min(given.max_redirects, base.max_redirects),
        user_agent=given.user_agent or base.user_agent,
    )
    region = given.default_region or settings.default_region
    return BatchLimits(
        limits=limits, default_region=region.upper(), infer_region=given.default_region is None
    )


@declare_options(HomepageOptions)
@asynccontextmanager
async def build(
    settings: Settings,
    *,
    ssl_context: ssl.SSLContext | None = None,
    ca_file: str | None = None,
) -> AsyncIterator[Processor]:
    """The processor factory. ``ssl_context``/``ca_file`` add trust (a private or test CA)."""
    processes = settings.extract_processes
    fingerprints = str(settings.fingerprints) if settings.fingerprints else None
    if fingerprints:
        # Read here first: a bad database stops the worker before any domain, not each one.
        load_table(fingerprints, settings.fingerprints_mode)
    extraction = Extraction(
        default_processes() if processes is None else processes,
        fingerprints=fingerprints,
        fingerprints_mode=settings.fingerprints_mode,
    )
    async with Fetcher(settings, ssl_context=ssl_context, ca_file=ca_file) as fetcher:
        last: tuple[Mapping[str, Any], BatchLimits] | None = None

        async def process(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
            nonlocal last
            # A worker passes the same options object for a whole batch: parse it once.
            if last is None or last[0] is not options:
                last = (options, parse_options(options, settings))
            parsed = last[1]
            started = time.perf_counter()
            visit = await fetcher.visit(domain, limits=parsed.limits)
            answer, fetched = visit.answer, visit.page
            extracted, extract_seconds = await extraction.run(
                fetched.final_url,
                fetched.headers,
                fetched.body,
                parsed.default_region,
                parsed.infer_region,
            )
            done = time.perf_counter()
            timings = dict(fetched.timings)
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
