"""API v1: batches. Every query is scoped to the caller's tenant, so another tenant's batch is
a 404 exactly like one that does not exist."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from domainbatch.api.auth import Service, caller_batches, service
from domainbatch.api.bodies import (
    REQUEST_BODY,
    media_type,
    parse_json,
    parse_options,
    spool_body,
    text_format,
)
from domainbatch.api.errors import documented
from domainbatch.api.events import progress_stream
from domainbatch.api.schemas import (
    Batch,
    BatchAction,
    BatchDetail,
    BatchList,
    CreatedBatch,
    Domain,
    DomainList,
)
from domainbatch.core.inputs import iter_entries
from domainbatch.core.status import BatchStatus, DomainStatus
from domainbatch.errors import InputError
from domainbatch.service import Batches
from domainbatch.service.exports import MEDIA_TYPES

# Routes return ``as_dict()``, the JSON shape every other output uses (RFC 3339 times); the
# response schemas validate it and document it.
router = APIRouter(prefix="/v1", tags=["batches"], responses=documented(401, 503))

BatchId = Annotated[uuid.UUID, "the batch id"]
Mine = Annotated[Batches, Depends(caller_batches)]  # the caller's batches, tenant-scoped
Svc = Annotated[Service, Depends(service)]
# OpenAPI links: a created batch's id feeds every per-batch operation (clients and
# Schemathesis's stateful tests follow them).
LINKS = {
    op: {"operationId": op, "parameters": {"batch_id": "$response.body#/id"}}
    for op in (
        "getBatch",
        "listDomains",
        "exportResults",
        "batchEvents",
        "cancelBatch",
        "retryBatch",
    )
}
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the last page")]


@router.post(
    "/batches",
    operation_id="createBatch",
    summary="Create a batch",
    status_code=201,
    response_model=CreatedBatch,
    responses={201: {"description": "Created", "links": LINKS}, **documented(413, 415, 422)},
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def create_batch(
    request: Request,
    response: Response,
    svc: Svc,
    batches: Mine,
    processor: Annotated[str | None, Query(max_length=200)] = None,
    options: Annotated[str | None, Query(description="JSON object (text/CSV bodies)")] = None,
    webhook_url: Annotated[str | None, Query(max_length=2000)] = None,
    deadline: Annotated[
        float | None,
        Query(gt=0, allow_inf_nan=False, description="Seconds (text/CSV bodies; JSON: deadline)"),
    ] = None,
    column: Annotated[
        str | None,
        Query(
            max_length=200,
            description="CSV bodies: the column holding the domains, a header name (case,"
            " spaces and punctuation ignored) or a 1-based number; default: detected",
        ),
    ] = None,
) -> dict[str, Any]:
    """Create a batch from a JSON object, a text list or a CSV (streamed)."""
    settings = svc.runtime.settings
    kind = media_type(request)
    fmt = None if kind in ("application/json",) else text_format(kind)
    spool = await spool_body(request, settings.max_request_bytes)
    with spool:
        if fmt is None:
            if column:
                raise InputError("column applies to CSV bodies; a JSON body lists its domains")
            body = parse_json(spool)
            entries: Any = body.domains
            if deadline is not None:
                raise InputError("a JSON body gives its deadline in the body, not the query")
            processor, opts, deadline = body.processor, body.options, body.deadline
            hook_url = body.webhook.url if body.webhook else None
            hook_secret = body.webhook.secret if body.webhook else None
        else:
            opts = parse_options(options)
            hook_url, hook_secret = webhook_url, request.headers.get("x-webhook-secret")
            entries = iter_entries(spool, fmt=fmt, column=column or None)
        created = await batches.create(
            entries,
            processor=processor,
            options=opts,
            webhook_url=hook_url,
            webhook_secret=hook_secret,
            deadline=deadline,
        )
    if svc.worker is not None:
        svc.worker.wake()
    status_url = str(request.url_for("get_batch", batch_id=created.id))
    response.headers["Location"] = status_url
    return {**dataclasses.asdict(created), "status_url": status_url}


@router.get(
    "/batches",
    operation_id="listBatches",
    summary="List batches",
    response_model=BatchList,
    responses=documented(422),
)
async def list_batches(
    batches: Mine,
    status: BatchStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """The caller's batches, newest first, a page at a time."""
    return (await batches.page(status=status, limit=limit, cursor=cursor)).as_dict()


