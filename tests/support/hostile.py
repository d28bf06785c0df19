"""A processor whose results carry what a hostile site would put in them (``--processor
tests.support.hostile:titles``): every page title is a formula, and ``fail-*`` domains fail
with a formula as their error message. For the CSV export's formula-injection tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from domainbatch.errors import DomainProcessingError
from domainbatch.processors.registry import Processor
from domainbatch.settings import Settings

TITLE = "=1+1"
ERROR = '=HYPERLINK("http://x","error")'
EMAIL = "info@good.test"


async def _hostile(domain: str, options: Mapping[str, Any]) -> dict[str, Any]:
    if domain.startswith("fail-"):
        raise DomainProcessingError("http_status", ERROR, transient=False)
    extracted = {"title": TITLE, "emails": [TITLE, EMAIL]}
    return {"final_url": f"http://{domain}/", "status_code": 200, "extracted": extracted}


@asynccontextmanager
async def titles(settings: Settings) -> AsyncIterator[Processor]:
    yield _hostile
