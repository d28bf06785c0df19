"""Request and response bodies of API v1 (they are also the OpenAPI document's schemas)."""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from domainbatch.core.models import BatchRecord, BatchReport, DomainRecord, Page
from domainbatch.core.status import BatchStatus


class WebhookSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="http(s) URL that receives batch events")
    secret: str = Field(
        min_length=8,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        repr=False,  # never in a log line
        description="Key of the HMAC-SHA256 body signature (no control characters)",
    )


class CreateBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domains: list[str] = Field(min_length=1, description="Domains or URLs, one entry each")
    processor: str | None = Field(None, max_length=200, description="Default: the server's")
    options: dict[str, Any] = Field(default_factory=dict, description="Processor options")
    webhook: WebhookSpec | None = None


class InvalidEntry(BaseModel):
    input: str
    reason: str


class CreatedBatch(BaseModel):
    id: str
    status: BatchStatus
    total: int = Field(description="Domains stored: valid (deduplicated) and invalid")
    entries: int = Field(description="Entries received")
    invalid: int
    duplicates: int = Field(description="Entries merged into an earlier identical domain")
    invalid_entries: list[InvalidEntry] = Field(description="The first 100 invalid entries")
    status_url: str


def derived(
    source: type[Any], name: str, *item: type[BaseModel], **described: str
) -> type[BaseModel]:
    """The response schema ``name`` with the fields of the read model ``source``: their types
    and the descriptions in their metadata, stated once in ``core.models`` (``described`` adds
    one for this schema only). ``item`` fills a generic model's type parameter (a page's
    items)."""
    hints = get_type_hints(source)
    fields: dict[str, Any] = {}
    for spec in dataclasses.fields(source):
        hint = hints[spec.name]
        if item and getattr(hint, "__parameters__", ()):
            hint = hint[item]
        text = described.get(spec.name, spec.metadata.get("description"))
        fields[spec.name] = (hint, Field(description=text))
    return create_model(name, __module__=__name__, **fields)


Batch = derived(BatchRecord, "Batch")
BatchDetail = derived(BatchReport, "BatchDetail")
BatchList = derived(Page, "BatchList", Batch, next_cursor="Pass as ?cursor= for the next page")
Domain = derived(DomainRecord, "Domain")
DomainList = derived(Page, "DomainList", Domain)


class BatchAction(BaseModel):
    id: str
    status: BatchStatus = Field(description="The batch's status after the action")
    affected: int = Field(description="Domains cancelled or re-queued")


class Health(BaseModel):
    status: str
