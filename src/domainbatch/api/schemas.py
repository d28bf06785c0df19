"""Request and response bodies of API v1 (they are also the OpenAPI document's schemas)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Annotated, Any, get_args, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from domainbatch.api.homepage_result import StoredResult
from domainbatch.core import queue
from domainbatch.core.models import (
    BatchRecord,
    BatchReport,
    DomainRecord,
    Model,
    Page,
    time_fields,
)
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
    deadline: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Seconds from the batch's start after which every domain not yet finished"
        " fails with deadline_exceeded; default: none",
    )


# A time as ``Model.as_dict`` writes it (``core.humanize.rfc3339``): the text passes through
# unchanged, so the API's bytes are the CLI's and the exports'.
Timestamp = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 in UTC, to the millisecond",
            "examples": ["2026-11-30T14:58:22.123Z"],
        }
    ),
]


class InvalidEntry(BaseModel):
    input: str
    reason: str


def derived(
    source: type[Any],
    name: str,
    *item: type[BaseModel],
    typed: Mapping[str, Any] | None = None,
    added: Mapping[str, Any] | None = None,
    **described: str,
) -> type[BaseModel]:
    """The response schema ``name`` with the fields of the read model ``source``: their types
    and the descriptions in their metadata, stated once in ``core.models`` (``described`` adds
    one for this schema only). ``item`` fills a generic model's type parameter (a page's
    items); ``typed`` narrows a field's type for the schema (an enum, a nested schema), and
    ``added`` appends fields only the API has. A time field (``core.models.TIME``) is a
    ``Timestamp``: what ``as_dict()`` makes of the epoch."""
    typed, added = typed or {}, added or {}
    unknown = {*typed, *described} - {f.name for f in dataclasses.fields(source)} - {*added}
    if unknown:  # a renamed field would otherwise lose its type or description unnoticed
        raise TypeError(f"{source.__name__} has no field {', '.join(sorted(unknown))}")
    hints = get_type_hints(source)
    if dataclasses.is_dataclass(source) and issubclass(source, Model):
        for when in time_fields(source):
            hints[when] = Timestamp | None if type(None) in get_args(hints[when]) else Timestamp
    hints.update(typed)
    fields: dict[str, Any] = {}
    for spec in dataclasses.fields(source):
        hint = hints[spec.name]
        if item and getattr(hint, "__parameters__", ()):
            hint = hint[item]
        text = described.get(spec.name, spec.metadata.get("description"))
        fields[spec.name] = (hint, Field(description=text))
    for extra, hint in added.items():
        fields[extra] = (hint, Field(description=described.get(extra)))
    return create_model(name, __module__=__name__, **fields)


CreatedBatch = derived(
    queue.CreatedBatch,
    "CreatedBatch",
    typed={"invalid_entries": list[InvalidEntry]},
    added={"status_url": str},
)


Batch = derived(BatchRecord, "Batch")
BatchDetail = derived(BatchReport, "BatchDetail")
BatchList = derived(Page, "BatchList", Batch, next_cursor="Pass as ?cursor= for the next page")
Domain = derived(
    DomainRecord,
    "Domain",
    typed={"result": StoredResult},
    result="The processor's record: for `homepage`, a HomepageResult; other processors write "
    "objects of their own. Null until the domain succeeded.",
)
DomainList = derived(Page, "DomainList", Domain)


class BatchAction(BaseModel):
    id: str
    status: BatchStatus = Field(description="The batch's status after the action")
    affected: int = Field(description="Domains cancelled or re-queued")


class Health(BaseModel):
    status: str