@router.get(
    "/batches/{batch_id}",
    operation_id="getBatch",
    summary="Get a batch's status",
    response_model=BatchDetail,
    responses=documented(404, 422),
)
async def get_batch(batch_id: BatchId, batches: Mine) -> dict[str, Any]:
    """Status, counts by domain status, progress, errors by code, timing, rate and ETA."""
    return (await batches.status(str(batch_id))).as_dict()


@router.get(
    "/batches/{batch_id}/domains",
    operation_id="listDomains",
    summary="List a batch's domains",
    response_model=DomainList,
    responses=documented(404, 422),
)
async def list_domains(
    batch_id: BatchId,
    batches: Mine,
    status: DomainStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """A batch's domains in input order, optionally of one status, a page at a time."""
    page = await batches.domains(str(batch_id), status=status, limit=limit, cursor=cursor)
    return page.as_dict()


@router.get(
    "/batches/{batch_id}/domains/{domain_id}",
    operation_id="getDomain",
    summary="Get one domain and its result",
    response_model=Domain,
    responses=documented(404, 422),
)
async def get_batch_domain(
    batch_id: BatchId,
    domain_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The domain's id")],
    batches: Mine,
) -> dict[str, Any]:
    """One domain with its full result."""
    return (await batches.domain(str(batch_id), domain_id)).as_dict()


@router.get(
    "/batches/{batch_id}/results",
    operation_id="exportResults",
    summary="Export a batch's results",
    responses={
        200: {
            "description": "Every domain with its result, streamed",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
        **documented(404, 422),
    },
)
async def export_results(
    request: Request,
    batch_id: BatchId,
    batches: Mine,
    fmt: Annotated[str | None, Query(alias="format", pattern="^(jsonl|csv)$")] = None,
    status: DomainStatus | None = None,
    fields: Annotated[
        str | None, Query(max_length=2000, description="Only these columns, in order: a,b,c")
    ] = None,
    excel: Annotated[
        bool, Query(description="CSV with a UTF-8 byte-order mark, for Excel")
    ] = False,
) -> StreamingResponse:
    """Stream every domain and its result as JSONL (default: the full record) or a flat CSV
    (``?format=csv`` or ``Accept: text/csv``)."""
    fmt = fmt or ("csv" if "text/csv" in request.headers.get("accept", "") else "jsonl")
    # 422 for unknown fields and 404 before streaming, not halfway through.
    export = await batches.export(str(batch_id), fmt, status=status, fields=fields, excel=excel)
    name = f"batch-{batch_id}.{fmt}"
    return StreamingResponse(
        export.chunks(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/batches/{batch_id}/events",
    operation_id="batchEvents",
    summary="Follow a batch's progress (SSE)",
    responses={
        200: {"description": "Server-Sent Events", "content": {"text/event-stream": {}}},
        **documented(404, 422),
    },
)
async def batch_events(batch_id: BatchId, svc: Svc, batches: Mine) -> StreamingResponse:
    """Server-Sent Events: a ``progress`` event (the batch status) about every second, then an
    ``end`` event with the final status when the batch ends."""
    first = await batches.status(str(batch_id))
    interval = svc.runtime.settings.events_interval_seconds
    return StreamingResponse(
        progress_stream(batches, [first], interval),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/batches/{batch_id}/cancel",
    operation_id="cancelBatch",
    summary="Cancel a batch",
    response_model=BatchAction,
    responses=documented(404, 409, 422),
)
async def cancel_batch(batch_id: BatchId, batches: Mine) -> BatchAction:
    """Cancel the batch's pending domains (in-flight ones finish). 409 if it already ended."""
    count = await batches.cancel(str(batch_id))
    return BatchAction(id=str(batch_id), status=BatchStatus.CANCELLED, affected=count)


@router.post(
    "/batches/{batch_id}/retry",
    operation_id="retryBatch",
    summary="Retry a batch's failed domains",
    response_model=BatchAction,
    responses=documented(404, 422),
)
async def retry_batch(batch_id: BatchId, svc: Svc, batches: Mine) -> BatchAction:
    """Re-queue the batch's failed domains with fresh attempts."""
    count = await batches.retry(str(batch_id))
    if svc.worker is not None and count:
        svc.worker.wake()
    status = await batches.status(str(batch_id))
    return BatchAction(id=str(batch_id), status=status.status, affected=count)


__all__ = ["Batch", "router"]
