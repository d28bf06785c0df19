"""Request and response bodies of API v1 (they are also the OpenAPI document's schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domainbatch.core.status import BatchStatus, DomainStatus


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


class Batch(BaseModel):
    id: str
    status: BatchStatus
    processor: str
    options: dict[str, Any]
    total: int
    invalid: int
    duplicates: int
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    webhook_url: str | None


class BatchDetail(Batch):
    done: int
    progress: float = Field(description="done / total × 100, rounded down to 0.01")
    counts: dict[str, int] = Field(description="Domains by status")
    errors: dict[str, int] = Field(description="Failed domains by error code")
    duration_seconds: float | None
    rate_per_second: float | None
    eta_seconds: float | None


class BatchList(BaseModel):
    items: list[Batch]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class Domain(BaseModel):
    id: int
    domain: str | None
    display: str | None
    input: str | None
    status: DomainStatus
    attempts: int
    error_code: str | None
    error_message: str | None
    started_at: float | None
    finished_at: float | None
    result: dict[str, Any] | None


class DomainList(BaseModel):
    items: list[Domain]
    next_cursor: str | None


class BatchAction(BaseModel):
    id: str
    status: BatchStatus = Field(description="The batch's status after the action")
    affected: int = Field(description="Domains cancelled or re-queued")


class Health(BaseModel):
    status: str
