"""A test processor whose results look like the homepage processor's, for the dashboard's
domain card (``tests.support.cards:homepage_like``); outcomes depend only on the domain name.

``fail-*`` fails for good with ``http_status``; ``timeout-*`` with ``timeout``; ``slow-*`` sleeps
(option ``slow``); ``hostile-*`` answers with markup and ``javascript:`` URLs in every field, as
a hostile site would; anything else succeeds with a full homepage-shaped result.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict

from domainbatch.errors import DomainProcessingError
from domainbatch.processors.registry import Processor, declare_options
from domainbatch.settings import Settings

SCRIPT = "<script>document.title='pwned'</script><b>bold</b>"
JS_URL = "javascript:document.title='pwned'"


def homepage_result(domain: str) -> dict[str, Any]:
    """What the homepage processor answers for a small business site at ``domain``."""
    return {
        "url": f"https://{domain}/",
        "final_url": f"https://www.{domain}/en/",
        "status_code": 200,
        "redirects": [f"https://{domain}/", f"https://www.{domain}/"],
        "https_error": None,
        "timings": {"dns_ms": 3.1, "connect_ms": 12.4, "total_ms": 84.2, "extract_ms": 4.0},
        "headers": {"server": "Apache/2.4.41 (Ubuntu)"},
        "content_type": "text/html; charset=utf-8",
        "body_bytes": 48213,
        "tls": {"version": "TLSv1.3", "issuer": "Let's Encrypt"},
        "addresses": ["192.0.2.10", "2001:db8::10"],
        "remote_address": "192.0.2.10",
        "mx": [f"10 mail.{domain}."],
        "accepts_mail": True,
        "extracted": {
            "title": "Maple Ledger — Bookkeeping for Canadian small businesses",
            "description": "Monthly bookkeeping, payroll and GST/HST filing from $199/month.",
            "language": "en-CA",
            "canonical_url": f"https://www.{domain}/en/",
            "favicon_url": f"https://www.{domain}/favicon.ico",
            "emails": [f"hello@{domain}", f"billing@{domain}"],
            "phones": ["+16045550186"],
            "socials": {
                "facebook": ["https://www.facebook.com/mapleledger"],
                "x": [],
                "linkedin": ["https://www.linkedin.com/company/mapleledger"],
                "instagram": [],
            },
            "technologies": [
                {"name": "Apache", "category": "Web server", "version": "2.4.41"},
                {"name": "Cookiebot", "category": "Cookie consent", "version": None},
                {"name": "Google Analytics", "category": "Analytics", "version": "UA"},
                {"name": "Google Tag Manager", "category": "Tag manager", "version": None},
            ],
            "truncated": False,
            "errors": [],
        },
    }


def hostile_result(domain: str) -> dict[str, Any]:
    result = homepage_result(domain)
    result["final_url"] = JS_URL
    result["headers"] = {"server": SCRIPT}
    result["extracted"].update(
        title=SCRIPT,
        description=f'" onmouseover="alert(1)" {SCRIPT}',
        language=SCRIPT,
        canonical_url=JS_URL,
        emails=[f"{SCRIPT}@{domain}", "javascript:alert(1)//@x.test"],
        phones=[f"+1{SCRIPT}"],
        socials={"facebook": [JS_URL, "data:text/html,<script>alert(1)</script>"]},
        technologies=[{"name": SCRIPT, "category": SCRIPT, "version": SCRIPT}],
    )
    return result


class CardOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delay: float = 0
    slow: float = 30


async def answer(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
    delay = float(options.get("delay", 0))
    if delay:
        await asyncio.sleep(delay)
    if domain.startswith("fail-"):
        raise DomainProcessingError("http_status", "HTTP 404 Not Found", transient=False)
    if domain.startswith("timeout-"):
        raise DomainProcessingError("timeout", "no answer in 10 s", transient=False)
    if domain.startswith("slow-"):
        await asyncio.sleep(float(options.get("slow", 30)))
    if domain.startswith("hostile-"):
        return hostile_result(domain)
    return homepage_result(domain)


@declare_options(CardOptions)
@asynccontextmanager
async def homepage_like(settings: Settings) -> AsyncIterator[Processor]:
    yield answer
